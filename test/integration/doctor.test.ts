import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoctor, formatDoctor, checkEmbedder, checkPort, checkVector, type CheckResult, type DoctorOptions } from '../../src/ops/doctor.js';
import { createKeys } from '../../src/stream/keys.js';
import { MIGRATIONS, migrate, migrationChecksum } from '../../src/store/migrations.js';
import { createPostgresClient } from '../../src/store/sql.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const connect = (url: string) => {
  const r = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  r.on('error', () => {});
  return r;
};
const known = MIGRATIONS.map((m) => ({ version: m.version, name: m.name, checksum: migrationChecksum(m) }));
const byId = (checks: CheckResult[], id: string) => {
  const c = checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${checks.map((x) => x.id).join(', ')}`);
  return c;
};

describe('riskpipe doctor against the real Redis and Postgres', () => {
  let redis: Redis;
  const prefix = uniquePrefix('doctor');
  const s = createKeys({ prefix }).streams;
  const schema = `rp_doctor_${Math.random().toString(36).slice(2, 10)}`;
  let admin: pg.Client;

  beforeAll(async () => {
    redis = await connectTestRedis();
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await cleanupPrefix(redis, prefix);
    redis.disconnect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  const base = (): DoctorOptions => ({ nodeVersion: process.version, redis: { url: REDIS_URL, prefix, connect }, postgres: { url: PG_URL, schema }, migrations: known });

  it('reports streams, groups, consumers, dead letters and un-migrated Postgres', async () => {
    for (let i = 0; i < 4; i++) await redis.xadd(s.raw, '*', 'event_id', `e${i}`);
    await redis.xgroup('CREATE', s.raw, 'risk-screening', '0');
    await redis.xreadgroup('GROUP', 'risk-screening', 'dead-worker', 'COUNT', 3, 'STREAMS', s.raw, '>');
    await redis.xadd(s.reasoning, '*', 'event_id', 'x'); // reasoning entries but no indexing group
    await redis.xadd(s.deadletter, '*', 'stage', 'screen', 'error', 'bad');
    await new Promise((r) => setTimeout(r, 30));

    const report = await runDoctor({ ...base(), stuckIdleMs: 20 });
    const c = report.checks;
    expect(byId(c, 'node').status).toBe('ok');
    expect(byId(c, 'redis.reachable').status).toBe('ok');
    expect(byId(c, 'redis.version').detail).toMatch(/^Redis 7\./);
    expect(byId(c, 'redis.features')).toMatchObject({ status: 'ok', detail: 'consumer groups, XAUTOCLAIM, lag in XINFO GROUPS' });
    expect(byId(c, 'stream.raw')).toMatchObject({ status: 'ok', data: expect.objectContaining({ length: 4 }) });
    // one entry undelivered, three held by a consumer idle past the threshold
    const g = byId(c, 'group.raw.risk-screening');
    expect(g.status).toBe('warn');
    expect(g.data).toMatchObject({ lag: 1, pending: 3 });
    expect(g.detail).toMatch(/dead-worker \(pending 3, idle/);
    expect(byId(c, 'group.reasoning.indexing')).toMatchObject({ status: 'warn', hint: 'start riskpipe index-worker' });
    expect(byId(c, 'stream.deadletter')).toMatchObject({ status: 'warn', hint: expect.stringContaining('riskpipe dlq') });
    expect(byId(c, 'postgres.reachable').detail).toMatch(/PostgreSQL \d+/);
    expect(byId(c, 'postgres.migrations')).toMatchObject({ status: 'fail', hint: expect.stringContaining('riskpipe migrate') });
    expect(report.ok).toBe(false);
    const table = formatDoctor(report);
    expect(table).toMatch(/^✓ redis\.reachable/m);
    expect(table).toMatch(/^⚠ stream\.deadletter/m);
    expect(table).toMatch(/^✗ postgres\.migrations .*\n\s+→ riskpipe migrate/m);
  });

  it('migrations: current after migrate, a changed checksum fails', async () => {
    const db = createPostgresClient({ url: PG_URL, schema });
    await migrate(db);
    await db.close();
    let report = await runDoctor({ nodeVersion: process.version, postgres: { url: PG_URL, schema }, migrations: known });
    expect(byId(report.checks, 'postgres.migrations')).toMatchObject({ status: 'ok', detail: `current (schema version ${known.at(-1)!.version})` });
    report = await runDoctor({ nodeVersion: process.version, postgres: { url: PG_URL, schema }, migrations: known.map((m) => ({ ...m, checksum: 'different' })) });
    expect(byId(report.checks, 'postgres.migrations').status).toBe('fail');
    report = await runDoctor({ nodeVersion: process.version, postgres: { url: PG_URL, schema }, migrations: [...known, { version: 99, name: 'future', checksum: 'x' }] });
    expect(byId(report.checks, 'postgres.migrations')).toMatchObject({ status: 'warn', detail: expect.stringContaining('99 future') });
  });

  it('unreachable Redis and Postgres are failures, not crashes', async () => {
    const port = await freePort();
    const report = await runDoctor({ nodeVersion: 'v18.0.0', redis: { url: `redis://127.0.0.1:${port}`, prefix, connect }, postgres: { url: `postgres://postgres@127.0.0.1:${port}/x` }, migrations: known, timeoutMs: 4000 });
    expect(byId(report.checks, 'node').status).toBe('fail');
    expect(byId(report.checks, 'redis.reachable')).toMatchObject({ status: 'fail', hint: expect.stringContaining('start Redis') });
    expect(byId(report.checks, 'postgres.reachable').status).toBe('fail');
  });
});

describe('riskpipe doctor against a private Redis with a bad policy', () => {
  let priv: PrivateRedis;
  beforeAll(async () => {
    assertBuilt();
    priv = await PrivateRedis.start();
    const r = connect(priv.url);
    await r.config('SET', 'maxmemory-policy', 'allkeys-lru');
    await r.config('SET', 'maxmemory', '100mb');
    r.disconnect();
  });
  afterAll(() => priv?.stop());

  it('warns about eviction and missing persistence (library)', async () => {
    const report = await runDoctor({ nodeVersion: process.version, redis: { url: priv.url, prefix: '', connect } });
    expect(byId(report.checks, 'redis.maxmemory-policy')).toMatchObject({ status: 'warn', hint: expect.stringContaining('noeviction') });
    expect(byId(report.checks, 'redis.maxmemory-policy').detail).toContain('allkeys-lru with maxmemory 104857600 bytes');
    expect(byId(report.checks, 'redis.persistence')).toMatchObject({ status: 'warn', detail: expect.stringContaining('neither AOF nor RDB') });
    expect(report.ok).toBe(true); // warnings only
  });

  it('the CLI: table, --json, exit 0 on warnings, 1 with --strict, 1 when Redis is away', async () => {
    const env = { REDIS_URL: priv.url, RISKPIPE_PREFIX: '' };
    const table = await runCli(['doctor', '--skip-ports', '--skip-postgres'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^⚠ redis\.maxmemory-policy\s+allkeys-lru/m);
    expect(table.stdout).toMatch(/\d+ ok, 2 warnings, 0 failed/);
    const strict = await runCli(['doctor', '--skip-ports', '--skip-postgres', '--strict'], { env });
    expect(strict.code).toBe(1);
    const json = await runCli(['doctor', '--skip-ports', '--skip-postgres', '--json'], { env });
    const report = JSON.parse(json.stdout);
    expect(report.checks.find((c: CheckResult) => c.id === 'redis.maxmemory-policy').status).toBe('warn');
    const away = await runCli(['doctor', '--skip-ports', '--skip-postgres', '--redis-url', `redis://127.0.0.1:${await freePort()}`], { env });
    expect(away.code).toBe(1);
    expect(away.stdout).toMatch(/^✗ redis\.reachable/m);
    const bad = await runCli(['doctor', '--skip-ports', '--skip-postgres'], { env: { ...env, RISKPIPE_MAX_BATCH_SIZE: 'lots' } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^✗ settings\.serve-ingest\s+maxBatchSize \(--max-batch-size \/ RISKPIPE_MAX_BATCH_SIZE\): must be a number/m);
  });
});

describe('doctor: ports and the vector index', () => {
  const servers: Server[] = [];
  afterAll(() => servers.forEach((s) => s.close()));
  const listen = async (handler: Parameters<typeof createServer>[1]) => {
    const srv = createServer(handler);
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return (srv.address() as { port: number }).port;
  };

  it('a port held by a riskpipe stage is fine, by anything else a warning', async () => {
    const ours = await listen((_q, res) => res.end(JSON.stringify({ status: 'ok', service: 'event-ingestion' })));
    const theirs = await listen((_q, res) => res.end('<html>'));
    expect((await checkPort({ name: 'serve-ingest', host: '127.0.0.1', port: ours })).status).toBe('ok');
    expect((await checkPort({ name: 'serve-ingest', host: '127.0.0.1', port: theirs })).status).toBe('warn');
    expect((await checkPort({ name: 'serve-ingest', host: '127.0.0.1', port: await freePort() })).status).toBe('ok');
  });

  it('Qdrant: reachable, collection dimension must match the embedder', async () => {
    const port = await listen((req, res) => {
      if (req.url === '/readyz') return res.end('all shards are ready');
      if (req.url === '/collections/riskpipe_events') return res.end(JSON.stringify({ result: { points_count: 7, config: { params: { vectors: { size: 384, distance: 'Cosine' } } } } }));
      res.statusCode = 404;
      res.end('{}');
    });
    const url = `http://127.0.0.1:${port}`;
    expect((await checkVector({ kind: 'qdrant', url, collection: 'riskpipe_events' }, 384))[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('384-dim Cosine, 7 points') });
    expect((await checkVector({ kind: 'qdrant', url, collection: 'riskpipe_events' }, 100))[0].status).toBe('fail');
    expect((await checkVector({ kind: 'qdrant', url, collection: 'other' }, 384))[0].detail).toContain('not created yet');
    expect((await checkVector({ kind: 'qdrant', url: `http://127.0.0.1:${await freePort()}`, collection: 'x' }, 384))[0].status).toBe('fail');
  });

  it('embedded index: files and dimension; ONNX model: files present', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-doctor-'));
    try {
      expect((await checkVector({ kind: 'embedded', dir: join(dir, 'none') }, 384))[0].detail).toContain('not created yet');
      writeFileSync(join(dir, 'meta.json'), JSON.stringify({ format: 1, dim: 100 }));
      expect((await checkVector({ kind: 'embedded', dir }, 384))[0]).toMatchObject({ status: 'fail', detail: expect.stringContaining('100-dim vectors, the embedder makes 384') });
      expect((await checkVector({ kind: 'embedded', dir }, 100))[0].status).toBe('ok');
      const model = join(dir, 'model');
      mkdirSync(join(model, 'onnx'), { recursive: true });
      writeFileSync(join(model, 'config.json'), JSON.stringify({ hidden_size: 384 }));
      const missing = await checkEmbedder({ kind: 'onnx', modelDir: model });
      expect(missing.result).toMatchObject({ status: 'fail', detail: expect.stringContaining('missing tokenizer.json, tokenizer_config.json, onnx/model.onnx') });
      for (const f of ['tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']) writeFileSync(join(model, f), '{}');
      const present = await checkEmbedder({ kind: 'onnx', modelDir: model });
      expect(present).toMatchObject({ result: { status: 'ok' }, dim: 384 });
      const broken = await checkEmbedder({ kind: 'onnx', modelDir: model, load: async () => { throw new Error('Protobuf parsing failed'); } });
      expect(broken.result).toMatchObject({ status: 'fail', detail: expect.stringContaining('does not load: Protobuf parsing failed') });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
