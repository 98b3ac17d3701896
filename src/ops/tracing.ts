import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { formatTraceparent, noopTracing, parseTraceparent, type SpanHandle, type Tracing } from '../common/trace.js';

export { formatTraceparent, noopTracing, parseTraceparent, type SpanHandle, type Tracing } from '../common/trace.js';

/*
 * The live implementation of the Tracing interface (src/common/trace.ts): OpenTelemetry's SDK,
 * loaded only when an exporter is configured.
 */

// ---- on ------------------------------------------------------------------------------------

export interface TracingOptions {
  /** service.name of the spans, e.g. riskpipe-screen */
  serviceName: string;
  /**
   * OTLP/HTTP endpoint base (OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://jaeger:4318); spans go to
   * `${endpoint}/v1/traces`. `tracesEndpoint` (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is used as is.
   */
  endpoint?: string;
  tracesEndpoint?: string;
  /** Headers for the exporter (OTEL_EXPORTER_OTLP_HEADERS, `k=v,k2=v2`). */
  headers?: Record<string, string>;
  /** Fraction of new traces sampled, 0–1 (default 1); a parent's decision is always kept. */
  sampleRatio?: number;
  /** Tests: an exporter of their own (e.g. InMemorySpanExporter) instead of OTLP. */
  exporter?: import('@opentelemetry/sdk-trace-base').SpanExporter;
  /** Export each span when it ends instead of in batches (tests). Default false. */
  simple?: boolean;
  serviceVersion?: string;
  /** Extra resource attributes (service.instance.id, deployment.environment, …). */
  resource?: Attributes;
}

const KINDS = { server: SpanKind.SERVER, consumer: SpanKind.CONSUMER, producer: SpanKind.PRODUCER, internal: SpanKind.INTERNAL } as const;

class LiveHandle implements SpanHandle {
  constructor(private readonly s: Span) {}
  get traceparent(): string {
    return formatTraceparent(this.s.spanContext());
  }
  setAttributes(attributes: Attributes): void {
    this.s.setAttributes(attributes);
  }
  fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.s.recordException(e);
    this.s.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  }
  end(endTimeMs?: number): void {
    this.s.end(endTimeMs);
  }
}

/** Loads the SDK (only when tracing is on) and returns a live Tracing. */
export async function createTracing(opts: TracingOptions): Promise<Tracing> {
  const [{ BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler }, { resourceFromAttributes }, { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION }] =
    await Promise.all([import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/resources'), import('@opentelemetry/semantic-conventions')]);
  let exporter = opts.exporter;
  if (!exporter) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const url = opts.tracesEndpoint ?? (opts.endpoint ? `${opts.endpoint.replace(/\/+$/, '')}/v1/traces` : undefined);
    exporter = new OTLPTraceExporter({ url, headers: opts.headers });
  }
  const processor = opts.simple ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter, { maxQueueSize: 8192, maxExportBatchSize: 512, scheduledDelayMillis: 1000 });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName, [ATTR_SERVICE_VERSION]: opts.serviceVersion ?? '0.1.0', ...opts.resource }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('riskpipe');
  let closed: Promise<void> | undefined;
  return {
    enabled: true,
    span(name, parent, o = {}) {
      const sc = parseTraceparent(parent);
      const ctx = sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
      const s = tracer.startSpan(name, { kind: KINDS[o.kind ?? 'internal'], attributes: o.attributes, startTime: o.startTimeMs }, ctx);
      return new LiveHandle(s);
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => (closed ??= provider.shutdown()),
  };
}

/** `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS) as an object. */
export function parseOtlpHeaders(s: string | undefined): Record<string, string> | undefined {
  if (!s) return undefined;
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out[decodeURIComponent(part.slice(0, i).trim())] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

/**
 * The CLI's entry point: tracing from the standard OpenTelemetry variables (the CLI hands them in;
 * this module reads no environment itself). Off when no endpoint is set or OTEL_SDK_DISABLED=true.
 */
export async function tracingFromEnv(serviceName: string, env: Record<string, string | undefined>): Promise<Tracing> {
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined;
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || undefined;
  if ((!endpoint && !tracesEndpoint) || env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return noopTracing;
  const ratio = env.OTEL_TRACES_SAMPLER_ARG !== undefined ? Number(env.OTEL_TRACES_SAMPLER_ARG) : 1;
  return createTracing({
    serviceName: env.OTEL_SERVICE_NAME || serviceName,
    endpoint,
    tracesEndpoint,
    headers: parseOtlpHeaders(env.OTEL_EXPORTER_OTLP_HEADERS),
    sampleRatio: Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1,
  });
}
