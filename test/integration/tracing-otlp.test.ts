import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { tracingFromEnv } from '../../src/ops/tracing.js';
import { startOtlpReceiver } from './otlp-receiver.js';

const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('tracing over OTLP/HTTP', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(() => receiver.close());

  it('exports spans to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces with headers and service names', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=t1' };
    const ingest = await tracingFromEnv('riskpipe-ingest', env);
    const screen = await tracingFromEnv('riskpipe-screen', env);
    expect(ingest.enabled).toBe(true);
    const a = ingest.span('ingest', undefined, { kind: 'server', attributes: { 'riskpipe.event_id': 'e1' } });
    a.end();
    const b = screen.span('screen', a.traceparent, { kind: 'consumer' });
    b.end();
    await Promise.all([ingest.shutdown(), screen.shutdown()]);
    expect(receiver.requests.every((r) => r.path === '/v1/traces')).toBe(true);
    expect(receiver.requests[0].headers['x-tenant']).toBe('t1');
    const spans = receiver.spans();
    expect(spans.map((s) => `${s.service}/${s.name}`).sort()).toEqual(['riskpipe-ingest/ingest', 'riskpipe-screen/screen']);
    const [ing, scr] = ['ingest', 'screen'].map((n) => spans.find((s) => s.name === n));
    expect(scr.traceId).toBe(ing.traceId);
    expect(scr.parentSpanId).toBe(ing.spanId);
  });
});

describe('one trace per event across the stage processes', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let redis: Redis;
  const prefix = uniquePrefix('trace');
  const schema = `rp_trace_${Math.random().toString(36).slice(2, 10)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'rp-trace-'));
  const procs: ReturnType<typeof startCli>[] = [];
  beforeAll(async () => {
    assertBuilt();
    receiver = await startOtlpReceiver();
    redis = await connectTestRedis();
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await receiver.close();
    await cleanupPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serve-ingest → screen-worker → index-worker: spans exported over OTLP/HTTP, linked by the entries\' traceparent', async () => {
    const [ingestPort, screenPort] = [await freePort(), await freePort()];
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, REDIS_URL };
    const common = ['--prefix', prefix, '--log-level', 'warn', '--host', '127.0.0.1'];
    procs.push(startCli(['serve-ingest', '--port', String(ingestPort), ...common], env));
    procs.push(startCli(['screen-worker', '--port', String(screenPort), '--block-ms', '200', ...common], env));
    const indexPort = await freePort();
    procs.push(startCli(['index-worker', '--port', String(indexPort), '--block-ms', '200', '--database-url', PG_URL, '--db-schema', schema, '--data-dir', dataDir, ...common], env));
    await waitForHttp(`http://127.0.0.1:${ingestPort}/health`);
    await waitForHttp(`http://127.0.0.1:${screenPort}/health`, 30_000);
    await waitForHttp(`http://127.0.0.1:${indexPort}/health`, 30_000);
    const client = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r = await fetch(`http://127.0.0.1:${ingestPort}/v1/events/ingest`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: client },
      body: JSON.stringify({ event_id: 'trace-1', event_type: 'message_created', platform: 'discord', user_id: 'u1', author_id: 'u1', content: 'i will find you and hurt you' }),
    });
    expect(r.status).toBe(200);
    // Both processes flush their batch of spans within ~1 s (BatchSpanProcessor delay).
    const deadline = Date.now() + 20_000;
    let spans = receiver.spans();
    while (Date.now() < deadline && !['ingest', 'screen', 'index'].every((n) => spans.some((s) => s.name === n))) {
      await new Promise((res) => setTimeout(res, 200));
      spans = receiver.spans();
    }
    const ingest = spans.find((s) => s.name === 'ingest');
    const screen = spans.find((s) => s.name === 'screen');
    expect(ingest?.service).toBe('riskpipe-ingest');
    expect(screen?.service).toBe('riskpipe-screen');
    expect(ingest.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(ingest.parentSpanId).toBe('00f067aa0ba902b7');
    expect(screen.traceId).toBe(ingest.traceId);
    expect(screen.parentSpanId).toBe(ingest.spanId);
    expect(screen.attributes.find((a: any) => a.key === 'riskpipe.route')?.value.stringValue).toMatch(/reasoning_queue|low_risk/);
    // The index stage continued the screen span: three processes, one trace.
    const index = spans.find((s) => s.name === 'index');
    expect(index?.service).toBe('riskpipe-index');
    expect(index.traceId).toBe(ingest.traceId);
    expect(index.parentSpanId).toBe(screen.spanId);
    // ...and Postgres keeps the traceparent the index stage read.
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    const { rows } = await db.query(`SELECT traceparent FROM ${schema}.events WHERE event_id = 'trace-1'`);
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
    expect(rows[0].traceparent).toBe(`00-${screen.traceId}-${screen.spanId}-01`);
  }, 60_000);
});
