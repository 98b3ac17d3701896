import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScreener } from '../../src/cli/commands/screen.js';
import { silentLogger } from '../../src/common/logger.js';
import { buildStagesApp } from '../../src/common/stages-app.js';
import { createIndexStage, eventIndexDir, openIndexBackends, type IndexBackends } from '../../src/index/index.js';
import { createIngestStage } from '../../src/ingest/app.js';
import { createScreenStage } from '../../src/screen/service.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import type { Stage } from '../../src/common/stage.js';
import type { FastifyInstance } from 'fastify';
import { DATABASE_URL, uniqueSchema } from '../fakes/escalated.js';
import { until } from '../fakes/pipeline.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/*
 * The whole pipeline on Redis + Postgres with the real stages: a batch posted to the ingest API is
 * screened by the real Screener, its escalated events are indexed by stage 3, found by search, and
 * the batch reports completed with exact counters.
 */

const prefix = uniquePrefix('pipeline-index');
const schema = uniqueSchema('pipeline_index');
const dir = mkdtempSync(join(tmpdir(), 'rp-pipeline-index-'));
let producer: RedisBus;
let consumer: RedisBus;
let backends: IndexBackends;
let stages: Stage[];
let app: FastifyInstance;

beforeAll(async () => {
  producer = RedisBus.connect({ redisUrl: REDIS_URL, role: 'producer', prefix });
  consumer = RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
  backends = await openIndexBackends({ store: { url: DATABASE_URL, schema }, vector: { kind: 'embedded', dir: eventIndexDir(dir) }, embedder: { kind: 'hash' }, incidents: { kind: 'rules' } }, silentLogger);
  const ingest = createIngestStage({ bus: producer, log: silentLogger }, {});
  const screen = createScreenStage(
    { bus: consumer, log: silentLogger, loadScreener: () => loadScreener({ embedder: 'hash', modelDir: undefined, threshold: undefined, neighbors: 'always' }, silentLogger) },
    { apiKeys: [], claimIdleMs: 1000, maxDeliveries: 3, batchSize: 64, blockMs: 100 },
  );
  const index = createIndexStage({ bus: consumer, log: silentLogger, ...backends }, { apiKeys: [], claimIdleMs: 1000, maxDeliveries: 3, blockMs: 100, batchRoute: false });
  stages = [ingest, screen, index];
  app = await buildStagesApp({ stages, log: silentLogger });
  for (const s of stages) await s.start();
}, 60_000);

afterAll(async () => {
  for (const s of [...stages].reverse()) await s.close();
  await app.close();
  await backends.close();
  await producer.close();
  await consumer.close();
  const admin = await connectTestRedis();
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
  rmSync(dir, { recursive: true, force: true });
});

const ev = (id: string, content: string, platform = 'discord') => ({ event_id: id, event_type: 'message_created', platform, channel_id: 'general', user_id: `u-${id}`, author_id: `u-${id}`, content });

describe('ingest → screen → index on Redis + Postgres', () => {
  it('indexes the escalated events of a batch, finds them, and completes the batch', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/events/ingest-batch',
      payload: {
        events: [
          ev('p-threat', 'you better watch your back, I know where you live and I will find you'),
          ev('p-selfharm', 'i want to kill myself, nobody would miss me', 'reddit'),
          ev('p-hello', 'good morning everyone, ready for the raid tonight?'),
          ev('p-gg', 'gg wp, that last round was close'),
        ],
      },
    });
    expect(res.statusCode).toBe(200);
    const batchId = res.json().batch_id as string;
    const status = await until('the batch to complete', async () => {
      const s = await producer.batchStatus(batchId);
      return s?.completed ? s : undefined;
    }, 30_000);
    expect(status).toMatchObject({ total: 4, queued: 4, screened: 4, low_risk: 2, escalated: 2, indexed: 2, dead_lettered: 0, completed: true });

    const threat = (await backends.store.getEvent('p-threat'))!;
    expect(threat).toMatchObject({ status: 'indexed', batch_id: batchId, prediction: { risk_category: 'threat' } });
    expect(threat.incidents[0]).toMatchObject({ type: 'threat' });
    expect('you better watch your back, I know where you live and I will find you').toContain(threat.incidents[0].evidence);
    expect(await backends.store.getEvent('p-hello')).toBeNull();

    const search = await app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'wants to hurt themselves', filters: { platform: 'reddit' } } });
    expect(search.json().results.map((r: { event_id: string }) => r.event_id)).toEqual(['p-selfharm']);
    expect(await consumer.length('reasoning')).toBe(0);
    const health = (await app.inject({ method: 'GET', url: '/health' })).json();
    expect(Object.keys(health.stages)).toEqual(['ingest', 'screen', 'index']);
  }, 60_000);
});
