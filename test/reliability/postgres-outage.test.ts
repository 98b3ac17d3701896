import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { escalated } from '../fakes/escalated.js';
import { escalate } from '../fakes/pipeline.js';
import { assertBuilt, startCli } from '../helpers/cli.js';
import { PrivatePostgres } from '../helpers/postgres-server.js';
import { freePort } from '../helpers/redis-server.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { sleep, until } from './support.js';

/*
 * Postgres stopped (`pg_ctl stop -m immediate`) under a real `riskpipe index-worker`, on a
 * private cluster (initdb in a temp dir): the worker stays up, says it is not ready, dead-letters
 * nothing, and once Postgres is back every event is stored exactly once.
 */

const N = 600;
const prefix = uniquePrefix('pg-out');
const dir = mkdtempSync(join(tmpdir(), 'rp-pg-out-'));
let postgres: PrivatePostgres | undefined;

async function count(url: string, sql: string): Promise<number> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await c.connect();
  try {
    return (await c.query<{ n: number }>(sql)).rows[0].n;
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  assertBuilt();
  postgres = await PrivatePostgres.start();
}, 60_000);

afterAll(async () => {
  await postgres?.destroy();
  const admin = await connectTestRedis();
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('index-worker when Postgres goes away', () => {
  it('waits, reports not ready, loses and doubles nothing', async () => {
    const pgUrl = postgres!.url;
    const bus = RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
    const port = await freePort();
    const worker = startCli(['index-worker', '--host', '127.0.0.1', '--port', String(port), '--batch-size', '25', '--claim-idle-ms', '1000', '--block-ms', '200', '--log-level', 'warn'], {
      REDIS_URL,
      RISKPIPE_PREFIX: prefix,
      DATABASE_URL: pgUrl,
      RISKPIPE_DATA_DIR: dir,
    });
    try {
      await escalate(bus, Array.from({ length: N }, (_, i) => escalated(`pgo-${String(i).padStart(4, '0')}`)), 'pg-outage');
      await until(() => count(pgUrl, "SELECT count(*)::int AS n FROM events WHERE status = 'indexed'"), (n) => n >= 50, 60_000, 'first events indexed');

      postgres!.stopServer();
      const stoppedAt = Date.now();
      await sleep(3_000);
      expect(worker.child.exitCode, worker.output()).toBeNull();
      const ready = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(5_000) });
      const readyBody = await ready.text();
      expect(ready.status, readyBody).toBe(503);
      expect(await bus.deadLetters.count()).toBe(0);

      postgres!.startServer();
      const restartedAt = Date.now();
      await until(() => count(pgUrl, "SELECT count(*)::int AS n FROM events WHERE status = 'indexed'"), (n) => n === N, 60_000, 'every event indexed');
      const recoveredMs = Date.now() - restartedAt;
      await until(async () => (await bus.groupInfo({ stream: 'reasoning', group: 'indexing' })).pending, (n) => n === 0, 20_000, 'nothing pending');
      expect(await count(pgUrl, 'SELECT count(*)::int AS n FROM events')).toBe(N);
      expect(await count(pgUrl, 'SELECT count(DISTINCT event_id)::int AS n FROM events')).toBe(N);
      expect(await bus.deadLetters.count()).toBe(0);
      await until(() => fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.status), (s) => s === 200, 10_000, '/ready 200 again');
      console.log(`Postgres outage: ${Math.round((restartedAt - stoppedAt) / 1000)} s down, /ready 503 meanwhile, all ${N} events stored exactly once ${recoveredMs} ms after the restart`);
    } finally {
      worker.child.kill('SIGTERM');
      await Promise.race([worker.exited, sleep(10_000)]);
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      await bus.close();
    }
  }, 120_000);
});
