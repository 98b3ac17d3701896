import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface PrivateRedisOptions {
  /** Append-only file in a private temp dir, fsync every write: a restart keeps what was acknowledged. Default false. */
  aof?: boolean;
  /** With `aof`: fsync every write ('always', the default) or once a second ('everysec': faster, loses up to a second on a crash). */
  fsync?: 'always' | 'everysec';
  /** e.g. "2mb": with `maxmemory-policy noeviction` writes are refused with OOM past it. Default none. */
  maxmemory?: string;
}

/** Every server this process started, killed on exit even when a test forgets (or the runner is interrupted). */
const live = new Set<ChildProcess>();
const dirs = new Set<string>();
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGCONT');
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A private, throw-away redis-server on its own port, for tests that stop, freeze, fill or
 * restart Redis (the shared server on 6379 must stay up and untouched for everyone else).
 */
export class PrivateRedis {
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  /** Holds the AOF (when enabled); removed by `destroy()`. */
  readonly dir: string;
  constructor(
    readonly port: number,
    readonly opts: PrivateRedisOptions = {},
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'rp-redis-'));
    dirs.add(this.dir);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  static async start(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), opts);
    await r.start();
    return r;
  }

  get running(): boolean {
    const p = this.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, '--daemonize', 'no'];
    args.push('--appendonly', this.opts.aof ? 'yes' : 'no');
    if (this.opts.aof) args.push('--appendfsync', this.opts.fsync ?? 'always');
    if (this.opts.maxmemory) args.push('--maxmemory', this.opts.maxmemory, '--maxmemory-policy', 'noeviction');
    const p = spawn('redis-server', args, { stdio: 'ignore' });
    this.proc = p;
    live.add(p);
    this.exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    void this.exited.then(() => live.delete(p));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {}); // refused while the server is still starting: expected
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return;
      } catch {
        c.disconnect();
        if (Date.now() > deadline || !this.running) throw new Error(`redis-server on port ${this.port} did not start (is redis-server on PATH?)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Kills the server abruptly (SIGKILL), as a crash or network loss would look to clients. Idempotent. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    p.kill('SIGCONT'); // a frozen process cannot die until it runs again
    p.kill('SIGKILL');
    await this.exited;
  }

  /** SIGSTOP: the socket stays open and nothing answers, the way a hung host looks. */
  freeze(): void {
    if (this.running) this.proc!.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.proc!.kill('SIGCONT');
  }

  /** Stops the server and removes its directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
