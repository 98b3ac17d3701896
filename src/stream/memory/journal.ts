import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, ftruncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { StreamId } from '../types.js';

/*
 * The memory bus' journal: an append-only file of JSON lines in the data directory, one line per
 * operation, written (writeSync) before the operation is answered. A process killed with -9
 * loses nothing it answered: the kernel has the bytes. A torn last line (killed mid-write, or
 * power loss) is dropped on open — that operation was never answered. Compaction rewrites the
 * file as a snapshot of what is not done yet (write to a temporary file, fsync, rename).
 */

type Fields = { [field: string]: string };

export type JournalRecord =
  /** Entries added (to any streams), dedup keys set, batch counters added. */
  | { t: 'add'; e: [StreamId, string, Fields][]; dd?: [string, number][]; b?: [string, string, number][] }
  | { t: 'group'; s: StreamId; g: string }
  /** Acked ids of a group, with what the same settle wrote: entries, deletes of the source, batch counters. */
  | { t: 'ack'; s: StreamId; g: string; ids: string[]; e?: [StreamId, string, Fields][]; del?: string[]; b?: [string, string, number][] }
  /** Deleted ids (dead-letter replay and purge), with what the same step added. */
  | { t: 'del'; s: StreamId; ids: string[]; e?: [StreamId, string, Fields][]; b?: [string, string, number][] }
  /** Everything before this id ("+" = all) dropped. */
  | { t: 'trim'; s: StreamId; before: string }
  | { t: 'batch'; id: string; c: { [counter: string]: number }; exp: number };

export interface JournalOptions {
  fsync?: boolean;
  /** Default 64 MiB. */
  compactBytes?: number;
}

export class Journal {
  private fd: number;
  private bytes: number;
  private readonly compactBytes: number;
  private lastCompactBytes = 0;

  private constructor(
    readonly path: string,
    private readonly opts: JournalOptions,
  ) {
    this.fd = openSync(path, 'a+');
    this.bytes = fstatSync(this.fd).size;
    this.compactBytes = opts.compactBytes ?? 64 * 1024 * 1024;
  }

  static open(dir: string, opts: JournalOptions = {}): Journal {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'bus.journal');
    if (existsSync(path)) {
      // A torn last line (no newline) was never answered: cut it, or the next write would join it.
      const buf = readFileSync(path);
      const end = buf.lastIndexOf(0x0a) + 1;
      if (end < buf.length) {
        const fd = openSync(path, 'r+');
        ftruncateSync(fd, end);
        closeSync(fd);
      }
    }
    return new Journal(path, opts);
  }

  /** The records in the file, in order (unreadable lines skipped). */
  *replay(): Generator<JournalRecord> {
    const text = readFileSync(this.path, 'utf8');
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      if (line.length === 0) continue;
      try {
        yield JSON.parse(line) as JournalRecord;
      } catch {
        // A torn line: its operation was never answered.
      }
    }
  }

  write(rec: JournalRecord): void {
    const line = JSON.stringify(rec) + '\n';
    this.bytes += writeSync(this.fd, line);
    if (this.opts.fsync) fsyncSync(this.fd);
  }

  /** Grown past compactBytes since the last compaction. */
  wantsCompaction(): boolean {
    return this.bytes - this.lastCompactBytes > this.compactBytes;
  }

  /** Replaces the file with `records`, atomically (temporary file + rename). */
  rewrite(records: JournalRecord[]): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w');
    let bytes = 0;
    for (const r of records) bytes += writeSync(fd, JSON.stringify(r) + '\n');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.path);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.bytes = bytes;
    this.lastCompactBytes = bytes;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}
