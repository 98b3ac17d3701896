import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { traceparentFor } from '../../src/common/trace.js';
import { STREAM_SCHEMA_VERSION, type Event } from '../../src/models/index.js';
import { streamNames } from '../../src/stream/keys.js';
import { assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';
import { uniquePrefix } from '../helpers/redis.js';
import { sleep, streamEntries, until } from './support.js';

/*
 * The real `riskpipe screen-worker` on a private redis-server with AOF (fsync always):
 * killed with SIGKILL at the same moment Redis is killed, then both restarted — every event is
 * routed exactly once, nothing pending or dead-lettered; and SIGTERM while Redis is down
 * exits promptly.
 */

let server: PrivateRedis;
let admin: Redis;

beforeAll(async () => {
  assertBuilt();
  server = await PrivateRedis.start({ aof: true });
  admin = new Redis(server.url, { maxRetriesPerRequest: null });
  admin.on('error', () => undefined); // while the server is killed
});

afterAll(async () => {
  admin?.disconnect();
  await server?.destroy();
});

let seq = 0;
async function fill(stream: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  const m = admin.multi();
  for (let i = 0; i < n; i++) {
    seq++;
    const e: Event = {
      event_id: `wr-${seq}`,
      event_type: 'message_created',
      platform: 'discord',
      channel_id: 'ch',
      user_id: `u-${seq}`,
      author_id: `a-${seq % 11}`,
      content: seq % 5 === 0 ? `you are worthless and I will find you, number ${seq}` : `good game everyone, round ${seq}`,
      created_at: new Date().toISOString(),
      metadata: {},
    };
    ids.push(e.event_id);
    m.xadd(stream, '*', 'v', STREAM_SCHEMA_VERSION, 'event_id', e.event_id, 'event', JSON.stringify(e), 'ingested_at', e.created_at, 'batch_id', 'b', 'traceparent', traceparentFor());
  }
  await m.exec();
  return ids;
}

async function worker(prefix: string) {
  const port = await freePort();
  const cli = startCli(['screen-worker', '--host', '127.0.0.1', '--port', String(port), '--prefix', prefix, '--batch-size', '16', '--block-ms', '200', '--claim-idle-ms', '1000'], {
    REDIS_URL: server.url,
    LOG_LEVEL: 'warn',
  });
  await waitForHttp(`http://127.0.0.1:${port}/health`, 20_000);
  return { ...cli, port };
}

async function routed(prefix: string): Promise<string[]> {
  const s = streamNames(prefix);
  const out: string[] = [];
  for (const name of [s.lowRisk, s.reasoning]) for (const [, f] of await streamEntries(admin, name)) out.push(f.event_id);
  return out;
}

describe('screen-worker through crashes', () => {
  it('SIGKILL of the worker while Redis is killed and restarted (AOF): every event routed exactly once', async () => {
    const prefix = uniquePrefix('wr');
    const s = streamNames(prefix);
    const ids = await fill(s.raw, 400);
    const first = await worker(prefix);
    try {
      await until(() => routed(prefix), (r) => r.length >= 40, 20_000, 'first routes');
      // Both die at once, mid-stream.
      first.child.kill('SIGKILL');
      await server.stop();
      await first.exited;
      await sleep(300);
      await server.start();
    } finally {
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
    }
    const before = (await routed(prefix)).length;
    expect(before).toBeLessThan(400); // the crash really was mid-stream
    const second = await worker(prefix);
    try {
      const all = await until(() => routed(prefix), (r) => r.length >= 400, 30_000, 'all routed');
      await sleep(500); // anything routed twice would show up now
      const final = await routed(prefix);
      expect(final.length).toBe(400);
      expect(new Set(final).size).toBe(400);
      expect(new Set(final)).toEqual(new Set(ids));
      expect(all.length).toBe(400);
      const [group] = (await admin.xinfo('GROUPS', s.raw)) as unknown[][];
      const info = Object.fromEntries((group as unknown[]).reduce<[string, unknown][]>((acc, v, i, arr) => (i % 2 === 0 ? [...acc, [String(v), arr[i + 1]]] : acc), []));
      expect(Number(info.pending)).toBe(0);
      expect(await admin.exists(s.deadletter)).toBe(0);
      console.log(`worker + Redis crash: ${before} routed before, all 400 exactly once after the restart`);
    } finally {
      second.child.kill('SIGTERM');
      await Promise.race([second.exited, sleep(10_000)]);
      if (second.child.exitCode === null) second.child.kill('SIGKILL');
    }
  }, 90_000);

  it('SIGTERM while Redis is down: the worker exits within 5 s', async () => {
    const prefix = uniquePrefix('wr-term');
    await fill(streamNames(prefix).raw, 20);
    const w = await worker(prefix);
    try {
      await until(() => routed(prefix), (r) => r.length >= 20, 20_000, 'routed');
      await server.stop();
      await sleep(500);
      const t0 = Date.now();
      w.child.kill('SIGTERM');
      const exit = await Promise.race([w.exited, sleep(25_000).then(() => ({ code: 'still running', signal: null }))]);
      const ms = Date.now() - t0;
      console.log(`screen-worker SIGTERM with Redis down: exit ${JSON.stringify(exit)} after ${ms} ms`);
      expect(ms).toBeLessThan(5_000);
    } finally {
      if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await server.start();
    }
  }, 60_000);
});
