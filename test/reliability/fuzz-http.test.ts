import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { Redis } from 'ioredis';
import { buildIngestApp } from '../../src/ingest/app.js';
import { buildScreenApp } from '../../src/screen/app.js';
import { createProducerRedis, createConsumerRedis } from '../../src/common/redis.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { createEmbedder } from '../../src/embed/index.js';
import { Screener } from '../../src/screen/screener.js';
import { PLATFORMS, EVENT_TYPES } from '../../src/models/index.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { expectErrorShape, streamEntries } from './support.js';

/*
 * Property-based fuzzing of every HTTP endpoint through inject(): thousands of generated bodies,
 * headers, methods and paths. Properties: never a 5xx (Redis is up), every 4xx in the documented
 * error shape, and every "queued" answer in events:raw exactly once (nothing else in it).
 */

const KEY = 'fuzz-key-12345678';
const RUNS = Number(process.env.RISKPIPE_FUZZ_RUNS ?? 2500);
const prefix = uniquePrefix('fuzz');
const stream = `${prefix}events:raw`;
let admin: Redis;
let producer: Redis;
let consumer: Redis;
let ingest: FastifyInstance;
let screen: FastifyInstance;
let screener: Screener;
/** stream id → event_id of every "queued" answer. */
const queued = new Map<string, string>();
let queuedAnswers = 0;

beforeAll(async () => {
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise((r) => producer.once('ready', r));
  consumer = createConsumerRedis(REDIS_URL);
  ingest = await buildIngestApp({ bus: new RedisBus(producer, undefined, { role: 'producer', prefix }), apiKeys: [KEY], maxBatchSize: 50, bodyLimitBytes: 256 * 1024, limits: { maxJsonDepth: 12, maxMetadataBytes: 2048 } });
  screener = await Screener.create({ embedder: await createEmbedder({ kind: 'hash' }) });
  screen = await buildScreenApp({ screener, threshold: 0.7, bus: new RedisBus(consumer, REDIS_URL, { role: 'consumer', prefix }), apiKeys: [KEY] });
}, 60_000);

afterAll(async () => {
  await ingest?.close();
  await screen?.close();
  await screener?.close();
  producer?.disconnect();
  consumer?.disconnect();
  if (admin) await cleanupPrefix(admin, prefix);
  admin?.disconnect();
});

// ---- generators -----------------------------------------------------------------------------

/**
 * Nesting from a few levels to thousands (past what JSON.stringify can write): a marker that
 * `toJson` expands into text.
 */
class Deep {
  constructor(readonly depth: number) {}
  toJSON() {
    return `\u0001DEEP${this.depth}\u0001`;
  }
}
const deepValue = fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 6000 })).map((d) => new Deep(d));

function deepText(depth: number): string {
  let open = '';
  let close = '';
  for (let i = 0; i < depth; i++) {
    open += i % 2 ? '[' : '{"k":';
    close = (i % 2 ? ']' : '}') + close;
  }
  return `${open}"leaf"${close}`;
}

function toJson(v: unknown): string {
  const s = JSON.stringify(v) ?? 'null';
  return s.replace(/"\\u0001DEEP(\d+)\\u0001"/g, (_m, d) => deepText(Number(d)));
}

const text = fc.oneof(
  { weight: 5, arbitrary: fc.string({ maxLength: 80 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 80 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }) }, // lone surrogates and all
  { weight: 1, arbitrary: fc.constantFrom('', '   ', '\u0000', 'kys', 'free nitro at discord-gift.xyz', 'x'.repeat(10_001)) },
);

const id = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:@#/+=-]{1,24}$/) },
  { weight: 1, arbitrary: text },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.constant('x'.repeat(501))) },
);

const metadata = fc.oneof(
  { weight: 6, arbitrary: fc.record({ user_reputation: fc.double({ min: -1, max: 2, noNaN: true }), account_age_days: fc.integer({ min: -5, max: 5000 }) }, { requiredKeys: [] }) },
  { weight: 3, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 6 }) },
  { weight: 2, arbitrary: deepValue.map((v) => ({ nested: v })) },
  { weight: 1, arbitrary: fc.string({ minLength: 2000, maxLength: 3000 }).map((s) => ({ blob: s })) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.constant(JSON.parse('{"__proto__": {"polluted": true}}')) },
);

/** Mostly the valid value, sometimes a wild one: about half of the events are valid. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, wild: fc.Arbitrary<U>) => fc.oneof({ weight: 14, arbitrary: valid }, { weight: 1, arbitrary: wild });
const goodId = fc.stringMatching(/^[A-Za-z0-9_.:@#/+=-]{1,24}$/);

const eventObject = fc
  .record(
    {
      event_id: mostly(goodId, id),
      event_type: mostly(fc.oneof(fc.constantFrom(...EVENT_TYPES), fc.constantFrom(...EVENT_TYPES).map((t) => t.toUpperCase())), fc.oneof(text, fc.constant(undefined))),
      platform: mostly(fc.oneof(fc.constantFrom(...PLATFORMS), fc.constantFrom(...PLATFORMS).map((p) => ` ${p.toUpperCase()} `)), fc.oneof(text, fc.constant(undefined))),
      channel_id: mostly(fc.option(goodId, { nil: undefined }), id),
      user_id: mostly(goodId, id),
      author_id: mostly(goodId, id),
      content: mostly(fc.oneof(fc.lorem({ maxCount: 12 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 })), fc.oneof(text, fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined))),
      created_at: mostly(fc.option(fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()), { nil: undefined }), fc.oneof(text, fc.integer())),
      metadata: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: metadata }),
    },
    { requiredKeys: ['event_id', 'event_type', 'platform', 'user_id', 'author_id', 'content'] },
  )
  // Unique ids most of the time so that most valid events are queued rather than duplicates.
  .chain((e) => fc.nat().map((n) => (typeof e.event_id === 'string' && /^[A-Za-z0-9]/.test(e.event_id) && n % 8 !== 0 ? { ...e, event_id: `${e.event_id.slice(0, 24)}-${n}` } : e)));

const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 5 }), deepValue, fc.constant(JSON.parse('{"__proto__": 1}')), fc.constant({ constructor: { prototype: { x: 1 } } }));

const batchBody = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: eventObject }, { weight: 1, arbitrary: anyJson }), { maxLength: 60 }).map((events) => ({ events })) },
  { weight: 1, arbitrary: fc.array(eventObject, { maxLength: 5 }) },
  { weight: 1, arbitrary: anyJson },
);

/** A body as it goes on the wire: usually JSON of a generated value, sometimes broken text. */
function wire(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: value.map(toJson) },
    { weight: 1, arbitrary: fc.tuple(value, fc.nat(), fc.string({ maxLength: 3 })).map(([v, n, junk]) => {
      const s = toJson(v);
      const at = s.length === 0 ? 0 : n % s.length;
      return s.slice(0, at) + junk + s.slice(at + 1); // a corrupted byte or two
    }) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('', ' ', '{', '[[[[', '{"events":', '\u0000', '{"a":1}{"b":2}', '"\\ud800"')) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 100_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)) },
  );
}

const contentType = fc.oneof(
  { weight: 12, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '', 'application/jsonx', 'application/*') },
);

const auth = fc.oneof(
  { weight: 10, arbitrary: fc.constant<Record<string, string>>({ 'api-key': KEY }) },
  { weight: 1, arbitrary: fc.constant<Record<string, string>>({ authorization: `Bearer ${KEY}` }) },
  { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>({}, { 'api-key': 'wrong-key-123' }, { authorization: 'Bearer' }, { 'api-key': '' }) },
);

// ---- properties ---------------------------------------------------------------------------

async function check(app: FastifyInstance, req: InjectOptions): Promise<{ status: number; body: unknown }> {
  const res = await app.inject(req);
  const context = `${req.method} ${req.url} → ${res.statusCode}`;
  if (res.statusCode >= 500) expect.fail(`${context}: ${res.body.slice(0, 300)}`);
  let body: unknown = res.body;
  if ((res.headers['content-type'] ?? '').toString().includes('json') && res.body !== '') body = res.json();
  else if (res.statusCode >= 400 && req.method !== 'HEAD') expect.fail(`${context}: not JSON: ${res.body.slice(0, 200)}`);
  if (res.statusCode >= 400 && req.method !== 'HEAD') expectErrorShape(body, context);
  return { status: res.statusCode, body };
}

function noteQueued(eventId: string | null, streamId: string | null | undefined) {
  queuedAnswers++;
  if (typeof streamId !== 'string') expect.fail(`queued without a stream id (${eventId})`);
  if (queued.has(streamId)) expect.fail(`stream id ${streamId} answered twice`);
  queued.set(streamId, String(eventId));
}

describe('fuzzing the ingest API (inject)', () => {
  it(`POST /v1/events/ingest: ${RUNS} generated requests — no 5xx, 4xx in shape, queued means in the stream`, async () => {
    await fc.assert(
      fc.asyncProperty(wire(fc.oneof({ weight: 6, arbitrary: eventObject }, { weight: 1, arbitrary: anyJson })), contentType, auth, async (payload, ct, headers) => {
        const { status, body } = await check(ingest, { method: 'POST', url: '/v1/events/ingest', payload, headers: { ...headers, 'content-type': ct } });
        const b = body as { status?: string; stream_id?: string; event_id?: string };
        if (status === 200 && b.status === 'queued') noteQueued(b.event_id ?? null, b.stream_id);
        if (status === 200) expect(['queued', 'duplicate']).toContain(b.status);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);

  it(`POST /v1/events/ingest-batch: ${Math.round(RUNS / 3)} generated batches — per-item results, no 5xx`, async () => {
    await fc.assert(
      fc.asyncProperty(wire(batchBody), contentType, auth, async (payload, ct, headers) => {
        const { status, body } = await check(ingest, { method: 'POST', url: '/v1/events/ingest-batch', payload, headers: { ...headers, 'content-type': ct } });
        if (status !== 200) return;
        const b = body as { total: number; queued: number; duplicates: number; errors: number; results: { index: number; status: string; stream_id?: string; event_id: string | null; error?: string }[] };
        expect(b.results).toHaveLength(b.total);
        expect(b.queued + b.duplicates + b.errors).toBe(b.total);
        b.results.forEach((r, i) => {
          expect(r.index).toBe(i);
          if (r.status === 'queued') noteQueued(r.event_id, r.stream_id);
          if (r.status === 'rejected') expect(typeof r.error).toBe('string');
        });
      }),
      { numRuns: Math.round(RUNS / 3) },
    );
  }, 120_000);

  it(`every other route and method: ${Math.round(RUNS / 5)} generated requests`, async () => {
    const paths = fc.oneof(
      fc.constantFrom('/health', '/ready', '/v1/metrics', '/metrics', '/openapi.json', '/docs', '/docs/json', '/v1/events/ingest', '/v1/events/ingest-batch', '/', '/v1', '/%', '/%zz', '/v1/events/ingest?x=%ff', '//..//', '/health?' + 'a'.repeat(2000)),
      fc.webPath().map((p) => p || '/'),
    );
    const methods = fc.constantFrom<InjectOptions['method']>('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');
    await fc.assert(
      fc.asyncProperty(methods, paths, fc.option(wire(anyJson), { nil: undefined }), contentType, auth, async (method, url, payload, ct, headers) => {
        await check(ingest, { method, url, payload, headers: payload === undefined ? headers : { ...headers, 'content-type': ct } });
      }),
      { numRuns: Math.round(RUNS / 5) },
    );
  }, 120_000);

  it('every queued answer is in events:raw exactly once, and nothing else is', async () => {
    const entries = await streamEntries(admin, stream);
    expect(queuedAnswers).toBeGreaterThan(RUNS / 10); // the generators do produce valid events
    expect(queued.size).toBe(queuedAnswers);
    const ids = entries.map(([sid]) => sid);
    expect(new Set(ids).size).toBe(ids.length);
    expect(entries.length).toBe(queued.size);
    for (const [sid, fields] of entries) {
      expect(queued.get(sid), `entry ${sid} was never answered as queued`).toBe(fields.event_id);
      // What was queued parses back and is within the limits.
      const ev = JSON.parse(fields.event) as { metadata: unknown };
      expect(Buffer.byteLength(JSON.stringify(ev.metadata))).toBeLessThanOrEqual(2048);
    }
  });
});

describe('fuzzing the screening API (inject, the real Screener)', () => {
  it(`POST /v1/risk/screen and the other routes: ${Math.round(RUNS / 3)} generated requests`, async () => {
    const body = fc.oneof(
      { weight: 4, arbitrary: fc.record({ content: fc.oneof(text, fc.lorem({ maxCount: 20 }), fc.jsonValue({ maxDepth: 2 })), event_id: fc.option(id, { nil: undefined }), metadata: fc.option(metadata, { nil: undefined }) }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: eventObject },
      { weight: 1, arbitrary: anyJson },
    );
    const route = fc.oneof(
      { weight: 6, arbitrary: fc.constant({ method: 'POST' as const, url: '/v1/risk/screen' }) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((q) => ({ method: 'POST' as const, url: `/v1/risk/screen?content=${encodeURIComponent(q)}` })) },
      { weight: 2, arbitrary: fc.constantFrom('/health', '/ready', '/v1/metrics', '/metrics', '/nope', '/v1/risk/screen').chain((url) => fc.constantFrom('GET', 'POST', 'DELETE').map((method) => ({ method: method as 'GET', url }))) },
    );
    await fc.assert(
      fc.asyncProperty(route, fc.option(wire(body), { nil: undefined }), contentType, auth, async ({ method, url }, payload, ct, headers) => {
        const { status, body: answer } = await check(screen, { method, url, payload, headers: payload === undefined ? headers : { ...headers, 'content-type': ct } });
        if (status === 200 && url.startsWith('/v1/risk/screen')) {
          const p = answer as { risk_score: number; risk_level: string };
          expect(p.risk_score).toBeGreaterThanOrEqual(0);
          expect(p.risk_score).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: Math.round(RUNS / 3) },
    );
    // The __proto__ bodies polluted nothing.
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 120_000);
});
