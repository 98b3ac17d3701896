import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createConsumerRedis } from '../../src/common/redis.js';
import { traceparentFor } from '../../src/common/trace.js';
import { GROUPS, RiskPrediction, STREAM_SCHEMA_VERSION, decodeRouted, fieldsToObject, type Event } from '../../src/models/index.js';
import { buildScreenApp } from '../../src/screen/app.js';
import { createEmbedder } from '../../src/embed/index.js';
import { Screener } from '../../src/screen/screener.js';
import { ScreenWorker } from '../../src/screen/worker.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { streamNames } from '../../src/stream/keys.js';
import { RedisBus } from '../../src/stream/redis/bus.js';

/*
 * The worker and the API with the real Screener (hash embedder, built-in exemplars and policy):
 * a clear threat is routed to the reasoning queue, a friendly message to low_risk.
 */

let admin: Redis;
let screener: Screener;
const prefix = uniquePrefix('sw-real');
const streams = streamNames(prefix);

const THREAT = 'I know where you live and I am going to kill you and your family tonight';
const BENIGN = 'thanks everyone, great game tonight! see you all tomorrow';

function event(id: string, content: string, over: Partial<Event> = {}): Event {
  return {
    event_id: id,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: 'general',
    user_id: `u-${id}`,
    author_id: `a-${id}`,
    content,
    created_at: new Date().toISOString(),
    metadata: {},
    ...over,
  };
}

beforeAll(async () => {
  admin = await connectTestRedis();
  screener = await Screener.create({ embedder: await createEmbedder({ kind: 'hash' }) });
});

afterAll(async () => {
  await screener.close();
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
});

describe('screen worker with the real Screener', () => {
  it('routes a clear threat to the reasoning queue and a benign message to low_risk, with valid predictions', async () => {
    const threat = event('real-threat', THREAT);
    const benign = event('real-benign', BENIGN);
    for (const e of [threat, benign]) {
      await admin.xadd(streams.raw, '*', 'v', STREAM_SCHEMA_VERSION, 'event_id', e.event_id, 'event', JSON.stringify(e), 'ingested_at', e.created_at, 'batch_id', 'b', 'traceparent', traceparentFor());
    }
    const redis = createConsumerRedis(REDIS_URL);
    const blockingRedis = createConsumerRedis(REDIS_URL);
    const threshold = screener.policy.thresholds.screening;
    const w = new ScreenWorker({ bus: new RedisBus(redis, REDIS_URL, { role: 'consumer', prefix }), screener, threshold, blockMs: 100 });
    try {
      await w.start();
      const deadline = Date.now() + 15_000;
      while ((await admin.xlen(streams.reasoning)) + (await admin.xlen(streams.lowRisk)) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const reasoning = (await admin.xrange(streams.reasoning, '-', '+')).map(([, f]) => decodeRouted(fieldsToObject(f)));
      const low = (await admin.xrange(streams.lowRisk, '-', '+')).map(([, f]) => decodeRouted(fieldsToObject(f)));
      expect(reasoning.map((r) => r.event.event_id)).toEqual(['real-threat']);
      expect(low.map((r) => r.event.event_id)).toEqual(['real-benign']);
      const t = reasoning[0].prediction;
      expect(t.risk_score).toBeGreaterThanOrEqual(threshold);
      expect(t.risk_category).toBe('threat');
      expect(t.policy_fingerprint).toBe(screener.fingerprint);
      expect(low[0].prediction.risk_score).toBeLessThan(threshold);
      expect(Number(((await admin.xpending(streams.raw, GROUPS.screening)) as unknown[])[0])).toBe(0);
      expect(w.metrics.snapshot().routed).toEqual({ reasoning_queue: 1, low_risk: 1 });
    } finally {
      await w.close();
      redis.disconnect();
      blockingRedis.disconnect();
    }
  });

  it('POST /v1/risk/screen scores one text with the real Screener', async () => {
    const app = await buildScreenApp({ screener, threshold: screener.policy.thresholds.screening, apiKeys: ['real-key-1234'] });
    try {
      const res = await app.inject({ method: 'POST', url: '/v1/risk/screen', payload: { content: THREAT, event_id: 'api-real' }, headers: { 'api-key': 'real-key-1234' } });
      expect(res.statusCode).toBe(200);
      const p = RiskPrediction.parse(res.json());
      expect(p).toMatchObject({ event_id: 'api-real', risk_category: 'threat' });
      expect(p.risk_score).toBeGreaterThanOrEqual(0.7);
      expect(p.details.reason.length).toBeGreaterThan(0);

      const ok = RiskPrediction.parse((await app.inject({ method: 'POST', url: '/v1/risk/screen', payload: { content: BENIGN }, headers: { 'api-key': 'real-key-1234' } })).json());
      expect(ok.risk_level).toBe('LOW');
      const health = (await app.inject('/health')).json();
      expect(health).toEqual({ status: 'ok', service: 'risk-screening', device: screener.device, embedding_model: screener.modelId });
    } finally {
      await app.close();
    }
  });
});
