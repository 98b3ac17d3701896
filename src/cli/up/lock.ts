import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RiskpipeError } from '../../common/errors.js';

/*
 * One `riskpipe up` per data directory: the in-process bus, PGlite and the embedded index each
 * belong to one process. The lock file holds the owner's pid, port and start time; a lock whose
 * process is gone (killed with -9) is taken over.
 */

export interface LockInfo {
  pid: number;
  url?: string;
  startedAt?: string;
}

export interface DataDirLock {
  readonly path: string;
  /** Adds what the running process serves (the URL) for whoever reads the lock. */
  update(info: Partial<LockInfo>): void;
  /** Idempotent. */
  release(): void;
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

function readLock(path: string): LockInfo | undefined {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text.startsWith('{') ? (JSON.parse(text) as LockInfo) : { pid: Number(text) };
  } catch {
    return undefined;
  }
}

/** Takes the lock of `dataDir` (creating the directory), or throws a message saying who holds it. */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, 'up.lock');
  let info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  for (let tries = 0; tries < 3; tries++) {
    try {
      writeFileSync(path, JSON.stringify(info), { flag: 'wx' });
      let released = false;
      return {
        path,
        update(more) {
          if (released) return;
          info = { ...info, ...more };
          writeFileSync(path, JSON.stringify(info));
        },
        release() {
          if (released) return;
          released = true;
          const now = readLock(path);
          if (now?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(path);
      // Unreadable (a crash between create and write) or its process is gone: take it over.
      if (!holder || holder.pid === process.pid || !alive(holder.pid)) {
        rmSync(path, { force: true });
        continue;
      }
      throw new RiskpipeError(
        'RP_ERR_CONFIG',
        `${dataDir} is in use by another \`riskpipe up\` (pid ${holder.pid}${holder.url ? `, serving ${holder.url}` : ''}).\n` +
          `  One process owns a data directory: the in-process bus, PGlite and the embedded index are not shared.\n` +
          `  Use the running one, stop it first, or start this one with its own --data-dir and --port.\n` +
          `  Several processes on one pipeline need the real backends: REDIS_URL (and DATABASE_URL, QDRANT_URL).`,
      );
    }
  }
  throw new RiskpipeError('RP_ERR_CONFIG', `could not take the lock ${path}`);
}
