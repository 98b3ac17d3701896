import { randomFillSync } from 'node:crypto';
import { TraceFlags, type Attributes, type SpanContext } from '@opentelemetry/api';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

// Random ids come from a pooled buffer: one randomFillSync per 4 KiB instead of one per id,
// which showed up at ~6% of ingest CPU.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** A new W3C traceparent, or a child span of the incoming one when it is valid. */
export function traceparentFor(incoming?: string | string[]): string {
  const parent = Array.isArray(incoming) ? incoming[0] : incoming;
  const m = parent ? TRACEPARENT.exec(parent.trim().toLowerCase()) : null;
  const traceId = m && !/^0+$/.test(m[1]) ? m[1] : randomHex(16);
  const flags = m ? m[3] : '01';
  return `00-${traceId}-${randomHex(8)}-${flags}`;
}

export function isTraceparent(s: string): boolean {
  return TRACEPARENT.test(s);
}

/**
 * OpenTelemetry spans for the life of one event: `ingest` (serve-ingest), `screen`
 * (screen-worker), `index` (index-worker). The W3C `traceparent` written into every stream entry
 * is what joins them: each stage starts its span as a child of the traceparent it read and writes
 * its own span's traceparent downstream, so one event is one trace across three processes.
 *
 * The interface lives here so that every stage can take one; the SDK behind it is loaded only by
 * src/ops/tracing.ts when an exporter is configured (OTEL_EXPORTER_OTLP_ENDPOINT). Off, `span()` returns one shared no-op handle whose traceparent is computed only when read:
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
