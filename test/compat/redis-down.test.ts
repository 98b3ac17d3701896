import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedis } from '../helpers/redis-server.js';
import { HttpxLikeClient, ORIGINAL_KEYS, originalEvent, startService, type Service } from './original-client.js';

/*
 * Both services while Redis is away (a private redis-server, killed): every 503 answer has
 * `detail`, readiness says what is missing, and a SIGTERM'd screen worker exits promptly, saying
 * why, instead of waiting out its close deadline.
 */

let redis: PrivateRedis;
let ingest: Service;
let screen: Service;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  const env = { REDIS_URL: redis.url, RISKPIPE_API_KEYS: ORIGINAL_KEYS };
  [ingest, screen] = await Promise.all([
    startService('serve-ingest', [], env),
    startService('screen-worker', ['--block-ms', '500'], env, { ready: true, timeoutMs: 60_000 }),
  ]);
  await redis.stop();
}, 90_000);

afterAll(async () => {
  await Promise.all([ingest?.stop(2000), screen?.stop(2000)]);
  await redis?.stop();
});

async function untilStatus(c: HttpxLikeClient, path: string, status: number, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await c.get(path);
    if (res.status === status || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Redis down', () => {
  it('ingest: /ready and POST answer 503 with detail; /ready keeps max_queue_depth', async () => {
    const c = new HttpxLikeClient(ingest.url, { 'api-key': 'test-key' });
    const ready = await untilStatus(c, '/ready', 503);
    expect(ready.status).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'not_ready', max_queue_depth: 100000 });
    expect(ready.json().detail).toMatch(/redis/i);
    const post = await c.post('/v1/events/ingest', { json: originalEvent() });
    expect(post.status).toBe(503);
    expect(post.json().detail).toMatch(/redis/i);
    const batch = await c.post('/v1/events/ingest-batch', { json: { events: [originalEvent()] } });
    expect(batch.status).toBe(503);
    expect(typeof batch.json().detail).toBe('string');
    expect((await c.get('/health')).status).toBe(200);
  });

  it('screen: /ready answers 503 with detail and model_loaded still true', async () => {
    const c = new HttpxLikeClient(screen.url);
    const ready = await untilStatus(c, '/ready', 503);
    expect(ready.status).toBe(503);
    expect(ready.json().detail).toMatch(/redis/i);
    expect(ready.json().model_loaded).toBe(true);
  });

  it('a SIGTERM\'d screen worker exits promptly and says why', async () => {
    const before = screen.output().length;
    const t0 = Date.now();
    const exit = await screen.stop(30_000);
    const ms = Date.now() - t0;
    const said = screen.output().slice(before);
    expect(exit.code, said).toBe(0);
    expect(ms, `took ${ms} ms to exit; said after SIGTERM:\n${said}`).toBeLessThan(5_000);
    // It says why it did not wait: its store (Redis) is out of reach.
    expect(said).toMatch(/redis|unreachable/i);
  }, 40_000);

  it('a SIGTERM\'d ingest server exits promptly too', async () => {
    const t0 = Date.now();
    const exit = await ingest.stop(30_000);
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 40_000);
});
