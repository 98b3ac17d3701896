import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MetricKind, exactSearch } from 'usearch';
import { PermanentError } from '../common/errors.js';
import { normalized, type EventDoc, type EventFilter, type EventHit, type EventIndex, type EventPayload } from './event-index.js';

export interface DiskEventIndexOptions {
  /** The index's own directory (created if missing), e.g. <data-dir>/index/events. */
  dir: string;
  dim: number;
  /** fsync both files after every upsert: survives power loss, not just a killed process. Default false. */
  fsync?: boolean;
}

interface MetaFile {
  format: 1;
  dim: number;
  created_at: string;
}

/** One line of docs.jsonl: the payload of row `r`, or its removal. The last line of a row wins. */
type DocLine = { r: number; p: EventPayload } | { r: number; del: true };

/**
 * The embedded event index: exact cosine search over every vector, on disk in a directory.
 *
 *   meta.json     format and dimension, written once
 *   vectors.f32   row r's unit vector at byte r·dim·4 (float32, little-endian)
 *   docs.jsonl    append-only: {"r": row, "p": payload} or {"r": row, "del": true}
 *
 * An upsert writes the vectors first, then appends the payload lines: a payload line is the commit
 * mark of its row, so a process killed between the two leaves a vector nobody points at, which
 * the next upsert of that row overwrites. A torn last line is ignored on load. The whole index is
 * held in memory; search is a brute-force scan (usearch's SIMD exactSearch), not a graph, so
 * inserts cost a file write, not a graph insertion, and filters are exact. Past a few hundred
 * thousand events, use Qdrant.
 *
 * The scan runs over an int8 copy of the vectors (each scaled to its own range) and re-ranks the
 * best few times k candidates by exact float32 dot products: scores and order are exact, and
 * recall is 1.0 unless quantisation pushes a true neighbour out of the candidates.
 */
export class DiskEventIndex implements EventIndex {
  readonly kind = 'embedded' as const;
  readonly dim: number;
  readonly location: string;
  private readonly fsync: boolean;
  private data = new Float32Array(0);
  /** The same vectors quantised to int8 (each scaled to its own largest component): the scan's input. */
  private q8 = new Int8Array(0);
  private rows = 0;
  private payloads: (EventPayload | null)[] = [];
  private createdMs = new Float64Array(0);
  /** Filter columns: a small code per row for each keyword field (0 = none / removed row). */
  private readonly cols = { platform: new Column(), risk_category: new Column(), risk_level: new Column() };
  private readonly rowOf = new Map<string, number>();
  private live = 0;
  private vecFd: number | undefined;
  private docsFd: number | undefined;
  private docLines = 0;
  private locked = false;

  constructor(opts: DiskEventIndexOptions) {
    this.dim = opts.dim;
    this.location = opts.dir;
    this.fsync = opts.fsync ?? false;
  }

  private path(name: string): string {
    return join(this.location, name);
  }

  async open(): Promise<{ created: boolean }> {
    if (this.vecFd !== undefined) return { created: false };
    mkdirSync(this.location, { recursive: true });
    this.lock();
    const metaPath = this.path('meta.json');
    let created = false;
    if (existsSync(metaPath)) {
      const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as MetaFile;
      if (meta.dim !== this.dim) {
        throw new PermanentError(
          'RP_ERR_CONFIG',
          `the event index in ${this.location} holds ${meta.dim}-dimensional vectors, but the embedder makes ${this.dim}: use the embedder it was built with, or move the directory away to rebuild it from the store`,
        );
      }
    } else {
      created = true;
      writeFileSync(`${metaPath}.tmp`, JSON.stringify({ format: 1, dim: this.dim, created_at: new Date().toISOString() } satisfies MetaFile));
      renameSync(`${metaPath}.tmp`, metaPath);
    }
    this.vecFd = openSync(this.path('vectors.f32'), existsSync(this.path('vectors.f32')) ? 'r+' : 'w+');
    this.load();
    // Rewrite the log when it is mostly superseded lines, so loading stays proportional to the index.
    if (this.docLines > 2 * this.live + 1000) this.compactDocs();
    this.docsFd = openSync(this.path('docs.jsonl'), 'a');
    return { created };
  }

  /**
   * One process per directory: two writers would hand out the same rows. A lock file holds the
   * owner's pid; a lock whose process is gone (killed) is taken over.
   */
  private lock(): void {
    const path = this.path('LOCK');
    for (let tries = 0; tries < 2; tries++) {
      try {
        writeFileSync(path, String(process.pid), { flag: 'wx' });
        this.locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const pid = Number(readFileSync(path, 'utf8').trim());
        if (pid === process.pid || !alive(pid)) {
          rmSync(path, { force: true });
          continue;
        }
        throw new PermanentError(
          'RP_ERR_CONFIG',
          `the event index in ${this.location} is in use by process ${pid}: the embedded index serves one process; run several index workers against Qdrant (QDRANT_URL), or give each its own --data-dir`,
        );
      }
    }
  }

  private load(): void {
    const rowBytes = this.dim * 4;
    const vecBytes = fstatSync(this.vecFd!).size;
    const fileRows = Math.floor(vecBytes / rowBytes);
    const docsPath = this.path('docs.jsonl');
    let text = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : '';
    if (text.length > 0 && !text.endsWith('\n')) {
      // Cut a torn last line off, or the next append would be glued to it.
      text = text.slice(0, text.lastIndexOf('\n') + 1);
      truncateSync(docsPath, Buffer.byteLength(text));
    }
    const lines = text.split('\n');
    const byRow = new Map<number, EventPayload | null>();
    this.docLines = 0;
    for (const line of lines) {
      if (line === '') continue;
      let doc: DocLine;
      try {
        doc = JSON.parse(line) as DocLine;
      } catch {
        continue; // a torn last line of a killed process
      }
      // A payload whose vector never reached the file is not committed.
      if (!(doc.r >= 0 && doc.r < fileRows)) continue;
      this.docLines++;
      byRow.set(doc.r, 'del' in doc ? null : doc.p);
    }
    // A loop, not Math.max(...keys): spreading a big index's rows would overflow the call stack.
    let rows = 0;
    for (const r of byRow.keys()) if (r + 1 > rows) rows = r + 1;
    this.ensureCapacity(rows);
    if (rows > 0) {
      const buf = Buffer.alloc(rows * rowBytes);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(this.vecFd!, buf, off, buf.length - off, off);
        if (n === 0) break;
        off += n;
      }
      new Uint8Array(this.data.buffer).set(new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
      for (let r = 0; r < rows; r++) quantizeInto(this.data.subarray(r * this.dim, (r + 1) * this.dim), this.q8, r * this.dim);
    }
    this.rows = rows;
    this.payloads = new Array<EventPayload | null>(rows).fill(null);
    for (const [r, p] of byRow) {
      if (!p) continue;
      this.setPayload(r, p);
      this.rowOf.set(p.event_id, r);
    }
    // A row superseded by a later row of the same id (cannot happen through upsert, but a hand-edited log could) stays dead.
    for (let r = 0; r < rows; r++) {
      const p = this.payloads[r];
      if (p && this.rowOf.get(p.event_id) !== r) this.setPayload(r, null);
    }
    this.live = this.rowOf.size;
  }

  private compactDocs(): void {
    const out: string[] = [];
    for (let r = 0; r < this.rows; r++) {
      const p = this.payloads[r];
      if (p) out.push(JSON.stringify({ r, p }));
    }
    const path = this.path('docs.jsonl');
    writeFileSync(`${path}.tmp`, out.length ? `${out.join('\n')}\n` : '');
    renameSync(`${path}.tmp`, path);
    this.docLines = out.length;
  }

  private ensureCapacity(rows: number): void {
    const cap = this.data.length / this.dim;
    if (rows <= cap) return;
    const next = Math.max(rows, cap * 2, 1024);
    const data = new Float32Array(next * this.dim);
    data.set(this.data);
    const ms = new Float64Array(next);
    ms.set(this.createdMs);
    for (const c of Object.values(this.cols)) c.grow(next);
    const q8 = new Int8Array(next * this.dim);
    q8.set(this.q8);
    this.q8 = q8;
    this.data = data;
    this.createdMs = ms;
  }

  private setPayload(r: number, p: EventPayload | null): void {
    this.payloads[r] = p;
    this.createdMs[r] = p ? Date.parse(p.created_at) : NaN;
    this.cols.platform.set(r, p?.platform);
    this.cols.risk_category.set(r, p?.risk_category);
    this.cols.risk_level.set(r, p?.risk_level);
  }

  /**
   * The rows a filter selects, from the typed-array columns (a tight loop: ~0.3 ms over 100k
   * rows, where reading the payload objects took ~10 ms); channel and author are compared on
   * the payloads, after the columns narrowed the rows down.
   */
  private selectRows(filter: EventFilter | undefined): Int32Array {
    const f = filter ?? {};
    const sets = (['platform', 'risk_category', 'risk_level'] as const)
      .filter((k) => f[k] !== undefined)
      .map((k) => ({ col: this.cols[k].codes, ok: this.cols[k].allowed(f[k]!) }));
    const since = f.since === undefined ? -Infinity : Date.parse(f.since);
    const until = f.until === undefined ? Infinity : Date.parse(f.until);
    const ms = this.createdMs;
    const live = this.cols.platform.codes;
    const out = new Int32Array(this.rows);
    let n = 0;
    // Up to three column tests, unrolled (no per-row iterator); an absent test is a table of ones.
    const all = new Uint8Array(256).fill(1);
    const [c0, c1, c2] = [0, 1, 2].map((i) => sets[i]?.col ?? live);
    const [t0, t1, t2] = [0, 1, 2].map((i) => sets[i]?.ok ?? all);
    const timed = since !== -Infinity || until !== Infinity;
    for (let r = 0; r < this.rows; r++) {
      if (live[r] === 0 || t0[c0[r]] === 0 || t1[c1[r]] === 0 || t2[c2[r]] === 0) continue;
      if (timed && !(ms[r] >= since && ms[r] < until)) continue;
      out[n++] = r;
    }
    const rows = out.subarray(0, n);
    if (f.channel_id === undefined && f.author_id === undefined) return rows;
    return rows.filter((r) => {
      const p = this.payloads[r]!;
      return (f.channel_id === undefined || p.channel_id === f.channel_id) && (f.author_id === undefined || p.author_id === f.author_id);
    });
  }

  private opened(): void {
    if (this.vecFd === undefined || this.docsFd === undefined) throw new Error('the event index is not open (call open() first) or was closed');
  }

  async upsert(docs: EventDoc[]): Promise<void> {
    this.opened();
    if (docs.length === 0) return;
    // Rows first (an id repeated in the batch keeps one row), then the vectors, then the log.
    const planned = new Map<number, EventDoc>();
    let next = this.rows;
    const fresh = new Map<string, number>();
    for (const doc of docs) {
      if (doc.vector.length !== this.dim) throw new PermanentError('RP_ERR_INTERNAL', `vector has ${doc.vector.length} dimensions, the event index has ${this.dim}`);
      const id = doc.payload.event_id;
      const r = this.rowOf.get(id) ?? fresh.get(id) ?? next++;
      if (!this.rowOf.has(id)) fresh.set(id, r);
      planned.set(r, doc);
    }
    this.ensureCapacity(next);
    const rowBytes = this.dim * 4;
    // New rows are contiguous from this.rows: one write. Replaced rows are written where they are.
    const appended = next - this.rows;
    if (appended > 0) {
      const block = new Float32Array(appended * this.dim);
      for (let r = this.rows; r < next; r++) block.set(normalized(planned.get(r)!.vector), (r - this.rows) * this.dim);
      writeAllAt(this.vecFd!, Buffer.from(block.buffer), this.rows * rowBytes);
    }
    for (const [r, doc] of planned) {
      if (r >= this.rows) continue;
      writeAllAt(this.vecFd!, Buffer.from(normalized(doc.vector).buffer), r * rowBytes);
    }
    const lines = [...planned].map(([r, doc]) => JSON.stringify({ r, p: doc.payload })).join('\n') + '\n';
    if (this.fsync) fsyncSync(this.vecFd!);
    writeSync(this.docsFd!, lines);
    if (this.fsync) fsyncSync(this.docsFd!);
    this.docLines += planned.size;
    // Only now, with both files written, does the row exist for searches.
    for (const [r, doc] of planned) {
      const unit = normalized(doc.vector);
      this.data.set(unit, r * this.dim);
      quantizeInto(unit, this.q8, r * this.dim);
      const old = this.payloads[r];
      if (!old) this.live++;
      this.setPayload(r, doc.payload);
      this.rowOf.set(doc.payload.event_id, r);
    }
    if (next > this.rows) this.rows = next;
  }

  async remove(eventIds: string[]): Promise<void> {
    this.opened();
    const rows = eventIds.map((id) => this.rowOf.get(id)).filter((r): r is number => r !== undefined);
    if (rows.length === 0) return;
    writeSync(this.docsFd!, rows.map((r) => JSON.stringify({ r, del: true })).join('\n') + '\n');
    if (this.fsync) fsyncSync(this.docsFd!);
    this.docLines += rows.length;
    for (const r of rows) {
      this.rowOf.delete(this.payloads[r]!.event_id);
      this.setPayload(r, null);
      this.live--;
    }
  }

  async search(vector: Float32Array, opts: { k: number; filter?: EventFilter }): Promise<EventHit[]> {
    this.opened();
    if (vector.length !== this.dim) throw new PermanentError('RP_ERR_BAD_REQUEST', `query vector has ${vector.length} dimensions, the event index has ${this.dim}`);
    const k = Math.max(0, Math.floor(opts.k));
    if (k === 0 || this.live === 0) return [];
    const q = normalized(vector);
    const filtered = opts.filter !== undefined && Object.values(opts.filter).some((v) => v !== undefined);
    const holes = this.rows - this.live;
    if (!filtered && holes === 0) return this.scanAll(q, Math.min(k, this.rows), () => true);
    const rows = this.selectRows(opts.filter);
    if (rows.length === 0) return [];
    const want = Math.min(k, rows.length);
    // A selective filter: score only the rows that qualify (float32 in JS costs ~9× the SIMD int8
    // scan per row). A broad one: over-fetch from the scan of everything and keep what qualifies,
    // falling back to the rows when that came up short.
    if (rows.length * 10 <= this.rows) return this.scanRows(q, want, rows);
    const ok = new Uint8Array(this.rows);
    for (const r of rows) ok[r] = 1;
    const hits = this.scanAll(q, Math.min(this.rows, Math.ceil((want * this.rows * 2) / rows.length) + 16), (r) => ok[r] === 1);
    return hits.length >= want ? hits.slice(0, want) : this.scanRows(q, want, rows);
  }

  /**
   * The k best rows that `keep` accepts, from the SIMD scan of the int8 copy (4× less memory to
   * stream than float32: ~4 ms instead of ~14 ms over 100k × 384 on this machine under load),
   * re-ranked by exact float32 dot products over a few times k candidates, so the order and the
   * scores are exact unless quantisation pushed a true neighbour out of the candidates.
   */
  private scanAll(q: Float32Array, k: number, keep: (row: number) => boolean): EventHit[] {
    const cand = Math.min(this.rows, k * 4 + 32);
    const qq = new Int8Array(this.dim);
    quantizeInto(q, qq, 0);
    const m = exactSearch(this.q8.subarray(0, this.rows * this.dim), qq, this.dim, cand, MetricKind.Cos, 1);
    const rows: number[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const r = Number(m.keys[i]);
      if (this.payloads[r] && keep(r)) rows.push(r);
    }
    return this.scanRows(q, Math.min(k, rows.length), rows);
  }

  /** Exact float32 scan of every live row, no quantisation: the reference for tests and bench:index's recall. */
  searchExact(vector: Float32Array, k: number): EventHit[] {
    const rows: number[] = [];
    for (let r = 0; r < this.rows; r++) if (this.payloads[r]) rows.push(r);
    return this.scanRows(normalized(vector), Math.min(k, rows.length), rows);
  }

  private scanRows(q: Float32Array, k: number, rows: ArrayLike<number>): EventHit[] {
    const dim = this.dim;
    const data = this.data;
    const top: { r: number; s: number }[] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      let s = 0;
      const o = r * dim;
      for (let j = 0; j < dim; j++) s += data[o + j] * q[j];
      if (top.length === k && s <= top[k - 1].s) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].s < s) at--;
      top.splice(at, 0, { r, s });
      if (top.length > k) top.pop();
    }
    return top.map(({ r, s }) => ({ event_id: this.payloads[r]!.event_id, score: s, payload: this.payloads[r]! }));
  }

  async count(): Promise<number> {
    return this.live;
  }

  async ping(): Promise<void> {
    this.opened();
  }

  async close(): Promise<void> {
    for (const fd of [this.vecFd, this.docsFd]) if (fd !== undefined) closeSync(fd);
    this.vecFd = undefined;
    this.docsFd = undefined;
    if (this.locked) rmSync(this.path('LOCK'), { force: true });
    this.locked = false;
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A keyword payload field as one byte per row: 0 = no row, else 1 + the value's index in `values`. */
class Column {
  codes = new Uint8Array(0);
  private readonly ids = new Map<string, number>();
  grow(rows: number): void {
    const c = new Uint8Array(rows);
    c.set(this.codes);
    this.codes = c;
  }
  set(r: number, value: string | undefined): void {
    if (value === undefined) {
      this.codes[r] = 0;
      return;
    }
    let id = this.ids.get(value);
    if (id === undefined) {
      // The fields are small enums (platforms, categories, levels): 255 values is far beyond them.
      if (this.ids.size >= 255) throw new PermanentError('RP_ERR_INTERNAL', `more than 255 distinct values in a filter column (got ${JSON.stringify(value)})`);
      id = this.ids.size + 1;
      this.ids.set(value, id);
    }
    this.codes[r] = id;
  }
  /** A 256-entry table: 1 for the codes of the given values. */
  allowed(v: string | string[]): Uint8Array {
    const t = new Uint8Array(256);
    for (const x of Array.isArray(v) ? v : [v]) {
      const id = this.ids.get(x);
      if (id !== undefined) t[id] = 1;
    }
    return t;
  }
}

/** v scaled so its largest component is ±127, rounded: cosine similarity is unchanged by the scale. */
function quantizeInto(v: Float32Array, out: Int8Array, at: number): void {
  let max = 0;
  for (let j = 0; j < v.length; j++) max = Math.max(max, Math.abs(v[j]));
  const f = max > 0 ? 127 / max : 0;
  for (let j = 0; j < v.length; j++) out[at + j] = Math.round(v[j] * f);
}

function writeAllAt(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}
