import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { createConsumerRedis } from '../../src/common/redis.js';
import { traceparentFor } from '../../src/common/trace.js';
import { GROUPS, STREAM_SCHEMA_VERSION, fieldsToObject, type Event, type RiskPrediction } from '../../src/models/index.js';
import { ScreenWorker, type ScreenFn } from '../../src/screen/worker.js';
import { streamNames } from '../../src/stream/keys.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { ROOT } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { PrivateRedis } from '../helpers/redis-server.js';

/*
 * Crashes and restarts: a worker process killed with SIGKILL loses nothing (a second worker
 * claims its pending entries), SIGTERM finishes the batch in hand, and a Redis restart does not
 * stop a worker. The worker processes run the real ScreenWorker through tsx, with a slow test
 * scorer so that a batch is surely in hand when the signal arrives.
 */

let admin: Redis;
const prefixes: string[] = [];
let dir: string;
let childScript: string;

const CHILD = (root: string) => `
import { RedisBus } from ${JSON.stringify(pathToFileURL(join(root, 'src/stream/redis/bus.ts')).href)};
import { ScreenWorker } from ${JSON.stringify(pathToFileURL(join(root, 'src/screen/worker.ts')).href)};

const delayMs = Number(process.env.DELAY_MS ?? 0);
const hangAfter = Number(process.env.HANG_AFTER_CALLS ?? Infinity);
let calls = 0;
const scorer = {
  modelId: 'test-scorer', dim: 8, device: 'cpu', fingerprint: 'test',
  async screenBatch(items) {
    // Calls past HANG_AFTER_CALLS never finish: their entries are surely in hand at a SIGKILL.
    if (++calls > hangAfter) await new Promise(() => {});
    await new Promise((r) => setTimeout(r, delayMs));
    return items.map(({ event }) => ({
      event_id: event.event_id, risk_score: 0.1, risk_level: 'LOW', risk_category: 'low_risk', confidence: 0.9, flags: [],
      details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'child' },
      screening_time_ms: 0, model_version: 'test', policy_fingerprint: 'test',
    }));
  },
};
const bus = RedisBus.connect({ redisUrl: process.env.REDIS_URL, role: 'consumer', prefix: process.env.PREFIX });
const worker = new ScreenWorker({
  bus, screener: scorer, threshold: 0.7, consumer: process.env.CONSUMER,
  batchSize: Number(process.env.BATCH_SIZE), concurrency: Number(process.env.CONCURRENCY ?? 2), blockMs: 200,
});
await worker.start();
process.stdout.write('started\\n');
process.on('SIGTERM', async () => {
  await worker.close();
  await bus.close();
  process.stdout.write('closed\\n');
});
`;

function spawnWorker(env: Record<string, string>): { child: ChildProcess; started: Promise<void>; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript], { cwd: ROOT, env: { ...process.env, REDIS_URL, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('started')) resolve();
    });
    child.stderr!.on('data', (d) => (out += d));
    child.once('exit', (c) => reject(new Error(`worker exited (${c}) before starting:\n${out}`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, started, exited, output: () => out };
}

let seq = 0;
function rawFields(content = `message ${seq}`): string[] {
  seq++;
  const e: Event = {
    event_id: `c-${seq}`,
    event_type: 'message_created',
    platform: 'slack',
    channel_id: 'ch',
    user_id: 'u',
    author_id: `a-${seq % 7}`,
    content,
    created_at: new Date().toISOString(),
    metadata: {},
  };
  return Object.entries({ v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: JSON.stringify(e), ingested_at: e.created_at, batch_id: 'b', traceparent: traceparentFor() }).flat();
}

async function fill(r: Redis, stream: string, n: number): Promise<void> {
  const m = r.multi();
  for (let i = 0; i < n; i++) m.xadd(stream, '*', ...rawFields());
  await m.exec();
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pending = async (r: Redis, stream: string) => Number(((await r.xpending(stream, GROUPS.screening)) as unknown[])[0]);

async function routedSources(r: Redis, prefix: string): Promise<string[]> {
  const s = streamNames(prefix);
  const out: string[] = [];
  for (const name of [s.reasoning, s.lowRisk]) for (const [, f] of await r.xrange(name, '-', '+')) out.push(fieldsToObject(f).source_id);
  return out;
}

const scorer: ScreenFn = {
  modelId: 'test-scorer',
  dim: 8,
  device: 'cpu',
  fingerprint: 'test',
  async screenBatch(items): Promise<RiskPrediction[]> {
    return items.map(({ event }) => ({
      event_id: event.event_id,
      risk_score: 0.1,
      risk_level: 'LOW',
      risk_category: 'low_risk',
      confidence: 0.9,
      flags: [],
      details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'in-process' },
      screening_time_ms: 0,
      model_version: 'test',
      policy_fingerprint: 'test',
    }));
  },
};

beforeAll(async () => {
  admin = await connectTestRedis();
  dir = mkdtempSync(join(tmpdir(), 'riskpipe-screen-'));
  childScript = join(dir, 'worker-child.mts');
  writeFileSync(childScript, CHILD(ROOT));
});

afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(admin, p);
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('screen worker crash recovery', () => {
  it('a worker killed with SIGKILL while holding entries loses none: another claims them, each source id is routed exactly once', async () => {
    const prefix = uniquePrefix('sw-kill');
    prefixes.push(prefix);
    const streams = streamNames(prefix);
    const total = 400;
    await fill(admin, streams.raw, total);

    const victim = spawnWorker({ PREFIX: prefix, CONSUMER: 'victim', BATCH_SIZE: '50', DELAY_MS: '50', HANG_AFTER_CALLS: '3' });
    await victim.started;
    // Three batches routed, two in hand: then the process dies without any chance to clean up.
    await until(async () => [await admin.xlen(streams.lowRisk), await pending(admin, streams.raw)], ([routed, held]) => routed === 150 && held === 100);
    victim.child.kill('SIGKILL');
    await victim.exited;
    const left = await pending(admin, streams.raw);
    expect(left).toBe(100);
    expect((await routedSources(admin, prefix)).length).toBe(150);

    const redis = createConsumerRedis(REDIS_URL);
    const blockingRedis = createConsumerRedis(REDIS_URL);
    const rescuer = new ScreenWorker({ bus: new RedisBus(redis, REDIS_URL, { role: 'consumer', prefix }), screener: scorer, threshold: 0.7, consumer: 'rescuer', claimIdleMs: 200, blockMs: 100 });
    try {
      await rescuer.start();
      await until(() => routedSources(admin, prefix), (s) => s.length >= total);
      await until(() => pending(admin, streams.raw), (n) => n === 0);
      const sources = await routedSources(admin, prefix);
      expect(sources).toHaveLength(total);
      expect(new Set(sources).size).toBe(total);
      const ids = (await admin.xrange(streams.raw, '-', '+')).map(([id]) => id);
      expect(new Set(sources)).toEqual(new Set(ids));
      expect(rescuer.metrics.snapshot().claimed).toBe(left);
    } finally {
      await rescuer.close();
      redis.disconnect();
      blockingRedis.disconnect();
    }
  });

  it('SIGTERM: stops reading, finishes and acks the batch in hand, exits 0', async () => {
    const prefix = uniquePrefix('sw-term');
    prefixes.push(prefix);
    const streams = streamNames(prefix);
    await fill(admin, streams.raw, 100);
    const w = spawnWorker({ PREFIX: prefix, CONSUMER: 'term', BATCH_SIZE: '40', DELAY_MS: '1500', CONCURRENCY: '1' });
    await w.started;
    await until(() => pending(admin, streams.raw), (n) => n === 40);
    w.child.kill('SIGTERM');
    const { code } = await w.exited;
    expect(code).toBe(0);
    expect(w.output()).toContain('closed');
    expect(await pending(admin, streams.raw)).toBe(0);
    expect(await admin.xlen(streams.lowRisk)).toBe(40);
    const [group] = (await admin.xinfo('GROUPS', streams.raw)) as unknown[][];
    const info = fieldsToObject(group.map(String));
    expect(info.lag).toBe('60');
  });

  it('rides out a Redis restart: the worker keeps running, re-creates its group and routes new events', async () => {
    const server = await PrivateRedis.start();
    const prefix = uniquePrefix('sw-restart');
    const streams = streamNames(prefix);
    const redis = createConsumerRedis(server.url);
    const blockingRedis = createConsumerRedis(server.url);
    redis.on('error', () => undefined);
    blockingRedis.on('error', () => undefined);
    const w = new ScreenWorker({ bus: new RedisBus(redis, server.url, { role: 'consumer', prefix }), screener: scorer, threshold: 0.7, blockMs: 200 });
    const probe = () => {
      const c = createConsumerRedis(server.url);
      c.on('error', () => undefined);
      return c;
    };
    let c = probe();
    try {
      await w.start();
      await fill(c, streams.raw, 10);
      await until(() => c.xlen(streams.lowRisk), (n) => n === 10);
      c.disconnect();

      await server.stop();
      await new Promise((r) => setTimeout(r, 500));
      await server.start();
      c = probe();
      // A restarted Redis without persistence has lost the stream and the group.
      await fill(c, streams.raw, 10);
      await until(() => c.xlen(streams.lowRisk), (n) => n === 10, 20_000);
      expect(await pending(c, streams.raw)).toBe(0);
      expect(w.isRunning).toBe(true);
    } finally {
      await w.close();
      redis.disconnect();
      blockingRedis.disconnect();
      c.disconnect();
      await server.stop();
    }
  });

  it('close() while Redis is away returns at once, not at its deadline (SIGTERM used to take the full 20 s)', async () => {
    const server = await PrivateRedis.start();
    const redis = createConsumerRedis(server.url);
    const blockingRedis = createConsumerRedis(server.url);
    redis.on('error', () => undefined);
    blockingRedis.on('error', () => undefined);
    const bus = new RedisBus(redis, server.url, { role: 'consumer', prefix: uniquePrefix('sw-away') });
    const w = new ScreenWorker({ bus, screener: scorer, threshold: 0.7, blockMs: 300 });
    let stopped = false;
    try {
      await w.start();
      await new Promise((r) => setTimeout(r, 100));
      await server.stop();
      stopped = true;
      await new Promise((r) => setTimeout(r, 200));
      const t0 = Date.now();
      await w.close(); // the default deadline: 20 s
      await bus.close();
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(w.isRunning).toBe(false);
    } finally {
      redis.disconnect();
      blockingRedis.disconnect();
      // PrivateRedis.stop() waits for an exit that already happened when called twice.
      if (!stopped) await server.stop();
    }
  });
});
