import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { fieldsToObject } from '../../src/models/index.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { HttpxLikeClient, ORIGINAL_KEYS, originalEvent, startService, type Service } from './original-client.js';
import { lowRiskStream, reasoningStream } from './streams.js';

/*
 * The screening service (`riskpipe screen-worker`, real process, real Redis) called as the
 * original Python screening service's clients called it:
 *   httpx.post("/v1/risk/screen", params={"content": ..., "event_id": ...}, headers={"api-key": "test-key"})
 * (query parameters, no body), its answers parsed with the original's pydantic model, and the
 * events it routes after they came in through the ingestion service.
 */

/** The original's RiskPrediction (pydantic): screening_time_ms is an int, details a dict, flags strings. */
const OriginalPrediction = z.object({
  event_id: z.string(),
  risk_score: z.number().min(0).max(1),
  risk_level: z.enum(['LOW', 'MEDIUM', 'HIGH']),
  risk_category: z.string(),
  confidence: z.number(),
  flags: z.array(z.string()),
  details: z.record(z.string(), z.unknown()),
  screening_time_ms: z.number().int(),
});

/** What the original put in details. */
const OriginalDetails = z.object({
  heuristic_score: z.number().min(0).max(1),
  embedding_score: z.number().min(0).max(1),
  similar_events: z.array(z.object({ text: z.string(), score: z.number(), category: z.string() })),
});

const prefix = uniquePrefix('compat-screen');
let admin: Redis;
let ingest: Service;
let screen: Service;
let screening: HttpxLikeClient;
let ingestion: HttpxLikeClient;

const screenText = (content: string, eventId?: string) =>
  screening.post('/v1/risk/screen', { params: eventId ? { content, event_id: eventId } : { content } });

beforeAll(async () => {
  admin = await connectTestRedis();
  const env = { REDIS_URL, RISKPIPE_API_KEYS: ORIGINAL_KEYS };
  [ingest, screen] = await Promise.all([
    startService('serve-ingest', ['--prefix', prefix], env),
    startService('screen-worker', ['--prefix', prefix, '--block-ms', '200'], env, { ready: true, timeoutMs: 60_000 }),
  ]);
  screening = new HttpxLikeClient(screen.url, { 'api-key': 'test-key' });
  ingestion = new HttpxLikeClient(ingest.url, { 'api-key': 'dev-key' });
}, 90_000);

afterAll(async () => {
  await Promise.all([ingest?.stop(), screen?.stop()]);
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
});

describe('service endpoints', () => {
  it('/health has timestamp', async () => {
    const body = (await screening.get('/health')).json();
    expect(body).toMatchObject({ status: 'ok', service: 'risk-screening' });
    expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(60_000);
  });

  it('/ready has model_loaded (a boolean)', async () => {
    const res = await screening.get('/ready');
    expect(res.status).toBe(200);
    expect(res.json().model_loaded).toBe(true);
  });

  it('serves Swagger UI at /docs and the OpenAPI document with the screening route', async () => {
    const ui = await screening.get('/docs/');
    expect(ui.status).toBe(200);
    expect(ui.text).toMatch(/swagger/i);
    const doc = (await screening.get('/openapi.json')).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/risk/screen', '/health', '/ready']));
    expect(doc.paths['/v1/risk/screen'].post.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['content', 'event_id']));
  });

  it('refuses a wrong key; the short keys of the original deployment both work', async () => {
    expect((await screening.post('/v1/risk/screen', { params: { content: 'hi' }, headers: { 'api-key': 'nope' } })).status).toBe(401);
    expect((await screening.post('/v1/risk/screen', { params: { content: 'hi' }, headers: { 'api-key': 'dev-key' } })).status).toBe(200);
  });
});

describe('POST /v1/risk/screen with query parameters and no body', () => {
  it('answers a prediction the original pydantic model accepts: integer screening_time_ms, the precise figure in details', async () => {
    const res = await screenText('You are such a stupid idiot!!!', 'orig-1');
    expect(res.status).toBe(200);
    const p = OriginalPrediction.parse(res.json());
    expect(p.event_id).toBe('orig-1');
    const d = res.json().details;
    expect(typeof d.screening_time_ms_precise).toBe('number');
    expect(Math.abs(d.screening_time_ms_precise - p.screening_time_ms)).toBeLessThanOrEqual(0.5);
  });

  it('details carry heuristic_score, embedding_score and similar_events [{text, score, category}] beside riskpipe\'s breakdown', async () => {
    const res = await screenText('kill yourself, nobody wants you here');
    const d = OriginalDetails.parse(res.json().details);
    expect(d.similar_events.length).toBeGreaterThan(0);
    for (const e of d.similar_events) {
      expect(e.text.length).toBeGreaterThan(0);
      expect(e.score).toBeGreaterThan(0);
    }
    expect(d.similar_events[0].score).toBeGreaterThanOrEqual(d.similar_events[d.similar_events.length - 1].score);
    expect(d.heuristic_score).toBeGreaterThan(0);
    // riskpipe's own fields stay.
    expect(res.json().details).toHaveProperty('signals');
    expect(res.json().details).toHaveProperty('neighbors');
    // A plain message: nothing from the rules.
    const plain = OriginalDetails.parse((await screenText('what time is the meeting tomorrow?')).json().details);
    expect(plain.heuristic_score).toBe(0);
  });

  it('answers a missing content parameter with 422 and FastAPI\'s detail list', async () => {
    const res = await screening.post('/v1/risk/screen', { params: { event_id: 'no-content' } });
    expect(res.status).toBe(422);
    const body = res.json();
    expect(body.detail).toEqual([expect.objectContaining({ type: 'missing', loc: ['query', 'content'], msg: 'Field required' })]);
    expect(body.errors).toEqual([{ path: 'content', message: 'Missing required field' }]);
    const noParams = await screening.post('/v1/risk/screen');
    expect(noParams.status).toBe(422);
    expect(noParams.json().detail[0].loc).toEqual(['query', 'content']);
  });

  it('keeps riskpipe\'s category threat by default (--category-compat riskpipe)', async () => {
    const p = (await screenText("I'm going to find you and kill you")).json();
    expect(p.risk_category).toBe('threat');
  });
});

// The original's flag names and the numeric-code fix come from the screening signals (branch `model`).
describe('flags as the original named them', () => {
  it('"You are such a stupid idiot!!!": repeated_punctuation, offensive_language, targeting_behavior (and riskpipe\'s own)', async () => {
    const p = (await screenText('You are such a stupid idiot!!!')).json();
    expect(p.flags).toEqual(expect.arrayContaining(['repeated_punctuation', 'offensive_language', 'targeting_behavior']));
    expect(p.flags).toEqual(expect.arrayContaining(['targeted_language']));
  });

  it('ALL_CAPS_spam for a shouted message', async () => {
    const p = (await screenText('WHY DOES NOBODY IN THIS SERVER EVER LISTEN TO ME')).json();
    expect(p.flags).toContain('ALL_CAPS_spam');
  });

  it('repeated_name_calling', async () => {
    const p = (await screenText("you idiot, you moron, you absolute loser, you're pathetic")).json();
    expect(p.flags).toContain('repeated_name_calling');
  });

  it('doxxing_attempt for "I know where you live" and addresses', async () => {
    const a = (await screenText('I know where you live')).json();
    expect(a.flags).toContain('doxxing_attempt');
    const b = (await screenText('your address is 42 Elm Street, Springfield, see you soon')).json();
    expect(b.flags).toContain('doxxing_attempt');
  });
});

describe('numeric codes match only as standalone tokens', () => {
  it.each([
    ['a UUID', 'ticket 550e8400-e29b-41d4-1488-446655440000 was closed'],
    ['an id', 'duplicate of event evt_1488_a, closing'],
    ['a hash', 'checksum a3f9-1488-7c2e-0b11 does not match'],
    ['a version', 'version 2.1488.3 released today'],
    ['a timestamp', 'last seen 2026-11-30 10:20:30.1488 UTC'],
    ['a URL', 'see https://example.com/orders/1488/receipt'],
    ['a longer number', 'my order number is 2148803'],
  ])('%s holding "1488" is not hate speech', async (_what, content) => {
    const p = (await screenText(content)).json();
    expect(p.risk_category).not.toBe('hate_speech');
    expect(p.flags).not.toContain('hate_language');
    expect(p.details.category_scores.hate_speech ?? 0).toBeLessThan(0.7);
  });

  it('the standalone code still counts', async () => {
    expect((await screenText('1488 forever, you know what that means')).json().risk_category).toBe('hate_speech');
  });
});

describe('routed predictions (events sent through the ingestion service)', () => {
  it('carry the original fields, an integer screening_time_ms, and rapid_messages for a burst from one author', async () => {
    const author = `burst-${Date.now()}`;
    const events = Array.from({ length: 14 }, (_, i) => originalEvent({ user_id: author, author_id: author, content: `quick message number ${i} from me` }));
    const res = await ingestion.post('/v1/events/ingest-batch', { json: { events } });
    expect(res.json()).toMatchObject({ total: 14, queued: 14 });
    const ids = new Set(events.map((e) => e.event_id as string));
    const deadline = Date.now() + 20_000;
    let routed: Record<string, string>[] = [];
    while (Date.now() < deadline) {
      const all = [
        ...((await admin.xrange(lowRiskStream(prefix), '-', '+')) as [string, string[]][]),
        ...((await admin.xrange(reasoningStream(prefix), '-', '+')) as [string, string[]][]),
      ].map(([, f]) => fieldsToObject(f));
      routed = all.filter((f) => ids.has(f.event_id));
      if (routed.length === events.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(routed).toHaveLength(events.length);
    const predictions = routed.map((f) => OriginalPrediction.parse(JSON.parse(f.prediction)));
    for (const p of predictions) OriginalDetails.parse(p.details);
    expect(predictions.some((p) => p.flags.includes('rapid_messages'))).toBe(true);
  });
});
