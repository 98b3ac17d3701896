import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopSource } from '../../src/ops/top-source.js';
import { createKeys } from '../../src/stream/keys.js';
import { cleanupPrefix, connectTestRedis, uniquePrefix } from '../helpers/redis.js';

const prediction = (category: string, level: string, score: number) =>
  JSON.stringify({ event_id: 'x', risk_score: score, risk_level: level, risk_category: category, details: { reason: `${category} detected` } });

describe('top data source on real Redis', () => {
  let redis: Redis;
  const prefix = uniquePrefix('top');
  const s = createKeys({ prefix }).streams;
  beforeAll(async () => {
    redis = await connectTestRedis();
  });
  afterAll(async () => {
    await cleanupPrefix(redis, prefix);
    redis.disconnect();
  });

  it('reads depths, groups, consumers, dead letters, routing counts, rates and escalations', async () => {
    for (let i = 0; i < 5; i++) await redis.xadd(s.raw, '*', 'v', '1', 'event_id', `e${i}`, 'event', '{}', 'ingested_at', 'now', 'batch_id', 'b', 'traceparent', '');
    await redis.xgroup('CREATE', s.raw, 'risk-screening', '0');
    await redis.xreadgroup('GROUP', 'risk-screening', 'worker-1', 'COUNT', 2, 'STREAMS', s.raw, '>');
    await redis.xadd(s.reasoning, '*', 'event_id', 'old-1', 'prediction', prediction('spam', 'MEDIUM', 0.75));
    await redis.xadd(s.deadletter, '*', 'v', '1', 'stage', 'screen', 'source_stream', s.raw, 'source_id', '1-0', 'error', 'bad json', 'error_code', 'RP_ERR_POISON_ENTRY', 'deliveries', '1', 'fields', '{}', 'failed_at', 'now');

    const source = createTopSource({ redis, prefix, names: s });
    const eventually = async (cond: (x: Awaited<ReturnType<typeof source.snapshot>>) => boolean) => {
      const end = Date.now() + 5000;
      for (;;) {
        const snap = await source.snapshot();
        if (cond(snap) || Date.now() > end) return snap;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      const first = await source.snapshot();
      expect(first.errors).toEqual([]);
      const raw = first.streams.find((x) => x.role === 'raw')!;
      expect(raw).toMatchObject({ name: s.raw, exists: true, length: 5, entriesAdded: 5 });
      expect(first.streams.find((x) => x.role === 'lowRisk')!.exists).toBe(false);
      const g = first.groups.find((x) => x.group === 'risk-screening')!;
      expect(g).toMatchObject({ stream: s.raw, lag: 3, pending: 2 });
      expect(g.consumers).toEqual([expect.objectContaining({ name: 'worker-1', pending: 2 })]);
      expect(first.deadletters.total).toBe(1);
      expect(first.deadletters.latest[0]).toMatchObject({ stage: 'screen', error_code: 'RP_ERR_POISON_ENTRY' });
      // The last minute is read at once: the escalation written before top started counts.
      expect(first.escalations.map((e) => e.event_id)).toEqual(['old-1']);
      expect(first.routing.lastMinute.route.reasoning_queue).toBe(1);
      expect(first.routing.lastMinute.category.spam).toBe(1);

      // Entries the index stage deletes right after routing are still seen (the follower reads as they come).
      const gone = await redis.xadd(s.reasoning, '*', 'event_id', 'new-threat', 'prediction', prediction('threat', 'HIGH', 0.95));
      await new Promise((r) => setTimeout(r, 100));
      await redis.xdel(s.reasoning, gone!);
      for (let i = 0; i < 3; i++) await redis.xadd(s.lowRisk, '*', 'event_id', `ok${i}`, 'prediction', prediction('low_risk', 'LOW', 0.1));
      const second = await eventually((x) => x.routing.lastMinute.route.low_risk === 3 && x.routing.lastMinute.route.reasoning_queue === 2);
      expect(second.routing.lastMinute.route).toEqual({ reasoning_queue: 2, low_risk: 3 });
      expect(second.routing.lastMinute.category.threat).toBe(1);
      expect(second.routing.lastMinute.level).toMatchObject({ HIGH: 1, MEDIUM: 1, LOW: 3 });
      expect(second.routing.total.route).toEqual({ reasoning_queue: 2, low_risk: 3 });
      expect(second.routing.ratePerSec.low_risk).toBeGreaterThan(0);
      expect(second.throughput.screened.length).toBeGreaterThan(0);
      expect(second.escalations[0]).toMatchObject({ event_id: 'new-threat', category: 'threat', level: 'HIGH', score: 0.95, reason: 'threat detected' });
      expect(second.streams.find((x) => x.role === 'reasoning')!.length).toBe(1);

      await redis.xadd(s.lowRisk, '*', 'event_id', 'ok9', 'prediction', prediction('low_risk', 'LOW', 0.1));
      const third = await eventually((x) => x.routing.lastMinute.route.low_risk === 4);
      expect(third.routing.lastMinute.category.low_risk).toBe(4);
      expect(third.routing.total.category.low_risk).toBe(4);
    } finally {
      await source.close();
    }
  });

  it('reports an unreachable Redis inside the snapshot', async () => {
    const { Redis } = await import('ioredis');
    const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on('error', () => {});
    const src = createTopSource({ redis: dead, prefix, names: s });
    const snap = await src.snapshot();
    expect(snap.errors[0]).toMatch(/^redis: /);
    await src.close();
    dead.disconnect();
  });
});
