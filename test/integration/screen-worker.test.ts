import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { PermanentError, RiskpipeError } from '../../src/common/errors.js';
import { createConsumerRedis } from '../../src/common/redis.js';
import { traceparentFor } from '../../src/common/trace.js';
import {
  DeadletterEntry,
  GROUPS,
  STREAM_SCHEMA_VERSION,
  decodeRouted,
  fieldsToObject,
  type Event,
  type RiskPrediction,
} from '../../src/models/index.js';
import type { AuthorStats } from '../../src/screen/types.js';
import { ScreenWorker, type ScreenFn } from '../../src/screen/worker.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { streamNames } from '../../src/stream/keys.js';

/*
 * Worker mechanics on real Redis with a tiny scorer defined here: 0.9 for "ROUTE_HIGH", 0.1
 * otherwise; "FAIL_TRANSIENT" / "FAIL_PERMANENT" throw. The real Screener is exercised in
 * screen-worker-screener.test.ts.
 */

let admin: Redis;
const prefixes: string[] = [];
const connections: Redis[] = [];
const workers: ScreenWorker[] = [];

function prediction(event: Event, score: number): RiskPrediction {
  const high = score >= 0.7;
  // "KNOWN" messages have a near-copy in the neighbour index already.
  const neighbors = event.content.includes('KNOWN') ? [{ id: 'ex-1', label: 'threat' as const, similarity: 0.99, source: 'exemplar' as const }] : [];
  return {
    event_id: event.event_id,
    risk_score: score,
    risk_level: high ? 'HIGH' : 'LOW',
    risk_category: high ? 'threat' : 'low_risk',
    confidence: 0.9,
    flags: high ? ['threat_language'] : [],
    details: { signals: {}, neighbors, category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'test scorer' },
    screening_time_ms: 0,
    model_version: 'test-scorer',
    policy_fingerprint: 'test',
  };
}

class TestScorer implements ScreenFn {
  readonly modelId = 'test-scorer';
  readonly dim = 8;
  readonly device = 'cpu';
  readonly fingerprint = 'test';
  calls = 0;
  seen: { event: Event; author?: AuthorStats }[] = [];
  escalated: string[] = [];
  constructor(private readonly delayMs = 0) {}
  async screenBatch(items: { event: Event; author?: AuthorStats }[]): Promise<RiskPrediction[]> {
    this.calls++;
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    for (const it of items) {
      if (it.event.content.includes('FAIL_TRANSIENT')) throw new RiskpipeError('RP_ERR_TRANSIENT', 'model server busy');
      if (it.event.content.includes('FAIL_PERMANENT')) throw new PermanentError('RP_ERR_INTERNAL', 'cannot score this');
    }
    this.seen.push(...items);
    return items.map((it) => prediction(it.event, it.event.content.includes('ROUTE_HIGH') ? 0.9 : 0.1));
  }
  addEscalated(event: Event): void {
    this.escalated.push(event.event_id);
  }
}

let seq = 0;
function event(over: Partial<Event> = {}): Event {
  seq++;
  return {
    event_id: `w-${seq}`,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: 'general',
    user_id: `u-${seq}`,
    author_id: `a-${seq}`,
    content: `hello number ${seq}`,
    created_at: new Date().toISOString(),
    metadata: {},
    ...over,
  };
}

async function writeRaw(stream: string, fields: Record<string, string>): Promise<string> {
  return (await admin.xadd(stream, '*', ...Object.entries(fields).flat())) as string;
}

function rawFields(e: Event, over: Record<string, string> = {}): Record<string, string> {
  return { v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: JSON.stringify(e), ingested_at: new Date().toISOString(), batch_id: 'b1', traceparent: traceparentFor(), ...over };
}

function setup(name: string) {
  const prefix = uniquePrefix(name);
  prefixes.push(prefix);
  return { prefix, streams: streamNames(prefix) };
}

function startWorker(prefix: string, screener: ScreenFn, opts: Partial<ConstructorParameters<typeof ScreenWorker>[0]> = {}) {
  const redis = createConsumerRedis(REDIS_URL);
  const blockingRedis = createConsumerRedis(REDIS_URL);
  connections.push(redis, blockingRedis);
  const w = new ScreenWorker({ bus: new RedisBus(redis, REDIS_URL, { role: 'consumer', prefix }), screener, threshold: 0.7, blockMs: 100, ...opts });
  workers.push(w);
  return w;
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function routedCount(streams: ReturnType<typeof streamNames>): Promise<number> {
  return (await admin.xlen(streams.reasoning)) + (await admin.xlen(streams.lowRisk)) + (await admin.xlen(streams.deadletter));
}

async function pendingCount(stream: string): Promise<number> {
  const summary = (await admin.xpending(stream, GROUPS.screening)) as [number, ...unknown[]];
  return Number(summary[0]);
}

beforeAll(async () => {
  admin = await connectTestRedis();
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
  for (const c of connections.splice(0)) c.disconnect();
});

afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(admin, p);
  admin.disconnect();
});

describe('screen worker on Redis', () => {
  it('creates the group from the start of the stream and routes earlier events to both streams with RoutedEntry fields', async () => {
    const { prefix, streams } = setup('sw-route');
    const low = event({ content: 'good game everyone' });
    const high = event({ content: 'ROUTE_HIGH I will hurt you' });
    const known = event({ content: 'ROUTE_HIGH KNOWN copy of a known threat' });
    const tp = traceparentFor();
    const lowId = await writeRaw(streams.raw, rawFields(low, { traceparent: tp }));
    const highId = await writeRaw(streams.raw, rawFields(high));
    await writeRaw(streams.raw, rawFields(known));
    // Written before the group existed: the group must start at 0, not $.
    const scorer = new TestScorer();
    const w = startWorker(prefix, scorer);
    await w.start();
    await until(() => routedCount(streams), (n) => n === 3);

    const [lowEntries, highEntries] = [await admin.xrange(streams.lowRisk, '-', '+'), await admin.xrange(streams.reasoning, '-', '+')];
    expect(lowEntries).toHaveLength(1);
    expect(highEntries).toHaveLength(2);
    const l = decodeRouted(fieldsToObject(lowEntries[0][1]));
    expect(l.entry).toMatchObject({ v: STREAM_SCHEMA_VERSION, event_id: low.event_id, source_id: lowId, traceparent: tp });
    expect(Date.parse(l.entry.screened_at)).not.toBeNaN();
    expect(l.event).toEqual(low);
    expect(l.prediction).toMatchObject({ event_id: low.event_id, risk_level: 'LOW', risk_category: 'low_risk' });
    const h = decodeRouted(fieldsToObject(highEntries[0][1]));
    expect(h.entry.source_id).toBe(highId);
    expect(h.prediction.risk_score).toBe(0.9);
    // Escalated events join the neighbour index, except near-copies of what it holds.
    expect(scorer.escalated).toEqual([high.event_id]);
    expect(await pendingCount(streams.raw)).toBe(0);
    expect(w.metrics.snapshot()).toMatchObject({ routed: { reasoning_queue: 2, low_risk: 1 }, deadlettered: 0 });
    const info = await w.groupInfo();
    expect(info).toMatchObject({ lag: 0, pending: 0, consumers: 1 });
  });

  it('counts author behaviour per window in Redis and passes it to the scorer', async () => {
    const { prefix, streams } = setup('sw-author');
    const scorer = new TestScorer();
    const w = startWorker(prefix, scorer);
    await w.start();
    const base = { author_id: 'spammer', platform: 'discord' as const, content: 'Buy cheap coins at example.com' };
    await writeRaw(streams.raw, rawFields(event({ ...base, channel_id: 'c1' })));
    await writeRaw(streams.raw, rawFields(event({ ...base, channel_id: 'c2', content: 'buy cheap   COINS at example.com' })));
    await writeRaw(streams.raw, rawFields(event({ ...base, channel_id: 'c2' })));
    await writeRaw(streams.raw, rawFields(event({ author_id: 'someone-else', content: 'hi' })));
    await until(() => routedCount(streams), (n) => n === 4);
    const stats = scorer.seen.map((s) => s.author);
    expect(stats.slice(0, 3)).toEqual([
      { messagesInWindow: 1, windowS: 60, sameContentChannels: 1 },
      { messagesInWindow: 2, windowS: 60, sameContentChannels: 2 },
      { messagesInWindow: 3, windowS: 60, sameContentChannels: 2 },
    ]);
    expect(stats[3]).toEqual({ messagesInWindow: 1, windowS: 60, sameContentChannels: 1 });
    const keys = await admin.keys(`${prefix}author:discord:spammer:*`);
    expect(keys.length).toBe(1);
    for (const k of keys) expect(await admin.ttl(k)).toBeGreaterThan(60);
  });

  it('dead-letters poison entries (bad JSON, unknown schema version, invalid event) with stage, error, deliveries, fields and traceparent, and acks them', async () => {
    const { prefix, streams } = setup('sw-poison');
    const good = event();
    const tp = traceparentFor();
    const ids = {
      badJson: await writeRaw(streams.raw, { v: STREAM_SCHEMA_VERSION, event_id: 'x1', event: '{"event_id": "x1", ', traceparent: tp }),
      badVersion: await writeRaw(streams.raw, rawFields(event(), { v: '99' })),
      noVersion: await writeRaw(streams.raw, { event: JSON.stringify(event()) }),
      invalid: await writeRaw(streams.raw, rawFields(event(), { event: JSON.stringify({ ...event(), content: '', platform: 'myspace' }) })),
      good: await writeRaw(streams.raw, rawFields(good)),
    };
    const w = startWorker(prefix, new TestScorer());
    await w.start();
    await until(() => routedCount(streams), (n) => n === 5);

    const dl = (await admin.xrange(streams.deadletter, '-', '+')).map(([, f]) => DeadletterEntry.parse(fieldsToObject(f)));
    expect(dl).toHaveLength(4);
    const by = Object.fromEntries(dl.map((d) => [d.source_id, d]));
    expect(by[ids.badJson]).toMatchObject({ stage: 'screen', source_stream: streams.raw, error_code: 'RP_ERR_POISON_ENTRY', deliveries: '1', traceparent: tp, v: STREAM_SCHEMA_VERSION });
    expect(by[ids.badJson].error).toMatch(/not valid JSON/);
    expect(JSON.parse(by[ids.badJson].fields)).toEqual({ v: STREAM_SCHEMA_VERSION, event_id: 'x1', event: '{"event_id": "x1", ', traceparent: tp });
    expect(by[ids.badVersion]).toMatchObject({ error_code: 'RP_ERR_SCHEMA_VERSION' });
    expect(by[ids.badVersion].error).toContain('"99"');
    expect(by[ids.noVersion]).toMatchObject({ error_code: 'RP_ERR_SCHEMA_VERSION' });
    expect(by[ids.noVersion].traceparent).toBeUndefined();
    expect(by[ids.invalid]).toMatchObject({ error_code: 'RP_ERR_POISON_ENTRY' });
    expect(by[ids.invalid].error).toMatch(/content/);
    expect(by[ids.invalid].error).toMatch(/platform/);
    expect(Date.parse(by[ids.invalid].failed_at)).not.toBeNaN();
    expect(await admin.xlen(streams.lowRisk)).toBe(1);
    expect(await pendingCount(streams.raw)).toBe(0);
    expect(w.metrics.snapshot().deadlettered).toBe(4);
  });

  it('isolates an entry the scorer rejects for good: it is dead-lettered, the rest of its batch is routed', async () => {
    const { prefix, streams } = setup('sw-permanent');
    for (let i = 0; i < 5; i++) await writeRaw(streams.raw, rawFields(event({ content: i === 2 ? 'FAIL_PERMANENT please' : `fine ${i}` })));
    const w = startWorker(prefix, new TestScorer());
    await w.start();
    await until(() => routedCount(streams), (n) => n === 5);
    expect(await admin.xlen(streams.lowRisk)).toBe(4);
    const [[, f]] = await admin.xrange(streams.deadletter, '-', '+');
    expect(fieldsToObject(f)).toMatchObject({ error_code: 'RP_ERR_INTERNAL', error: 'cannot score this', deliveries: '1' });
    expect(await pendingCount(streams.raw)).toBe(0);
  });

  it('leaves a transiently failing entry pending, claims it again after claimIdleMs, and dead-letters it after maxDeliveries', async () => {
    const { prefix, streams } = setup('sw-transient');
    const badId = await writeRaw(streams.raw, rawFields(event({ content: 'FAIL_TRANSIENT always' })));
    await writeRaw(streams.raw, rawFields(event({ content: 'works' })));
    const w = startWorker(prefix, new TestScorer(), { claimIdleMs: 100, maxDeliveries: 3 });
    await w.start();
    await until(() => admin.xlen(streams.deadletter), (n) => n === 1);
    const [[, f]] = await admin.xrange(streams.deadletter, '-', '+');
    const dl = DeadletterEntry.parse(fieldsToObject(f));
    expect(dl).toMatchObject({ source_id: badId, error_code: 'RP_ERR_MAX_DELIVERIES', deliveries: '4', stage: 'screen' });
    expect(await admin.xlen(streams.lowRisk)).toBe(1);
    expect(await pendingCount(streams.raw)).toBe(0);
    const snap = w.metrics.snapshot();
    expect(snap.transient_failures).toBe(3);
    expect(snap.claimed).toBe(3);
  });

  it('re-reads its own pending entries on start (same consumer name) before new ones', async () => {
    const { prefix, streams } = setup('sw-own');
    await admin.xgroup('CREATE', streams.raw, GROUPS.screening, '0', 'MKSTREAM');
    for (let i = 0; i < 3; i++) await writeRaw(streams.raw, rawFields(event()));
    // A previous life of consumer "fixed" read these and died without acking.
    await admin.xreadgroup('GROUP', GROUPS.screening, 'fixed', 'COUNT', 10, 'STREAMS', streams.raw, '>');
    await writeRaw(streams.raw, rawFields(event()));
    const w = startWorker(prefix, new TestScorer(), { consumer: 'fixed', claimIdleMs: 3_600_000 });
    await w.start();
    await until(() => routedCount(streams), (n) => n === 4);
    expect(await pendingCount(streams.raw)).toBe(0);
    expect(w.metrics.snapshot().claimed).toBe(0);
  });

  it('runs several workers side by side: every entry routed exactly once', async () => {
    const { prefix, streams } = setup('sw-many');
    const n = 1500;
    const pipe = admin.pipeline();
    for (let i = 0; i < n; i++) {
      const e = event({ content: i % 10 === 0 ? `ROUTE_HIGH ${i}` : `msg ${i}` });
      pipe.xadd(streams.raw, '*', ...Object.entries(rawFields(e)).flat());
    }
    await pipe.exec();
    const scorers = [new TestScorer(1), new TestScorer(1), new TestScorer(1)];
    const ws = scorers.map((s) => startWorker(prefix, s, { batchSize: 50 }));
    await Promise.all(ws.map((w) => w.start()));
    await until(() => routedCount(streams), (c) => c >= n, 20_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(await routedCount(streams)).toBe(n);
    expect(await admin.xlen(streams.reasoning)).toBe(n / 10);
    const sources = new Set<string>();
    for (const s of [streams.reasoning, streams.lowRisk]) for (const [, f] of await admin.xrange(s, '-', '+')) sources.add(fieldsToObject(f).source_id);
    expect(sources.size).toBe(n);
    expect(scorers.filter((s) => s.calls > 0).length).toBeGreaterThan(1);
    expect(await pendingCount(streams.raw)).toBe(0);
  });

  it('close() interrupts a blocking read at once and is idempotent', async () => {
    const { prefix } = setup('sw-close');
    const w = startWorker(prefix, new TestScorer(), { blockMs: 20_000 });
    await w.start();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    await Promise.all([w.close(), w.close()]);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(w.isRunning).toBe(false);
    await w.close();
  });

  it('close() leaves the group\'s consumer list, unless entries are still pending for it', async () => {
    const { prefix, streams } = setup('sw-leave');
    const consumers = async () => ((await admin.xinfo('CONSUMERS', streams.raw, GROUPS.screening)) as unknown[][]).map((c) => String(c[1]));
    const w = startWorker(prefix, new TestScorer(), { consumer: 'leaver' });
    await w.start();
    await writeRaw(streams.raw, rawFields(event()));
    await until(() => routedCount(streams), (n) => n === 1);
    expect(await consumers()).toContain('leaver');
    await w.close();
    expect(await consumers()).not.toContain('leaver');

    // A consumer holding pending entries stays listed, so they can still be claimed.
    const w2 = startWorker(prefix, new TestScorer(), { consumer: 'holder', claimIdleMs: 3_600_000 });
    await w2.start();
    await writeRaw(streams.raw, rawFields(event({ content: 'FAIL_TRANSIENT' })));
    await until(async () => w2.metrics.snapshot().transient_failures, (n) => n === 1);
    await w2.close();
    expect(await consumers()).toContain('holder');
    expect(await pendingCount(streams.raw)).toBe(1);
  });

  it('close() finishes and acks the batch in hand', async () => {
    const { prefix, streams } = setup('sw-drain');
    const multi = admin.multi();
    for (let i = 0; i < 30; i++) multi.xadd(streams.raw, '*', ...Object.entries(rawFields(event())).flat());
    await multi.exec();
    const w = startWorker(prefix, new TestScorer(600), { batchSize: 20, concurrency: 1 });
    await w.start();
    await until(() => pendingCount(streams.raw), (n) => n === 20);
    await w.close();
    // The batch in hand was finished and acked; the rest was never read.
    expect(await pendingCount(streams.raw)).toBe(0);
    expect(await admin.xlen(streams.lowRisk)).toBe(20);
    expect((await w.groupInfo()).lag).toBe(10);
  });
});

describe('trimming the raw stream', () => {
  it('removes only entries every group has acknowledged, never pending or undelivered ones', async () => {
    const { prefix, streams } = setup('sw-trim');
    const w = startWorker(prefix, new TestScorer());
    expect(await w.trim()).toBe(0); // no stream
    const add = async (n: number) => {
      const m = admin.multi();
      for (let i = 0; i < n; i++) m.xadd(streams.raw, '*', 'v', '1');
      await m.exec();
    };
    await add(1000);
    expect(await w.trim()).toBe(0); // no group: nobody is known to be done
    await admin.xgroup('CREATE', streams.raw, GROUPS.screening, '0');
    const read = (await admin.xreadgroup('GROUP', GROUPS.screening, 'c', 'COUNT', 1000, 'STREAMS', streams.raw, '>')) as [string, [string, string[]][]][];
    const ids = read[0][1].map(([id]) => id);
    await admin.xack(streams.raw, GROUPS.screening, ...ids.slice(0, 700));
    await add(500);
    const removed = await w.trim();
    expect(removed).toBeGreaterThan(0);
    expect(removed).toBeLessThanOrEqual(700);
    const left = new Set((await admin.xrange(streams.raw, '-', '+')).map(([id]) => id));
    for (const id of ids.slice(700)) expect(left.has(id)).toBe(true);
    expect(left.size).toBe(1500 - removed);

    // Everything acknowledged and delivered: all but the last partial node can go.
    await admin.xack(streams.raw, GROUPS.screening, ...ids.slice(700));
    const rest = (await admin.xreadgroup('GROUP', GROUPS.screening, 'c', 'COUNT', 1000, 'STREAMS', streams.raw, '>')) as [string, [string, string[]][]][];
    const restIds = rest[0][1].map(([id]) => id);
    await admin.xack(streams.raw, GROUPS.screening, ...restIds.slice(0, 499));
    await w.trim();
    const last = restIds[499];
    expect((await admin.xrange(streams.raw, last, last)).length).toBe(1);
    expect(await admin.xlen(streams.raw)).toBeLessThan(200);
  });
});

describe('settle (src/stream/redis/lua/settle.lua)', () => {
  it('is idempotent: a source id is routed only by the call whose XACK removed it', async () => {
    const { prefix, streams } = setup('sw-lua');
    const source = await writeRaw(streams.raw, rawFields(event()));
    await admin.xgroup('CREATE', streams.raw, GROUPS.screening, '0');
    await admin.xreadgroup('GROUP', GROUPS.screening, 'c', 'STREAMS', streams.raw, '>');
    const bus = new RedisBus(admin, undefined, { role: 'consumer', prefix });
    const item = { id: source, output: { stream: 'reasoning' as const, fields: { v: '1', event_id: 'e1', event: '{}', prediction: '{}', source_id: source, traceparent: 'tp' } } };
    const first = await bus.settle({ stream: 'raw', group: GROUPS.screening }, [item]);
    const second = await bus.settle({ stream: 'raw', group: GROUPS.screening }, [item]);
    expect(first[0]).toMatch(/^\d+-\d+$/);
    expect(second).toEqual([null]);
    expect(await admin.xlen(streams.reasoning)).toBe(1);
    expect(await admin.xlen(streams.lowRisk)).toBe(0);
  });
});
