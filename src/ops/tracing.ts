import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Span, type SpanContext } from '@opentelemetry/api';
import { traceparentFor } from '../common/trace.js';

/**
 * OpenTelemetry spans for the life of one event: `ingest` (serve-ingest), `screen`
 * (screen-worker), `index` (index-worker). The W3C `traceparent` written into every stream entry
 * is what joins them: each stage starts its span as a child of the traceparent it read and writes
 * its own span's traceparent downstream, so one event is one trace across three processes.
 *
 * Tracing is off unless an exporter is configured (the CLI passes OTEL_EXPORTER_OTLP_ENDPOINT).
 * Off, `span()` returns one shared no-op handle whose traceparent is computed only when read:
 * no SDK is loaded, nothing is allocated per event beyond that string.
 */
export interface SpanHandle {
  /** The traceparent to write downstream: this span when tracing is on, a child id of the parent when off. */
  readonly traceparent: string;
  setAttributes(attributes: Attributes): void;
  /** Marks the span failed (an entry left pending or dead-lettered). */
  fail(err: unknown): void;
  end(endTimeMs?: number): void;
}

export interface Tracing {
  readonly enabled: boolean;
  /**
   * Starts a span for one event. `parent` is the traceparent of the request or of the stream
   * entry; without a valid one the span starts a new trace.
   */
  span(name: string, parent: string | undefined, options?: { kind?: 'server' | 'consumer' | 'producer' | 'internal'; attributes?: Attributes; startTimeMs?: number }): SpanHandle;
  /** Flushes what is buffered. */
  forceFlush(): Promise<void>;
  /** Flushes and stops exporting; idempotent. */
  shutdown(): Promise<void>;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context of a W3C traceparent (remote), or undefined when it is missing or invalid. */
export function parseTraceparent(tp: string | undefined): SpanContext | undefined {
  if (!tp) return undefined;
  const m = TRACEPARENT.exec(tp);
  if (!m || /^0+$/.test(m[1]) || /^0+$/.test(m[2])) return undefined;
  return { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) & 1, isRemote: true };
}

export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

// ---- off: the default ------------------------------------------------------------------------

class NoopHandle implements SpanHandle {
  private tp?: string;
  constructor(private readonly parent: string | undefined) {}
  get traceparent(): string {
    return (this.tp ??= traceparentFor(this.parent));
  }
  setAttributes(): void {}
  fail(): void {}
  end(): void {}
}

export const noopTracing: Tracing = {
  enabled: false,
  span: (_name, parent) => new NoopHandle(parent),
  forceFlush: async () => {},
  shutdown: async () => {},
};

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
