import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldsToObject } from '../../src/models/stream.js';
import { createKeys } from '../../src/stream/keys.js';
import { assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { tracingFromEnv } from '../../src/ops/tracing.js';
import { startOtlpReceiver } from './otlp-receiver.js';

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
  });

  it('serve-ingest → screen-worker: spans exported over OTLP/HTTP, linked by the entries\' traceparent', async () => {
    const [ingestPort, screenPort] = [await freePort(), await freePort()];
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, REDIS_URL };
    const common = ['--prefix', prefix, '--log-level', 'warn', '--host', '127.0.0.1'];
    procs.push(startCli(['serve-ingest', '--port', String(ingestPort), ...common], env));
    procs.push(startCli(['screen-worker', '--port', String(screenPort), '--block-ms', '200', ...common], env));
    await waitForHttp(`http://127.0.0.1:${ingestPort}/health`);
    await waitForHttp(`http://127.0.0.1:${screenPort}/health`, 30_000);
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
    while (Date.now() < deadline && !(spans.some((s) => s.name === 'ingest') && spans.some((s) => s.name === 'screen'))) {
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
    // What the screen stage wrote downstream carries its own span, for the index stage to continue.
    const keys = createKeys({ prefix });
    const routed = [...(await redis.xrange(keys.streams.reasoning, '-', '+')), ...(await redis.xrange(keys.streams.lowRisk, '-', '+'))];
    const tp = fieldsToObject(routed[0][1]).traceparent;
    expect(tp).toBe(`00-${screen.traceId}-${screen.spanId}-01`);
  }, 60_000);
});
