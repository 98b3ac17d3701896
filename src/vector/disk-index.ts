import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MetricKind, exactSearch } from 'usearch';
import { PermanentError } from '../common/errors.js';
import { compileFilter, normalized, type EventDoc, type EventFilter, type EventHit, type EventIndex, type EventPayload } from './event-index.js';

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
 * held in memory; search is usearch's SIMD exact scan (~5 ms for 100k × 384 on one core here),
 * so recall is 1.0 and inserts cost a file write, not a graph insertion. Past a few hundred
 * thousand events, use Qdrant.
 */
export class DiskEventIndex implements EventIndex {
  readonly kind = 'embedded' as const;
  readonly dim: number;
  readonly location: string;
  private readonly fsync: boolean;
  private data = new Float32Array(0);
  private rows = 0;
  private payloads: (EventPayload | null)[] = [];
  private createdMs = new Float64Array(0);
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
    const rows = byRow.size === 0 ? 0 : Math.max(...byRow.keys()) + 1;
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
    }
    this.rows = rows;
    this.payloads = new Array<EventPayload | null>(rows).fill(null);
    for (const [r, p] of byRow) {
      if (!p) continue;
      this.payloads[r] = p;
      this.createdMs[r] = Date.parse(p.created_at);
      this.rowOf.set(p.event_id, r);
    }
    // A row superseded by a later row of the same id (cannot happen through upsert, but a hand-edited log could) stays dead.
    for (let r = 0; r < rows; r++) {
      const p = this.payloads[r];
      if (p && this.rowOf.get(p.event_id) !== r) this.payloads[r] = null;
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
    this.data = data;
    this.createdMs = ms;
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
      this.data.set(normalized(doc.vector), r * this.dim);
      const old = this.payloads[r];
      if (!old) this.live++;
      this.payloads[r] = doc.payload;
      this.createdMs[r] = Date.parse(doc.payload.created_at);
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
      this.payloads[r] = null;
      this.live--;
    }
  }

  async search(vector: Float32Array, opts: { k: number; filter?: EventFilter }): Promise<EventHit[]> {
    this.opened();
    if (vector.length !== this.dim) throw new PermanentError('RP_ERR_BAD_REQUEST', `query vector has ${vector.length} dimensions, the event index has ${this.dim}`);
    const k = Math.max(0, Math.floor(opts.k));
    if (k === 0 || this.live === 0) return [];
    const q = normalized(vector);
    const match = compileFilter(opts.filter);
    const holes = this.rows - this.live;
    if (!match && holes === 0) return this.scanAll(q, Math.min(k, this.rows), () => true);
    // Which rows qualify: one pass over the payloads (cheap next to the dot products).
    const rows: number[] = [];
    for (let r = 0; r < this.rows; r++) {
      const p = this.payloads[r];
      if (p && (!match || match(p, this.createdMs[r]))) rows.push(r);
    }
    if (rows.length === 0) return [];
    const want = Math.min(k, rows.length);
    // A selective filter: score only the rows that qualify. A broad one: over-fetch from the SIMD
    // scan of everything and filter, falling back to the rows when that came up short.
    if (rows.length * 4 <= this.rows) return this.scanRows(q, want, rows);
    const ok = new Uint8Array(this.rows);
    for (const r of rows) ok[r] = 1;
    const hits = this.scanAll(q, Math.min(this.rows, Math.ceil((want * this.rows * 2) / rows.length) + 16), (r) => ok[r] === 1);
    return hits.length >= want ? hits.slice(0, want) : this.scanRows(q, want, rows);
  }

  private scanAll(q: Float32Array, k: number, keep: (row: number) => boolean): EventHit[] {
    const m = exactSearch(this.data.subarray(0, this.rows * this.dim), q, this.dim, k, MetricKind.IP, 1);
    const out: EventHit[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const r = Number(m.keys[i]);
      const p = this.payloads[r];
      if (p && keep(r)) out.push({ event_id: p.event_id, score: 1 - m.distances[i], payload: p });
    }
    return out;
  }

  private scanRows(q: Float32Array, k: number, rows: number[]): EventHit[] {
    const dim = this.dim;
    const data = this.data;
    const top: { r: number; s: number }[] = [];
    for (const r of rows) {
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

function writeAllAt(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}
