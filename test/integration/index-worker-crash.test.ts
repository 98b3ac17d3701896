import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rulesIncidents } from '../../src/index/incidents/rules.js';
import { openStore, type Store } from '../../src/store/index.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { DATABASE_URL, escalated, uniqueSchema } from '../fakes/escalated.js';
import { escalate, until } from '../fakes/pipeline.js';
import { ROOT } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/*
 * A real `riskpipe index-worker` process killed with SIGKILL in the middle of its batches, then a
 * second one started on the same Redis group, Postgres schema and data directory: every event ends
 * up indexed exactly once — no event, incident, vector or batch count lost or doubled.
 */

const N = 3000;
const prefix = uniquePrefix('index-crash');
const schema = uniqueSchema('index_crash');
const dir = mkdtempSync(join(tmpdir(), 'rp-index-crash-'));
let store: Store;

function worker(): { child: ChildProcess; exited: Promise<unknown>; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/fakes/cli-main.ts'), 'index-worker', '--port', '0', '--host', '127.0.0.1', '--batch-size', '50', '--claim-idle-ms', '1000', '--block-ms', '200', '--log-level', 'warn'],
    { cwd: ROOT, env: { ...process.env, REDIS_URL, RISKPIPE_PREFIX: prefix, DATABASE_URL, RISKPIPE_DB_SCHEMA: schema, RISKPIPE_DATA_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, exited: new Promise((r) => child.on('exit', r)), output: () => out };
}

const items = Array.from({ length: N }, (_, i) =>
  escalated(`crash-${String(i).padStart(5, '0')}`, i % 3 === 0 ? { content: `free nitro at discord-gift.xyz number ${i}`, category: 'spam', level: 'MEDIUM', evidence: ['giveaway bait "free nitro"'] } : { content: `you better watch your back ${i}`, evidence: ['threat phrase "you better watch your back"'] }),
);

describe('index-worker killed with SIGKILL mid-batch', () => {
  beforeAll(async () => {
    store = await openStore({ url: DATABASE_URL, schema });
  });
  afterAll(async () => {
    await store.close();
    const admin = await connectTestRedis();
    await cleanupPrefix(admin, prefix);
    admin.disconnect();
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses and doubles nothing', async () => {
    const bus = RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
    try {
      await escalate(bus, items, 'crash-batch');
      const first = worker();
      // Kill it while it is busy: some events are done, most are not.
      await until('the first worker to index some', async () => (await store.statusCounts()).indexed >= 200, 60_000, 20);
      first.child.kill('SIGKILL');
      await first.exited;
      const atKill = await store.statusCounts();
      expect(atKill.indexed).toBeLessThan(N);
      // It died holding entries it had read and not settled: mid-batch.
      expect((await bus.groupInfo({ stream: 'reasoning', group: 'indexing' })).pending).toBeGreaterThan(0);

      const second = worker();
      try {
        await until('every event indexed', async () => (await store.statusCounts()).indexed === N, 90_000, 200);
        await until('the stream drained', async () => (await bus.length('reasoning')) === 0 && (await bus.groupInfo({ stream: 'reasoning', group: 'indexing' })).pending === 0, 30_000, 200);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
      const db = store.db;
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(N);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM predictions')).rows[0].n).toBe(N);
      const expected = items.reduce((s, it) => s + rulesIncidents(it).length, 0);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM incidents')).rows[0].n).toBe(expected);
      expect((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE status <> 'indexed'")).rows[0].n).toBe(0);
      expect(await bus.batchStatus('crash-batch')).toMatchObject({ total: N, queued: N, escalated: N, indexed: N, dead_lettered: 0, completed: true });
      expect(await bus.deadLetters.count()).toBe(0);
      // The embedded index came back from the killed process' files with every event once.
      const { DiskEventIndex } = await import('../../src/vector/disk-index.js');
      const idx = new DiskEventIndex({ dir: join(dir, 'index', 'events'), dim: 384 });
      await idx.open();
      expect(await idx.count()).toBe(N);
      await idx.close();
    } finally {
      await bus.close();
    }
  }, 180_000);
});
