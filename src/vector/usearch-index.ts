import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
// usearch's package.json maps `import` to a real ESM build with named exports, so NodeNext needs
// no createRequire; that module loads the native binary from the package's prebuilds/.
import { Index, MetricKind, ScalarKind, exactSearch } from 'usearch';
import { RiskpipeError } from '../common/errors.js';
import type { Neighbor } from '../models/index.js';
import type { VectorIndex, VectorMeta } from './types.js';
import { checkDim, toNeighbor, type Stored } from './brute-force.js';

export interface UsearchIndexOptions {
  /** HNSW graph degree (edges per node): more means better recall, more memory. Default 16. */
  connectivity?: number;
  /** Candidates kept while inserting: more means a better graph, slower inserts. Default 128. */
  expansionAdd?: number;
  /** Candidates kept while searching: more means better recall, slower searches. Default 64. */
  expansionSearch?: number;
  /**
   * How vectors are stored. "i8" halves build and search time at 100k vectors but rounds the
   * similarities the screener scores with; "f16" saves memory only. Default "f32".
   */
  quantization?: 'f32' | 'f16' | 'i8';
  /**
   * Up to this many vectors, search scans every vector exactly (usearch's SIMD exactSearch)
   * instead of walking the graph. Measured here with hash embeddings: 31 µs at 447 vectors
   * (the graph: 57 µs), 116 µs at 2,000, 609 µs at 10,000 (the graph: 186 µs, but it missed a
   * much closer neighbour for 2% of queries on a bank full of near-duplicates, as spam waves
   * make). Costs one extra copy of the vectors until the index outgrows it. 0 = always the graph.
   * Default 4096.
   */
  exactMaxVectors?: number;
}

/** One vector to add with `addBatch`. */
export interface VectorItem {
  id: string;
  vector: Float32Array;
  meta: VectorMeta;
}

type Quantization = NonNullable<UsearchIndexOptions['quantization']>;
const SCALAR_KIND = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 } as const;

/** What `save()` writes next to the index file, `<path>.meta.json`. */
interface Sidecar {
  format: 1;
  dim: number;
  quantization: Quantization;
  nextKey: string;
  /** [key, id, label, source, text?] per vector: positional to keep big banks small on disk. */
  entries: [string, string, VectorMeta['label'], VectorMeta['source'], string?][];
  /** Rows of the exact-search copy, saved to `<path>.rows.f32` (absent once the graph took over). */
  exactRows?: number;
}

/**
 * The vectors as one flat matrix, for exact search while the index is small. Row r holds the
 * vector of key `keys[r]`, labelled `metas[r]`. Grows by doubling.
 */
class ExactRows {
  rows = 0;
  private data: Float32Array;
  private keys: BigUint64Array;
  /**
   * What each row is, by row number: exactSearch answers with row numbers, and reading them as
   * labels here skips two BigInts and a Map lookup by BigInt key per neighbour.
   */
  metas: Stored[] = [];
  constructor(
    private readonly dim: number,
    initialRows = 64,
  ) {
    this.data = new Float32Array(initialRows * dim);
    this.keys = new BigUint64Array(initialRows);
  }
  push(key: bigint, vector: Float32Array, meta: Stored): void {
    if (this.rows === this.keys.length) this.grow(this.rows * 2);
    this.data.set(vector, this.rows * this.dim);
    this.metas[this.rows] = meta;
    this.keys[this.rows++] = key;
  }
  private grow(rows: number): void {
    const data = new Float32Array(rows * this.dim);
    data.set(this.data);
    const keys = new BigUint64Array(rows);
    keys.set(this.keys);
    this.data = data;
    this.keys = keys;
  }
  /** [key, cosine distance] of the k nearest rows, nearest first. */
  search(query: Float32Array, k: number): { keys: bigint[]; distances: Float32Array } {
    const m = exactSearch(this.data.subarray(0, this.rows * this.dim), query, this.dim, k, MetricKind.Cos, 1);
    // exactSearch answers with row numbers; map them back to index keys.
    return { keys: Array.from(m.keys, (row) => this.keys[Number(row)]), distances: m.distances };
  }
  /**
   * search() of each query in one native call, as neighbours: the per-call overhead is paid once,
   * and each row is read once for all queries instead of once per query. Every (row, query)
   * distance is computed by the same kernel and each query's rows are selected in the same order
   * as alone, so the answers are those of search() one query at a time.
   */
  searchMany(queries: readonly Float32Array[], k: number): Neighbor[][] {
    // A fresh matrix: the native side reads a typed array from the start of its buffer.
    const flat = new Float32Array(queries.length * this.dim);
    for (let q = 0; q < queries.length; q++) flat.set(queries[q], q * this.dim);
    const m = exactSearch(this.data.subarray(0, this.rows * this.dim), flat, this.dim, k, MetricKind.Cos, 1);
    const rows = m.keys;
    const distances = m.distances;
    const out: Neighbor[][] = new Array(queries.length);
    for (let q = 0; q < queries.length; q++) {
      const found: Neighbor[] = new Array(k);
      for (let i = 0; i < k; i++) found[i] = toNeighbor(this.metas[Number(rows[q * k + i])], 1 - distances[q * k + i]);
      out[q] = found;
    }
    return out;
  }
  /** Rows [from, rows) as (keys, flat vectors): what the graph has not been given yet. */
  since(from: number): { keys: BigUint64Array; data: Float32Array } {
    return { keys: this.keys.slice(from, this.rows), data: this.data.slice(from * this.dim, this.rows * this.dim) };
  }
  toBuffer(): Buffer {
    return Buffer.concat([Buffer.from(this.keys.buffer, 0, this.rows * 8), Buffer.from(this.data.buffer, 0, this.rows * this.dim * 4)]);
  }
  static fromBuffer(dim: number, rows: number, buf: Buffer, file: string, metas: ReadonlyMap<bigint, Stored>): ExactRows {
    if (buf.byteLength !== rows * (8 + dim * 4)) throw new RiskpipeError('RP_ERR_CONFIG', `${file} has ${buf.byteLength} bytes, expected ${rows * (8 + dim * 4)}`);
    const r = new ExactRows(dim, Math.max(64, rows));
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    new Uint8Array(r.keys.buffer).set(bytes.subarray(0, rows * 8));
    new Uint8Array(r.data.buffer).set(bytes.subarray(rows * 8, rows * 8 + rows * dim * 4));
    r.rows = rows;
    for (let row = 0; row < rows; row++) {
      const meta = metas.get(r.keys[row]);
      if (!meta) throw new RiskpipeError('RP_ERR_CONFIG', `${file} holds key ${r.keys[row]}, which the sidecar does not label`);
      r.metas[row] = meta;
    }
    return r;
  }
}

/**
 * Approximate cosine kNN (HNSW) on usearch, whose native binary ships inside the npm package,
 * with exact search while the index is small (see `exactMaxVectors`). usearch keys are integers,
 * so string ids map to sequential bigint keys; labels stay in a Map on the JS side. Capacity
 * needs no care: the native add grows it to the next power of two when it is full (amortised
 * doubling).
 */
export class UsearchIndex implements VectorIndex {
  private readonly index: Index;
  private readonly metas = new Map<bigint, Stored>();
  private readonly keys = new Map<string, bigint>();
  private nextKey = 1n;
  private readonly quantization: Quantization;
  private readonly exactMaxVectors: number;
  /** Present while size() <= exactMaxVectors. */
  private exact: ExactRows | undefined;
  /**
   * Rows of `exact` already inserted into the graph. While searches are exact the graph is not
   * kept up to date: inserting one vector into it costs 50–800 µs here (bench/knn-crossover.ts),
   * which every escalation the screener learns would pay for nothing. It is built in one
   * multi-threaded batch when the index outgrows exact search (or is saved).
   */
  private graphRows = 0;

  constructor(
    readonly dim: number,
    opts: UsearchIndexOptions = {},
  ) {
    this.quantization = opts.quantization ?? 'f32';
    this.exactMaxVectors = opts.exactMaxVectors ?? 4096;
    this.exact = this.exactMaxVectors > 0 ? new ExactRows(dim) : undefined;
    this.index = new Index({
      dimensions: dim,
      metric: MetricKind.Cos,
      quantization: SCALAR_KIND[this.quantization],
      connectivity: opts.connectivity ?? 16,
      expansion_add: opts.expansionAdd ?? 128,
      expansion_search: opts.expansionSearch ?? 64,
      multi: false,
    });
  }

  /** Adds one vector; an id already in the index is ignored (ids are unique, the first one stays). */
  add(id: string, vector: Float32Array, meta: VectorMeta): void {
    this.addBatch([{ id, vector, meta }], 1);
  }

  /**
   * Adds many vectors in one native call, inserting on `threads` threads (default 0 = every
   * core): building a big index this way is ~2× faster on two cores than one add() at a time.
   */
  addBatch(items: VectorItem[], threads = 0): void {
    const fresh = this.freshItems(items);
    if (fresh.length === 0) return;
    const keys = new BigUint64Array(fresh.length);
    const flat = new Float32Array(fresh.length * this.dim);
    fresh.forEach((item, i) => {
      keys[i] = this.nextKey + BigInt(i);
      flat.set(item.vector, i * this.dim);
    });
    const lazy = this.exact !== undefined && this.metas.size + fresh.length <= this.exactMaxVectors;
    if (!lazy) {
      this.syncGraph(threads);
      // A single vector is inserted on the calling thread (threads = 1): no thread start-up per add.
      this.index.add(keys, flat, fresh.length === 1 ? 1 : threads);
    }
    fresh.forEach((item, i) => {
      const stored = { ...item.meta, id: item.id };
      this.metas.set(keys[i], stored);
      this.keys.set(item.id, keys[i]);
      this.exact?.push(keys[i], item.vector, stored);
    });
    if (!lazy && this.exact) this.graphRows = this.exact.rows;
    this.nextKey += BigInt(fresh.length);
    // Past the threshold the graph answers alone; the copy is dropped for good (ids only grow).
    if (this.metas.size > this.exactMaxVectors) this.exact = undefined;
  }

  /** Gives the graph the exact rows it has not been given yet (one batch, every core by default). */
  private syncGraph(threads = 0): void {
    if (!this.exact || this.graphRows === this.exact.rows) return;
    const { keys, data } = this.exact.since(this.graphRows);
    this.index.add(keys, data, keys.length === 1 ? 1 : threads);
    this.graphRows = this.exact.rows;
  }

  /** Checks sizes and drops ids already present (or repeated within the batch). */
  private freshItems(items: VectorItem[]): VectorItem[] {
    const seen = new Set<string>();
    return items.filter((item) => {
      checkDim(item.vector, this.dim);
      if (this.keys.has(item.id) || seen.has(item.id)) return false;
      seen.add(item.id);
      return true;
    });
  }

  search(vector: Float32Array, k: number): Neighbor[] {
    checkDim(vector, this.dim);
    const want = Math.min(Math.floor(k), this.metas.size);
    if (want <= 0) return [];
    // One thread: a search takes well under a millisecond and the worker's event loop is the
    // unit of parallelism; threads = 0 measured slower here (thread start-up per call).
    const m = this.exact ? this.exact.search(vector, want) : this.index.search(vector, want, 1);
    return this.neighbors(m.keys, m.distances);
  }

  /** search() of each vector; while the index is exact, all of them in one native call. */
  searchMany(vectors: readonly Float32Array[], k: number): Neighbor[][] {
    for (const v of vectors) checkDim(v, this.dim);
    const want = Math.min(Math.floor(k), this.metas.size);
    if (want <= 0) return vectors.map(() => []);
    // One query alone: exactSearch answers a single query in another shape; search() knows it.
    if (!this.exact || vectors.length === 1) return vectors.map((v) => this.search(v, k));
    return this.exact.searchMany(vectors, want);
  }

  private neighbors(keys: ArrayLike<bigint>, distances: Float32Array): Neighbor[] {
    const out: Neighbor[] = [];
    for (let i = 0; i < keys.length; i++) {
      const meta = this.metas.get(keys[i]);
      if (meta) out.push(toNeighbor(meta, 1 - distances[i]));
    }
    return out;
  }

  size(): number {
    return this.metas.size;
  }

  /** Vectors the native index has room for before it grows again. */
  capacity(): number {
    this.syncGraph();
    return this.index.capacity();
  }

  /** True while searches scan every vector instead of walking the graph. */
  isExact(): boolean {
    return this.exact !== undefined;
  }

  /**
   * Writes the index to `path`, its ids and labels to `path.meta.json` and, while the index is
   * small enough for exact search, its vectors to `path.rows.f32`. Each goes through a temporary
   * file and a rename, so a crash mid-save leaves the previous copy readable.
   */
  save(path: string): void {
    this.syncGraph();
    const sidecar: Sidecar = {
      format: 1,
      dim: this.dim,
      quantization: this.quantization,
      nextKey: this.nextKey.toString(),
      entries: [...this.metas].map(([key, m]) => (m.text === undefined ? [key.toString(), m.id, m.label, m.source] : [key.toString(), m.id, m.label, m.source, m.text])),
      ...(this.exact ? { exactRows: this.exact.rows } : {}),
    };
    this.index.save(`${path}.tmp`);
    if (this.exact) writeFileSync(`${path}.rows.f32.tmp`, this.exact.toBuffer());
    writeFileSync(`${path}.meta.json.tmp`, JSON.stringify(sidecar));
    renameSync(`${path}.tmp`, path);
    if (this.exact) renameSync(`${path}.rows.f32.tmp`, `${path}.rows.f32`);
    else rmSync(`${path}.rows.f32`, { force: true });
    renameSync(`${path}.meta.json.tmp`, `${path}.meta.json`);
  }

  /**
   * Reads an index written by save(). The graph stored in the file keeps its own connectivity;
   * the other options apply.
   */
  static load(path: string, opts: UsearchIndexOptions = {}): UsearchIndex {
    const sidecar = readSidecar(path);
    const idx = new UsearchIndex(sidecar.dim, { ...opts, quantization: sidecar.quantization });
    idx.index.load(path);
    for (const [key, id, label, source, text] of sidecar.entries) {
      idx.metas.set(BigInt(key), text === undefined ? { id, label, source } : { id, label, source, text });
      idx.keys.set(id, BigInt(key));
    }
    idx.nextKey = BigInt(sidecar.nextKey);
    if (idx.index.size() !== idx.metas.size) {
      throw new RiskpipeError('RP_ERR_CONFIG', `${path} holds ${idx.index.size()} vectors but ${path}.meta.json labels ${idx.metas.size}: the two files are from different saves`);
    }
    // The exact copy comes back only if it was saved and still fits this load's threshold.
    const rowsFile = `${path}.rows.f32`;
    const fits = sidecar.exactRows === idx.metas.size && idx.metas.size <= idx.exactMaxVectors;
    idx.exact = fits && existsSync(rowsFile) ? ExactRows.fromBuffer(sidecar.dim, idx.metas.size, readFileSync(rowsFile), rowsFile, idx.metas) : undefined;
    idx.graphRows = idx.exact?.rows ?? 0;
    return idx;
  }
}

function readSidecar(path: string): Sidecar {
  for (const file of [path, `${path}.meta.json`]) {
    if (!existsSync(file)) throw new RiskpipeError('RP_ERR_CONFIG', `Vector index file ${file} does not exist (written by UsearchIndex.save)`);
  }
  let sidecar: Sidecar;
  try {
    sidecar = JSON.parse(readFileSync(`${path}.meta.json`, 'utf8')) as Sidecar;
  } catch (err) {
    throw new RiskpipeError('RP_ERR_CONFIG', `${path}.meta.json is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (sidecar.format !== 1) throw new RiskpipeError('RP_ERR_CONFIG', `${path}.meta.json: unknown format ${String(sidecar.format)}`);
  return sidecar;
}
