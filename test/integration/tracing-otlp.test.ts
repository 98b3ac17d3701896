import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
