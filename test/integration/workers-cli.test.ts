import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, uniquePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redis-server.js';

// --workers N (src/cli/workers.ts) on the real binary: shared port, a crashed worker restarted,
// SIGTERM stopping every worker together with exit 0; screen workers sharing one group.

let redis: Redis;
const prefix = uniquePrefix('workers-cli');

beforeAll(async () => {
  assertBuilt();
  redis = await connectTestRedis();
});
afterAll(async () => {
  await cleanupPrefix(redis, prefix);
  redis.disconnect();
});

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch {
    return [];
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const event = (i: number) => ({ event_id: `w-${i}`, event_type: 'message_created', platform: 'discord', channel_id: 'general', user_id: 'u', author_id: `a${i}`, content: `hello number ${i}` });

describe('--workers', () => {
  it('serve-ingest --workers 2: one port, a killed worker is restarted, SIGTERM stops all, exit 0', async () => {
    const port = await freePort();
    const srv = startCli(['serve-ingest', '--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--prefix', prefix]);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      await until('both workers', () => srv.output().includes('all workers ready'));
      const pids = childPids(srv.child.pid!);
      expect(pids).toHaveLength(2);
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/v1/events/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event(i)) });
        expect(r.status).toBe(200);
      }
      expect(await redis.xlen(`${prefix}events:raw`)).toBe(20);

      process.kill(pids[0]!, 'SIGKILL');
      await until('the restart', () => childPids(srv.child.pid!).length === 2 && !childPids(srv.child.pid!).includes(pids[0]!));
      // The supervisor's log is written asynchronously: wait for it rather than race it.
      await until('the report of the crash', () => srv.output().includes('worker exited unexpectedly: restarting it'));
      await until('the restarted worker', () => srv.output().split('all workers ready').length === 3);
      const r = await fetch(`http://127.0.0.1:${port}/v1/events/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event(99)) });
      expect(r.status).toBe(200);

      const now = childPids(srv.child.pid!);
      srv.child.kill('SIGTERM');
      const exit = await srv.exited;
      expect(exit.code).toBe(0);
      expect(srv.output()).toContain('all workers stopped');
      for (const pid of now) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      srv.child.kill('SIGKILL');
    }
  }, 60_000);

  it('screen-worker --workers 2 --consumer x: two consumers x-w0, x-w1 in one group share the stream', async () => {
    const port = await freePort();
    const p = `${prefix}s:`;
    const w = startCli(['screen-worker', '--workers', '2', '--port', String(port), '--host', '127.0.0.1', '--prefix', p, '--consumer', 'x', '--block-ms', '200']);
    try {
      await until('both workers', () => w.output().includes('all workers ready'), 40_000);
      const raw = `${p}events:raw`;
      for (let i = 0; i < 200; i++) await redis.xadd(raw, '*', 'v', '1', 'event_id', `s-${i}`, 'event', JSON.stringify({ ...event(i), event_id: `s-${i}`, created_at: new Date().toISOString(), metadata: {} }), 'ingested_at', new Date().toISOString(), 'batch_id', '', 'traceparent', '');
      await until('everything routed', async () => (await redis.xlen(`${p}events:low_risk`)) + (await redis.xlen(`${p}events:reasoning_queue`)) === 200, 30_000);
      const consumers = (await redis.xinfo('CONSUMERS', raw, 'risk-screening')) as unknown[][];
      const names = consumers.map((c) => c[1]).sort();
      expect(names).toEqual(['x-w0', 'x-w1']);
      w.child.kill('SIGTERM');
      expect((await w.exited).code).toBe(0);
    } finally {
      w.child.kill('SIGKILL');
      await cleanupPrefix(redis, p);
    }
  }, 90_000);
});
