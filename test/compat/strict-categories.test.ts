import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { fieldsToObject } from '../../src/models/index.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { HttpxLikeClient, ORIGINAL_KEYS, originalEvent, startService, type Service } from './original-client.js';
import { reasoningStream } from './streams.js';

/*
 * `--category-compat strict` (RISKPIPE_CATEGORY_COMPAT=strict): the original's clients know seven
 * categories; riskpipe's `threat` is reported as `targeted_harassment` in API answers and in the
 * predictions routed to events:reasoning_queue.
 */

const ORIGINAL_CATEGORIES = ['low_risk', 'spam', 'toxic', 'targeted_harassment', 'hate_speech', 'self_harm', 'sexual_content'];
const THREAT = "I'm going to find you and kill you";

const prefix = uniquePrefix('compat-strict');
let admin: Redis;
let ingest: Service;
let screen: Service;

beforeAll(async () => {
  admin = await connectTestRedis();
  const env = { REDIS_URL, RISKPIPE_API_KEYS: ORIGINAL_KEYS };
  [ingest, screen] = await Promise.all([
    startService('serve-ingest', ['--prefix', prefix], env),
    startService('screen-worker', ['--prefix', prefix, '--block-ms', '200'], { ...env, RISKPIPE_CATEGORY_COMPAT: 'strict' }, { ready: true, timeoutMs: 60_000 }),
  ]);
}, 90_000);

afterAll(async () => {
  await Promise.all([ingest?.stop(), screen?.stop()]);
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
});

describe('--category-compat strict', () => {
  it('answers a threat as targeted_harassment, with only the original categories anywhere in the prediction', async () => {
    const client = new HttpxLikeClient(screen.url, { 'api-key': 'test-key' });
    const p = (await client.post('/v1/risk/screen', { params: { content: THREAT, event_id: 'strict-1' } })).json();
    expect(p.risk_category).toBe('targeted_harassment');
    expect(p.risk_score).toBeGreaterThanOrEqual(0.7);
    expect(p.details.riskpipe_category).toBe('threat');
    expect(Object.keys(p.details.category_scores)).not.toContain('threat');
    for (const e of p.details.similar_events) expect(ORIGINAL_CATEGORIES).toContain(e.category);
    for (const n of p.details.neighbors) expect(ORIGINAL_CATEGORIES).toContain(n.label);
    expect(JSON.stringify(p)).not.toMatch(/"(category|label|risk_category)":"threat"/);
  });

  it('routes a threat with the category targeted_harassment', async () => {
    const ev = originalEvent({ content: THREAT });
    const ingestion = new HttpxLikeClient(ingest.url, { 'api-key': 'dev-key' });
    expect((await ingestion.post('/v1/events/ingest', { json: ev })).status).toBe(200);
    const deadline = Date.now() + 20_000;
    let prediction: { risk_category: string; details: Record<string, unknown> } | undefined;
    while (!prediction && Date.now() < deadline) {
      const entries = (await admin.xrange(reasoningStream(prefix), '-', '+')) as [string, string[]][];
      const mine = entries.map(([, f]) => fieldsToObject(f)).find((f) => f.event_id === ev.event_id);
      if (mine) prediction = JSON.parse(mine.prediction);
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(prediction?.risk_category).toBe('targeted_harassment');
    expect(prediction?.details.riskpipe_category).toBe('threat');
  });

  it('refuses an unknown mode at start-up, naming the setting', async () => {
    const { runCli } = await import('../helpers/cli.js');
    const res = await runCli(['screen-worker', '--category-compat', 'loose', '--prefix', prefix], { env: { REDIS_URL } });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/categoryCompat \(--category-compat \/ RISKPIPE_CATEGORY_COMPAT\)/);
  });
});
