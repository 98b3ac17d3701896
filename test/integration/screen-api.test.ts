import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createConsumerRedis } from '../../src/common/redis.js';
import { GROUPS, RiskPrediction, type Event } from '../../src/models/index.js';
import { buildScreenApp } from '../../src/screen/app.js';
import { createScreenMetrics } from '../../src/screen/metrics.js';
import { startScreenService } from '../../src/screen/service.js';
import type { ScreenFn } from '../../src/screen/worker.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { silentLogger } from '../../src/common/logger.js';
import { waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { streamNames } from '../../src/stream/keys.js';

/*
 * The screening HTTP API through inject(), on real Redis, with a tiny scorer defined here (the
 * real Screener behind the same API is tested in screen-worker-screener.test.ts).
 */

const KEY = 'screen-test-key-1';
let admin: Redis;
let redis: Redis;
let bus: RedisBus;
let app: FastifyInstance;
const prefix = uniquePrefix('screen-api');
const streams = streamNames(prefix);
const seen: Event[] = [];

const scorer: ScreenFn = {
  modelId: 'test-scorer',
  dim: 8,
  device: 'cpu',
  fingerprint: 'fp-test',
  async screenBatch(items) {
    seen.push(...items.map((i) => i.event));
    return items.map(({ event }) => {
      const high = event.content.includes('ROUTE_HIGH');
      return {
        event_id: event.event_id,
        risk_score: high ? 0.9 : 0.1,
        risk_level: high ? 'HIGH' : 'LOW',
        risk_category: high ? 'threat' : 'low_risk',
        confidence: 0.8,
        flags: high ? ['threat_language'] : [],
        details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'test' },
        screening_time_ms: 0.1,
        model_version: 'test-scorer',
        policy_fingerprint: 'fp-test',
      };
    });
  },
};

beforeAll(async () => {
  admin = await connectTestRedis();
  redis = createConsumerRedis(REDIS_URL);
  await redis.ping();
  bus = new RedisBus(redis, REDIS_URL, { role: 'consumer', prefix });
  const metrics = createScreenMetrics(() => bus.groupInfo({ stream: 'raw', group: GROUPS.screening }));
  app = await buildScreenApp({ screener: scorer, threshold: 0.7, bus, consumer: 'api-test', metrics, apiKeys: [KEY] });
});

afterAll(async () => {
  await app.close();
  redis.disconnect();
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
});

const screen = (payload: unknown, headers: Record<string, string> = { 'api-key': KEY }, url = '/v1/risk/screen') =>
  app.inject({ method: 'POST', url, payload: payload as object, headers });

describe('screen API', () => {
  it('GET /health names the service, device and model', async () => {
    const res = await app.inject('/health');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', service: 'risk-screening', device: 'cpu', embedding_model: 'test-scorer' });
  });

  it('GET /ready is 200 with Redis and the model, 503 while the model loads', async () => {
    const res = await app.inject('/ready');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', redis: 'ok', model: 'loaded' });

    const loading = await buildScreenApp({ screener: () => undefined, threshold: 0.7, bus });
    const r2 = await loading.inject('/ready');
    expect(r2.statusCode).toBe(503);
    expect(r2.headers['retry-after']).toBe('5');
    expect(r2.json()).toMatchObject({ status: 'not_ready', model: 'loading' });
    const r3 = await loading.inject({ method: 'POST', url: '/v1/risk/screen', payload: { content: 'hi' } });
    expect(r3.statusCode).toBe(503);
    expect(r3.json().code).toBe('RP_ERR_NOT_READY');
    await loading.close();
  });

  it('GET /ready is 503 when Redis is unreachable, without waiting for it', async () => {
    const dead = createConsumerRedis('redis://127.0.0.1:1', { retryStrategy: () => 60_000 });
    dead.on('error', () => undefined);
    const a = await buildScreenApp({ screener: scorer, threshold: 0.7, bus: new RedisBus(dead, undefined, { role: 'consumer' }) });
    const t0 = Date.now();
    const res = await a.inject('/ready');
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(res.statusCode).toBe(503);
    expect(res.json().redis).toMatch(/^unavailable/);
    const m = await a.inject('/v1/metrics');
    expect(m.statusCode).toBe(200);
    expect(m.json()).toMatchObject({ queue_depth: null, pending: null });
    await a.close();
    dead.disconnect();
  });

  it('POST /v1/risk/screen returns a RiskPrediction for {"content"} with a generated event_id', async () => {
    const res = await screen({ content: 'ROUTE_HIGH you are going to regret this' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(RiskPrediction.parse(body)).toEqual(body);
    expect(body).toMatchObject({ risk_score: 0.9, risk_level: 'HIGH', risk_category: 'threat', flags: ['threat_language'], policy_fingerprint: 'fp-test' });
    expect(body.event_id).toMatch(/^screen-/);
  });

  it('accepts full event fields, and content / event_id in the query string', async () => {
    const full = await screen({ event_id: 'evt-api-1', content: 'hello', platform: 'Twitch', author_id: 'streamer', channel_id: 'c9', metadata: { account_age_days: 2 } });
    expect(full.statusCode).toBe(200);
    expect(full.json().event_id).toBe('evt-api-1');
    expect(seen.at(-1)).toMatchObject({ event_id: 'evt-api-1', platform: 'twitch', author_id: 'streamer', user_id: 'streamer', channel_id: 'c9', metadata: { account_age_days: 2 } });

    const q = await app.inject({ method: 'POST', url: '/v1/risk/screen?content=from%20the%20query&event_id=q-1', headers: { 'api-key': KEY } });
    expect(q.statusCode).toBe(200);
    expect(q.json().event_id).toBe('q-1');
    expect(seen.at(-1)!.content).toBe('from the query');
  });

  it('requires the api-key (header or Bearer)', async () => {
    const none = await screen({ content: 'hi' }, {});
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ code: 'RP_ERR_UNAUTHORIZED', errors: [] });
    expect((await screen({ content: 'hi' }, { 'api-key': 'wrong-key-123' })).statusCode).toBe(401);
    expect((await screen({ content: 'hi' }, { authorization: `Bearer ${KEY}` })).statusCode).toBe(200);
  });

  it('rejects missing, empty and too long content naming the field, in the shared error shape', async () => {
    const missing = await screen({ event_id: 'x' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ detail: 'Missing required fields: [content]', code: 'RP_ERR_VALIDATION', errors: [{ path: 'content', message: 'Missing required field' }] });

    const empty = await screen({ content: '   ' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().errors).toEqual([{ path: 'content', message: 'Content too short (min: 1)' }]);

    const long = await screen({ content: 'a'.repeat(10_001) });
    expect(long.statusCode).toBe(400);
    expect(long.json().errors).toEqual([{ path: 'content', message: 'Content too long (max: 10000)' }]);

    const badField = await screen({ content: 'hi', platform: 'myspace' });
    expect(badField.statusCode).toBe(400);
    expect(badField.json().errors[0].path).toBe('platform');

    const notObject = await screen([1, 2]);
    expect(notObject.statusCode).toBe(400);
    expect(notObject.json().code).toBe('RP_ERR_VALIDATION');

    const badJson = await app.inject({ method: 'POST', url: '/v1/risk/screen', payload: '{"content": ', headers: { 'api-key': KEY, 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().code).toBe('RP_ERR_BAD_JSON');

    const noBody = await app.inject({ method: 'POST', url: '/v1/risk/screen', headers: { 'api-key': KEY } });
    expect(noBody.statusCode).toBe(400);
    expect(noBody.json().errors).toEqual([{ path: 'content', message: 'Missing required field' }]);
  });

  it('GET /v1/metrics reports the group, threshold and model; GET /metrics is Prometheus text', async () => {
    await admin.xgroup('CREATE', streams.raw, GROUPS.screening, '0', 'MKSTREAM');
    await admin.xadd(streams.raw, '*', 'v', '1');
    await admin.xadd(streams.raw, '*', 'v', '1');
    await admin.xreadgroup('GROUP', GROUPS.screening, 'x', 'COUNT', 1, 'STREAMS', streams.raw, '>');
    const res = await app.inject('/v1/metrics');
    expect(res.statusCode).toBe(200);
    const m = res.json();
    expect(m).toMatchObject({
      queue_depth: 1,
      lag: 1,
      pending: 1,
      threshold: 0.7,
      embedding_dim: 8,
      model: 'test-scorer',
      device: 'cpu',
      consumer: 'api-test',
      redis: 'ok',
      routed: { reasoning_queue: 0, low_risk: 0 },
      deadlettered: 0,
      claimed: 0,
    });
    expect(m.lag_seconds).toBeGreaterThanOrEqual(0);
    expect(m.categories).toHaveProperty('threat', 0);

    const prom = await app.inject('/metrics');
    expect(prom.statusCode).toBe(200);
    expect(prom.headers['content-type']).toMatch(/text\/plain/);
    expect(prom.body).toContain('riskpipe_screen_lag 1');
    expect(prom.body).toContain('riskpipe_screen_pending 1');
    expect(prom.body).toContain('riskpipe_screen_sync_request_duration_seconds_count');
  });

  it('startScreenService: listens before the model has loaded (/ready 503), then runs the worker; close() is idempotent', async () => {
    const svcPrefix = uniquePrefix('screen-svc');
    let release!: () => void;
    const loaded = new Promise<void>((r) => (release = r));
    let closedModel = 0;
    const port = await freePort();
    const starting = startScreenService(
      { redisUrl: REDIS_URL, prefix: svcPrefix, host: '127.0.0.1', port, apiKeys: [], claimIdleMs: 30_000, maxDeliveries: 5, batchSize: 64, blockMs: 100 },
      silentLogger,
      async () => {
        await loaded;
        return { screener: { ...scorer, close: async () => void closedModel++ }, threshold: 0.5 };
      },
    );
    let svc: Awaited<typeof starting> | undefined;
    try {
      // The app answers while the model is still loading.
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      expect(health).toEqual({ status: 'ok', service: 'risk-screening', device: null, embedding_model: null });
      const loading = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(loading.status).toBe(503);
      expect(await loading.json()).toMatchObject({ status: 'not_ready', model: 'loading', worker: 'stopped' });
      release();
      svc = await starting;
      await svc.started;
      const ready = await fetch(`${svc.url}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', worker: 'running', model: 'loaded' });
      const m = await (await fetch(`${svc.url}/v1/metrics`)).json();
      expect(m).toMatchObject({ threshold: 0.5, consumer: svc.consumer, model: 'test-scorer' });
      await Promise.all([svc.close(), svc.close()]);
      expect(closedModel).toBe(1);
      expect(svc.worker!.isRunning).toBe(false);
    } finally {
      await svc?.close();
      await cleanupPrefix(admin, svcPrefix);
    }
  });

  it('answers unknown routes with 404 in the shared shape', async () => {
    const res = await app.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'RP_ERR_NOT_FOUND', errors: [] });
  });
});
