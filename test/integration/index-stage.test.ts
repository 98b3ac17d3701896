import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { createEmbedder } from '../../src/embed/index.js';
import { buildIndexApp, createIndexStage, startIndexService, OpenAIIncidentProvider, RulesIncidentProvider, type IncidentProvider, type IndexStage } from '../../src/index/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import type { Bus } from '../../src/stream/types.js';
import { DiskEventIndex } from '../../src/vector/disk-index.js';
import type { EventIndex } from '../../src/vector/event-index.js';
import { QdrantEventIndex } from '../../src/vector/qdrant.js';
import { DATABASE_URL, escalated, uniqueSchema } from '../fakes/escalated.js';
import { chatAnswer, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';
import { escalate, until } from '../fakes/pipeline.js';
import { startFakeQdrant, type FakeQdrant } from '../fakes/qdrant-server.js';
import { startTcpProxy, type TcpProxy } from '../fakes/tcp-proxy.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/*
 * Stage 3 end to end on real Redis and Postgres: escalated entries are consumed from
 * events:reasoning_queue, stored with incidents, indexed, searchable, and their batch completes;
 * failing tasks (index down, LLM garbage and 500s, Postgres down) leave nothing half-written, are
 * retried, dead-lettered after the allowed attempts, and complete after a replay.
 */

interface World {
  bus: Bus;
  store: Store;
  index: EventIndex;
  stage: IndexStage;
  app: FastifyInstance;
  close(): Promise<void>;
}

const admin = await connectTestRedis();
const prefixes: string[] = [];
const schemas: string[] = [];
const dirs: string[] = [];

async function world(opts: { index?: (dim: number) => EventIndex; incidents?: IncidentProvider; storeUrl?: string; maxDeliveries?: number } = {}): Promise<World> {
  const prefix = uniquePrefix('index');
  prefixes.push(prefix);
  const schema = uniqueSchema('index');
  schemas.push(schema);
  const dir = mkdtempSync(join(tmpdir(), 'rp-index-stage-'));
  dirs.push(dir);
  const bus = RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
  // The store gives up fast when its server is gone, so a "Postgres down" attempt fails quickly.
  const store = await openStore({ url: opts.storeUrl ?? DATABASE_URL, schema, connectTimeoutMs: 1000 });
  const embedder = await createEmbedder({ kind: 'hash' });
  const index = opts.index ? opts.index(embedder.dim) : new DiskEventIndex({ dir: join(dir, 'events'), dim: embedder.dim });
  const stage = createIndexStage(
    { bus, store, index, embedder, incidents: opts.incidents ?? new RulesIncidentProvider(), log: silentLogger },
    { apiKeys: [], claimIdleMs: 300, maxDeliveries: opts.maxDeliveries ?? 2, blockMs: 100, batchSize: 64, closeDeadlineMs: 5000 },
  );
  const app = await buildIndexApp(stage, silentLogger);
  await stage.start();
  return {
    bus,
    store,
    index,
    stage,
    app,
    close: async () => {
      await stage.close();
      await app.close();
      await bus.close();
      await index.close();
      await embedder.close();
      await store.close().catch(() => {});
    },
  };
}

afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(admin, p);
  admin.disconnect();
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await c.end();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const json = async (app: FastifyInstance, method: 'GET' | 'POST', url: string, payload?: unknown) => {
  const r = await app.inject({ method, url, payload: payload as object });
  return { status: r.statusCode, body: r.json() };
};

describe('index stage on Redis + Postgres', () => {
  let w: World;
  beforeAll(async () => {
    w = await world();
  });
  afterAll(() => w.close());

  it('stores, indexes and completes a batch of escalated events; search finds them with filters', async () => {
    const items = [
      escalated('ev-threat', { content: '@mod_anna you better watch your back, I know where you live', evidence: ['threat phrase "you better watch your back"'] }),
      escalated('ev-spam', { content: 'free nitro at discord-gift.xyz claim now', platform: 'slack', category: 'spam', level: 'MEDIUM', score: 0.74, evidence: ['giveaway bait "free nitro"'] }),
      escalated('ev-old', { content: 'you better watch your back mate', created_at: '2025-01-01T00:00:00.000Z', evidence: ['threat phrase "watch your back"'] }),
    ];
    await escalate(w.bus, items, 'batch-ok');
    const status = await until('the batch to complete', async () => {
      const r = await json(w.app, 'GET', '/v1/batches/batch-ok');
      return r.status === 200 && r.body.completed ? r.body : undefined;
    });
    expect(status).toMatchObject({ batch_id: 'batch-ok', total: 3, queued: 3, screened: 3, escalated: 3, indexed: 3, dead_lettered: 0, completed: true });

    // Postgres holds each with its prediction and incidents; the stream entries are gone.
    const ev = (await json(w.app, 'GET', '/v1/events/ev-threat')).body;
    expect(ev).toMatchObject({ event_id: 'ev-threat', status: 'indexed', attempts: 1, batch_id: 'batch-ok', prediction: { risk_category: 'threat', policy_fingerprint: 'fp-test-1' } });
    expect(ev.incidents).toEqual([expect.objectContaining({ type: 'threat', target: '@mod_anna', evidence: 'you better watch your back', provider: 'rules' })]);
    expect(ev.delivery_attempts).toEqual([expect.objectContaining({ delivery: 1, outcome: 'indexed' })]);
    expect(await w.bus.length('reasoning')).toBe(0);
    expect(await w.index.count()).toBe(3);

    const search = async (body: unknown) => (await json(w.app, 'POST', '/v1/search', body)).body;
    const all = await search({ query: 'watch your back', k: 10 });
    expect(all.results.map((r: { event_id: string }) => r.event_id).slice(0, 2).sort()).toEqual(['ev-old', 'ev-threat']);
    expect(all.results[0]).toMatchObject({ platform: 'discord', risk_category: 'threat', risk_level: 'HIGH', incidents: [expect.objectContaining({ type: 'threat' })] });
    expect(Object.keys(all.results[0]).sort()).toEqual(['author_id', 'channel_id', 'content', 'created_at', 'event_id', 'incidents', 'platform', 'risk_category', 'risk_level', 'risk_score', 'score'].sort());
    expect((await search({ query: 'watch your back', filters: { platform: 'slack' } })).results.map((r: { event_id: string }) => r.event_id)).toEqual(['ev-spam']);
    expect((await search({ query: 'nitro', filters: { category: 'spam', level: 'medium' } })).results.map((r: { event_id: string }) => r.event_id)).toEqual(['ev-spam']);
    expect((await search({ query: 'watch your back', filters: { since: '2026-01-01' } })).results.map((r: { event_id: string }) => r.event_id).sort()).toEqual(['ev-spam', 'ev-threat']);
    expect((await search({ query: 'watch your back', k: 1 })).results).toHaveLength(1);
    const bad = await json(w.app, 'POST', '/v1/search', { query: '', filters: { platform: 'myspace' } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['filters.platform', 'query']);
  });

  it('answers health, readiness and metrics with each dependency', async () => {
    const health = (await json(w.app, 'GET', '/health')).body;
    expect(health).toMatchObject({
      status: 'ok',
      service: 'event-indexing',
      dependencies: { redis: { state: 'ok' }, postgres: { state: 'ok', kind: 'postgres' }, vector_index: { state: 'ok', kind: 'embedded', points: 3 }, incident_provider: { kind: 'rules', state: 'ok' } },
    });
    const ready = await json(w.app, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', redis: 'ok', postgres: 'ok', vector_index: 'ok', worker: 'running' });
    const m = (await json(w.app, 'GET', '/v1/metrics')).body;
    expect(m).toMatchObject({ indexed: 3, incidents: 3, pending: 0, index_points: 3, group: 'indexing' });
    const prom = await w.app.inject({ method: 'GET', url: '/metrics' });
    expect(prom.body).toMatch(/riskpipe_index_events_indexed_total 3/);
    expect(prom.body).toMatch(/riskpipe_index_task_duration_seconds_bucket\{le="[^"]+",task="record"\}/);
    expect((await json(w.app, 'GET', '/v1/events/nope')).status).toBe(404);
    expect((await json(w.app, 'GET', '/v1/batches/nope')).status).toBe(404);
  });

  it('indexes a redelivered, already indexed event once (no doubles)', async () => {
    const item = escalated('ev-twice');
    await escalate(w.bus, [item], 'batch-twice');
    await until('indexed', async () => (await w.store.getEvent('ev-twice'))?.status === 'indexed');
    // The same event again, as a redelivery after a crash between commit and ack would bring it.
    await w.bus.add('reasoning', { v: '1', event_id: 'ev-twice', event: JSON.stringify(item.event), prediction: JSON.stringify(item.prediction), source_id: '0-1', traceparent: '', screened_at: new Date().toISOString() });
    await until('drained', async () => (await w.bus.length('reasoning')) === 0);
    await until('its second delivery logged', async () => (await w.store.getEvent('ev-twice'))!.attempts === 2);
    const ev = (await w.store.getEvent('ev-twice'))!;
    expect(ev).toMatchObject({ status: 'indexed', attempts: 2 });
    expect(ev.incidents).toHaveLength(1);
    expect(await w.index.count()).toBe(4);
    expect((await w.store.searchRows(['ev-twice'])).size).toBe(1);
  });
});

describe('index-worker start-up', () => {
  it('waits for a Postgres that is not up yet, then starts; a bad vector dimension stops it at once', async () => {
    const proxy = await startTcpProxy('127.0.0.1', 5432);
    await proxy.down();
    const url = new URL(DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const prefix = uniquePrefix('index-start');
    prefixes.push(prefix);
    const schema = uniqueSchema('index_start');
    schemas.push(schema);
    const dir = mkdtempSync(join(tmpdir(), 'rp-index-start-'));
    dirs.push(dir);
    const cfg = {
      redisUrl: REDIS_URL, prefix, host: '127.0.0.1', port: 0, apiKeys: [], claimIdleMs: 300, maxDeliveries: 2, blockMs: 100,
      backends: { store: { url: url.toString(), schema, connectTimeoutMs: 500 }, vector: { kind: 'embedded' as const, dir: join(dir, 'events') }, embedder: { kind: 'hash' as const }, incidents: { kind: 'rules' as const } },
    };
    const starting = startIndexService(cfg, silentLogger);
    await new Promise((r) => setTimeout(r, 1500));
    await proxy.up();
    const svc = await starting;
    try {
      expect((await svc.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    } finally {
      await svc.close();
    }
    // The same directory with another embedder dimension: refused, not retried.
    await expect(startIndexService({ ...cfg, port: 0, backends: { ...cfg.backends, embedder: { kind: 'hash' as const, dim: 64 } } }, silentLogger)).rejects.toThrow(/384-dimensional.*makes 64/);
    await proxy.close();
  }, 30_000);
});

describe('several index workers side by side (Qdrant)', () => {
  it('share one group: every event indexed once, each worker took part', async () => {
    const q = await startFakeQdrant();
    const a = await world({ index: (dim) => new QdrantEventIndex({ url: q.url, collection: 'shared', dim }) });
    try {
      // A second worker: same bus prefix, same store, the same collection.
      const embedder = await createEmbedder({ kind: 'hash' });
      const idx = new QdrantEventIndex({ url: q.url, collection: 'shared', dim: embedder.dim });
      const b = createIndexStage({ bus: a.bus, store: a.store, index: idx, embedder, incidents: new RulesIncidentProvider(), log: silentLogger }, { apiKeys: [], claimIdleMs: 300, maxDeliveries: 2, blockMs: 50, batchSize: 16, consumer: 'worker-b' });
      await b.start();
      const items = Array.from({ length: 400 }, (_, i) => escalated(`sbs-${i}`, { content: `you better watch your back number ${i}` }));
      await escalate(a.bus, items, 'batch-sbs');
      await until('the batch to complete', async () => (await a.bus.batchStatus('batch-sbs'))?.completed, 30_000);
      expect(await a.bus.batchStatus('batch-sbs')).toMatchObject({ indexed: 400, dead_lettered: 0 });
      expect(await a.store.statusCounts('batch-sbs')).toMatchObject({ indexed: 400 });
      expect(q.collections.get('shared')!.points.size).toBe(400);
      // Both took part. (A slow batch may also be claimed and done again by the other worker:
      // at least once, so attempts can exceed 400 while the rows above stay exact.)
      const byConsumer = await a.store.db.query<{ consumer: string; n: number }>("SELECT consumer, count(DISTINCT event_id)::int AS n FROM delivery_attempts WHERE event_id LIKE 'sbs-%' GROUP BY consumer");
      expect(byConsumer.rows.length).toBe(2);
      expect(byConsumer.rows.every((r) => r.n > 0)).toBe(true);
      expect((await a.store.db.query<{ n: number }>("SELECT count(DISTINCT event_id)::int AS n FROM delivery_attempts WHERE event_id LIKE 'sbs-%' AND outcome = 'indexed'")).rows[0].n).toBe(400);
      await b.close();
    } finally {
      await a.close();
      await q.close();
    }
  });
});

describe('the embedded index rebuilt from the store', () => {
  it('refills a missing index directory from the indexed events at start-up', async () => {
    const w = await world();
    try {
      await escalate(w.bus, [escalated('rb-1'), escalated('rb-2', { platform: 'reddit' })], 'batch-rb');
      await until('indexed', async () => (await w.bus.batchStatus('batch-rb'))?.completed);
      await w.stage.close();
      // A second stage on the same store with an empty directory: the files are "missing".
      const dir = mkdtempSync(join(tmpdir(), 'rp-index-rebuild-'));
      dirs.push(dir);
      const embedder = await createEmbedder({ kind: 'hash' });
      const fresh = new DiskEventIndex({ dir: join(dir, 'events'), dim: embedder.dim });
      const stage = createIndexStage({ bus: w.bus, store: w.store, index: fresh, embedder, incidents: new RulesIncidentProvider(), log: silentLogger }, { apiKeys: [], claimIdleMs: 300, maxDeliveries: 2, blockMs: 100 });
      await stage.start();
      expect(await fresh.count()).toBe(2);
      const found = await stage.search.search({ query: 'watch your back', filters: { platform: 'reddit' } });
      expect(found.results.map((r) => r.event_id)).toEqual(['rb-2']);
      await stage.close();
      await fresh.close();
    } finally {
      await w.close();
    }
  });
});

describe('failing tasks leave nothing half-written, are retried, dead-lettered, and replay completes them', () => {
  it('the vector index is down (Qdrant answering 503)', async () => {
    const q: FakeQdrant = await startFakeQdrant();
    const w = await world({ index: (dim) => new QdrantEventIndex({ url: q.url, collection: 'events', dim, timeoutMs: 1000 }) });
    try {
      q.failNext(503, 1_000_000);
      await escalate(w.bus, [escalated('ev-q')], 'batch-q');
      const dead = await until('the dead letter', async () => (await w.bus.deadLetters.list())[0]);
      expect(dead).toMatchObject({ stage: 'index', attempts: 2, eventId: 'ev-q', batchId: 'batch-q' });
      expect(dead.code).toBe('RP_ERR_UPSTREAM_UNAVAILABLE');
      const ev = (await w.store.getEvent('ev-q'))!;
      expect(ev).toMatchObject({ status: 'dead_lettered', attempts: 2, incidents: [] });
      expect(ev.last_error).toMatch(/vector index \(qdrant\)/);
      expect((await w.store.attempts('ev-q')).map((a) => a.outcome)).toEqual(['failed', 'dead_lettered']);
      expect((await w.store.searchRows(['ev-q'])).size).toBe(0);
      expect(await w.bus.batchStatus('batch-q')).toMatchObject({ indexed: 0, failed: 1, dead_lettered: 1, completed: true });

      q.failNext(503, 0);
      const replay = await json(w.app, 'POST', '/v1/deadletters/replay', { stage: 'index' });
      expect(replay.body.replayed).toHaveLength(1);
      await until('indexed after replay', async () => (await w.store.getEvent('ev-q'))?.status === 'indexed');
      expect((await w.store.getEvent('ev-q'))!.incidents).toHaveLength(1);
      expect(q.collections.get('events')!.points.size).toBe(1);
      await until('the batch to count it indexed', async () => (await w.bus.batchStatus('batch-q'))?.indexed === 1);
      expect(await w.bus.batchStatus('batch-q')).toMatchObject({ indexed: 1, dead_lettered: 0, completed: true });
      expect(await w.bus.deadLetters.count()).toBe(0);
    } finally {
      await w.close();
      await q.close();
    }
  });

  it('the LLM answers garbage, then 500s', async () => {
    const llm: FakeOpenAI = await startFakeOpenAI();
    const provider = new OpenAIIncidentProvider({ baseUrl: llm.baseUrl, model: 'test-model', timeoutMs: 1000, maxRetries: 1, baseDelayMs: 5 });
    const w = await world({ incidents: provider });
    try {
      llm.script('/v1/chat/completions', { body: chatAnswer('I think this is a threat.') }, { status: 500, body: { error: { message: 'boom' } } }, { status: 500, body: { error: { message: 'boom' } } });
      llm.setDefault('/v1/chat/completions', { status: 500, body: {} });
      await escalate(w.bus, [escalated('ev-llm', { content: 'you better watch your back' })], 'batch-llm');
      const dead = await until('the dead letter', async () => (await w.bus.deadLetters.list())[0]);
      expect(dead).toMatchObject({ stage: 'index', attempts: 2 });
      expect(dead.error).toMatch(/answered 500/);
      const log = await w.store.attempts('ev-llm');
      expect(log.map((a) => [a.outcome, a.error_code])).toEqual([
        ['failed', 'RP_ERR_UPSTREAM_INVALID'],
        ['dead_lettered', 'RP_ERR_UPSTREAM_UNAVAILABLE'],
      ]);
      expect((await w.store.getEvent('ev-llm'))!.incidents).toEqual([]);
      expect((await w.store.searchRows(['ev-llm'])).size).toBe(0);
      // Its vector was written by task B, and left with the dead letter.
      expect(await w.index.count()).toBe(0);

      llm.setDefault('/v1/chat/completions', {
        body: chatAnswer(JSON.stringify({ incidents: [{ type: 'threat', description: 'Veiled threat', target: 'reader', severity: 'high', confidence: 0.9, evidence: 'watch your back' }] })),
      });
      await json(w.app, 'POST', '/v1/deadletters/replay', { ids: [dead.id] });
      await until('indexed after replay', async () => (await w.store.getEvent('ev-llm'))?.status === 'indexed');
      expect(await w.index.count()).toBe(1);
      expect((await w.store.getEvent('ev-llm'))!.incidents).toEqual([expect.objectContaining({ type: 'threat', evidence: 'watch your back', provider: 'openai:test-model' })]);
    } finally {
      await w.close();
      await llm.close();
    }
  });

  it('Postgres is down', async () => {
    const proxy: TcpProxy = await startTcpProxy('127.0.0.1', 5432);
    const url = new URL(DATABASE_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    const w = await world({ storeUrl: url.toString() });
    try {
      await proxy.down();
      await escalate(w.bus, [escalated('ev-pg')], 'batch-pg');
      const dead = await until('the dead letter', async () => (await w.bus.deadLetters.list())[0]);
      expect(dead).toMatchObject({ stage: 'index', attempts: 2, eventId: 'ev-pg' });
      expect(dead.error).toMatch(/store \(postgres\)/);
      const ready = await json(w.app, 'GET', '/ready');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'not_ready', postgres: 'unavailable', problems: ['postgres'] });
      expect((await json(w.app, 'GET', '/health')).body).toMatchObject({ status: 'degraded', dependencies: { postgres: { state: 'unavailable' } } });
      await proxy.up();
      // Nothing of it reached Postgres; its vector, if written, is not answered by search.
      expect(await w.store.getEvent('ev-pg')).toBeNull();
      expect((await json(w.app, 'POST', '/v1/search', { query: 'watch your back' })).body.results).toEqual([]);
      await json(w.app, 'POST', '/v1/deadletters/replay', { all: true });
      await until('indexed after replay', async () => (await w.store.getEvent('ev-pg'))?.status === 'indexed');
      expect((await json(w.app, 'POST', '/v1/search', { query: 'watch your back' })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual(['ev-pg']);
      expect(await w.bus.batchStatus('batch-pg')).toMatchObject({ indexed: 1, dead_lettered: 0, completed: true });
    } finally {
      await w.close();
      await proxy.close();
    }
  });
});
