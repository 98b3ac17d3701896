import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createTracing, noopTracing, parseOtlpHeaders, parseTraceparent, tracingFromEnv } from '../../src/ops/tracing.js';

describe('tracing', () => {
  it('one trace per event: ingest → screen → index linked by the traceparent each stage writes', async () => {
    const exporter = new InMemorySpanExporter();
    const ingest = await createTracing({ serviceName: 'riskpipe-ingest', exporter, simple: true });
    const screen = await createTracing({ serviceName: 'riskpipe-screen', exporter, simple: true });
    const index = await createTracing({ serviceName: 'riskpipe-index', exporter, simple: true });

    const client = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const a = ingest.span('ingest', client, { kind: 'server', attributes: { 'riskpipe.event_id': 'e1' } });
    const rawEntryTp = a.traceparent;
    a.end();
    const b = screen.span('screen', rawEntryTp, { kind: 'consumer' });
    b.setAttributes({ 'riskpipe.risk_score': 0.91, 'riskpipe.route': 'reasoning_queue' });
    const routedTp = b.traceparent;
    b.end();
    const c = index.span('index', routedTp, { kind: 'consumer' });
    c.fail(new Error('qdrant away'));
    c.end();

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['ingest', 'screen', 'index']);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set(['0af7651916cd43dd8448eb211c80319c']));
    expect(spans[0].parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(spans[1].parentSpanContext?.spanId).toBe(spans[0].spanContext().spanId);
    expect(spans[2].parentSpanContext?.spanId).toBe(spans[1].spanContext().spanId);
    expect(spans[1].attributes['riskpipe.route']).toBe('reasoning_queue');
    expect(spans[2].status.code).toBe(2); // ERROR
    expect(spans[2].events[0].name).toBe('exception');
    expect(spans.map((s) => s.resource.attributes['service.name'])).toEqual(['riskpipe-ingest', 'riskpipe-screen', 'riskpipe-index']);
    await Promise.all([ingest.shutdown(), screen.shutdown(), index.shutdown()]);
  });

  it('a missing or invalid parent starts a new trace; a not-sampled parent stays not sampled', async () => {
    const exporter = new InMemorySpanExporter();
    const t = await createTracing({ serviceName: 't', exporter, simple: true });
    const s1 = t.span('screen', 'garbage');
    expect(parseTraceparent(s1.traceparent)).toBeDefined();
    s1.end();
    const s2 = t.span('screen', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00');
    expect(s2.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    s2.end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['screen']); // the unsampled one is not exported
    await t.shutdown();
    await t.shutdown(); // idempotent
  });

  it('off by default: the no-op keeps the trace id and gives a new span id to every span', async () => {
    const t = await tracingFromEnv('riskpipe-screen', {});
    expect(t).toBe(noopTracing);
    expect(await tracingFromEnv('x', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_SDK_DISABLED: 'true' })).toBe(noopTracing);
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const h = t.span('screen', parent);
    expect(h.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-(?!b7ad6b7169203331)[0-9a-f]{16}-01$/);
    // Its cost per event is a benchmark's business (bench/tracing.ts prints it), not a timed test's.
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const s = t.span('screen', parent);
      expect(s.traceparent.slice(0, 36)).toBe(parent.slice(0, 36));
      ids.add(s.traceparent.slice(36, 52));
      s.end();
    }
    expect(ids.size).toBe(10_000);
  });

  it('parses OTEL_EXPORTER_OTLP_HEADERS', () => {
    expect(parseOtlpHeaders('authorization=Bearer%20abc, x-tenant=t1')).toEqual({ authorization: 'Bearer abc', 'x-tenant': 't1' });
    expect(parseOtlpHeaders(undefined)).toBeUndefined();
  });
});
