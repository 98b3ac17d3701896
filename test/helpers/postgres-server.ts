import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server.js';

/** Where PostgreSQL 15's server binaries are (Debian layout), else whatever is on PATH. */
const BIN = existsSync('/usr/lib/postgresql/15/bin/pg_ctl') ? '/usr/lib/postgresql/15/bin/' : '';

/**
 * A private, throw-away PostgreSQL cluster (initdb in a temp dir, its own port, trust auth), for
 * tests that stop and restart Postgres (the shared server on 5432 must stay up for the others).
 * initdb refuses to run as root: then the cluster belongs to the `postgres` user and its
 * commands run through `runuser`.
 */
export class PrivatePostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly asUser: string | undefined,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static available(): boolean {
    return spawnSync(`${BIN}pg_ctl`, ['--version']).status === 0;
  }

  static async start(): Promise<PrivatePostgres> {
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
    const dir = mkdtempSync(join(tmpdir(), 'rp-pg-'));
    if (asUser) {
      const { uid, gid } = userIds(asUser);
      chownSync(dir, uid, gid);
    }
    const pg = new PrivatePostgres(await freePort(), dir, asUser);
    pg.run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    pg.startServer();
    return pg;
  }

  private run(cmd: string, args: string[]): string {
    const file = `${BIN}${cmd}`;
    return this.asUser ? execFileSync('runuser', ['-u', this.asUser, '--', file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) : execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Starts (or restarts) the server and waits until it accepts connections. */
  startServer(): void {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-l', join(this.dir, 'log'), '-w', '-t', '30', '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  }

  /** Stops the server the hard way (`-m immediate`: no checkpoint, connections cut), as a crash would. */
  stopServer(): void {
    this.run('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    try {
      this.stopServer();
    } catch {
      /* already stopped */
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function userIds(name: string): { uid: number; gid: number } {
  const u = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const g = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid: u, gid: g };
}
