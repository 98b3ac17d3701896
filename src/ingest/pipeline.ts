import { traceparentFor } from '../common/trace.js';
import { STREAM_SCHEMA_VERSION, parseEvent, type Event, type FieldError } from '../models/index.js';
import { contentHash, type AppendOutcome, type Bus } from '../stream/index.js';

/*
 * Stage 1, ingest: HTTP ──► events:raw. The steps, in order, for one event or a whole batch
 * (both routes of app.ts call ingest()):
 *   1. validate  every event against the Event model (parseEvent); the invalid ones are reported,
 *                never queued
 *   2. append    dedup (event_id and content hash, each remembered dedupWindowS), backpressure
 *                (refuse everything while the raw stream's depth is at or above maxQueueDepth:
 *                RP_ERR_QUEUE_FULL → 503) and the append of what is new, with the batch's
 *                counters — one atomic step of the bus (Redis: src/stream/redis/lua/append.lua).
 *                The bus fails fast when it cannot be reached (RP_ERR_REDIS_UNAVAILABLE → 503).
 */

export interface IngestOptions {
  bus: Bus;
  /** Default 100000. */
  maxQueueDepth?: number;
  /** Default 3600. */
  dedupWindowS?: number;
}

/** One client event after validation: the event, or why it was rejected. */
export interface Checked {
  index: number;
  event?: Event;
  eventId: string | null;
  detail?: string;
  errors?: FieldError[];
}

function clientEventId(raw: unknown): string | null {
  if (raw && typeof raw === 'object' && typeof (raw as { event_id?: unknown }).event_id === 'string') return (raw as { event_id: string }).event_id;
  return null;
}

export class IngestPipeline {
  readonly bus: Bus;
  readonly maxQueueDepth: number;
  readonly dedupWindowS: number;

  constructor(opts: IngestOptions) {
    this.bus = opts.bus;
    this.maxQueueDepth = opts.maxQueueDepth ?? 100_000;
    this.dedupWindowS = opts.dedupWindowS ?? 3600;
  }

  // 1. validate
  validate(raws: unknown[], pathPrefix: (index: number) => string = () => ''): Checked[] {
    return raws.map((raw, index) => {
      const p = parseEvent(raw);
      if (p.ok) return { index, event: p.event, eventId: p.event.event_id };
      const pre = pathPrefix(index);
      return { index, eventId: clientEventId(raw), detail: p.detail, errors: p.errors.map((e) => ({ path: pre ? `${pre}${e.path ? '.' + e.path : ''}` : e.path, message: e.message })) };
    });
  }

  // 2. dedup + backpressure + append
  /**
   * One outcome per valid event of `checked`, in order. `batchTotal`: events in the request, to
   * keep the batch's counters (batchStatus); omitted for single events, which have none.
   */
  async append(checked: Checked[], batchId: string, traceparent: string | string[] | undefined, batchTotal?: number, ingestedAt = new Date()): Promise<AppendOutcome[]> {
    const valid = checked.filter((c) => c.event);
    if (valid.length === 0) return [];
    const at = ingestedAt.toISOString();
    const res = await this.bus.append(
      'raw',
      valid.map((c) => {
        const e = c.event!;
        return {
          eventId: e.event_id,
          contentHash: contentHash(e),
          // The fields of an events:raw entry, in this order (src/models/stream.ts RawEntry).
          fields: { v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: JSON.stringify(e), ingested_at: at, batch_id: batchId, traceparent: traceparentFor(traceparent) },
        };
      }),
      { maxDepth: this.maxQueueDepth, dedupWindowS: this.dedupWindowS, batch: batchTotal === undefined ? undefined : { id: batchId, total: batchTotal } },
    );
    return res.outcomes;
  }

  /** The raw stream's unconsumed depth (group lag, else length). */
  depth(): Promise<number> {
    return this.bus.depth('raw');
  }
}
