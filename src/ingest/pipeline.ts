import { DEFAULT_INPUT_LIMITS, rejectedItems, serialiseEvent, type InputLimits } from '../common/limits.js';
import type { ErrorCode } from '../common/errors.js';
import { noopTracing, type Tracing } from '../common/trace.js';
import { STREAM_SCHEMA_VERSION, parseEvent, type Event, type FieldError } from '../models/index.js';
import { contentHash, queueFullError, type AppendItem, type AppendOutcome, type Bus } from '../stream/index.js';
import type { SpanHandle } from '../common/trace.js';

/*
 * Stage 1, ingest: HTTP ──► events:raw. The steps, in order, for one event or a whole batch
 * (both routes of app.ts call ingest()):
 *   1. validate  every event against the Event model (parseEvent) and the input limits (nesting
 *                depth, metadata size), and serialise it — each event on its own, so that one
 *                bad event is its own error and never its batch-mates'; the invalid ones are
 *                reported, never queued
 *   2. append    dedup (event_id and content hash, each remembered dedupWindowS), backpressure
 *                (refuse everything while the raw stream's depth is at or above maxQueueDepth:
 *                RP_ERR_QUEUE_FULL → 503) and the append of what is new, with the batch's
 *                counters — one atomic step of the bus (Redis: src/stream/redis/lua/append.lua).
 *                The bus fails fast when it cannot be reached (RP_ERR_REDIS_UNAVAILABLE → 503).
 *                Single events (appendOne) that arrive in the same turn of the event loop share
 *                one append call — one round trip and one script run for many requests — and
 *                each request gets its own outcome (a full queue or an unreachable bus fails
 *                them all, as it would have failed each).
 */

export interface IngestOptions {
  bus: Bus;
  /** Default 100000. */
  maxQueueDepth?: number;
  /** Default 3600. */
  dedupWindowS?: number;
  /** One `ingest` span per event, whose traceparent the entry carries. Default off. */
  tracing?: Tracing;
  /** Default DEFAULT_INPUT_LIMITS. */
  limits?: Partial<InputLimits>;
  /** Most single events coalesced into one append call. Default 256. */
  coalesceMax?: number;
}

/** What a request's event became: queued or a duplicate (a full queue is an error, RP_ERR_QUEUE_FULL). */
export type IngestOutcome = Exclude<AppendOutcome, { status: 'full' }>;

/** A single event waiting for the coalesced append of this event-loop turn. */
interface Waiting {
  item: AppendItem;
  span: SpanHandle;
  resolve: (o: IngestOutcome) => void;
  reject: (err: unknown) => void;
}

/** One client event after validation: the event, or why it was rejected. */
export interface Checked {
  index: number;
  event?: Event;
  /** The event as queued (JSON), serialised in step 1. */
  json?: string;
  eventId: string | null;
  /** Why it was rejected, when that is not RP_ERR_VALIDATION. */
  code?: ErrorCode;
  detail?: string;
  errors?: FieldError[];
}

function clientEventId(raw: unknown): string | null {
  if (raw && typeof raw === 'object' && typeof (raw as { event_id?: unknown }).event_id === 'string') return (raw as { event_id: string }).event_id;
  return null;
}

/** Field errors under a batch item's path ("events.3"), or as they are for a single event (""). */
function withPrefix(pre: string, errors: FieldError[]): FieldError[] {
  return pre ? errors.map((e) => ({ path: `${pre}${e.path ? '.' + e.path : ''}`, message: e.message })) : errors.map((e) => ({ path: e.path, message: e.message }));
}

export class IngestPipeline {
  readonly bus: Bus;
  readonly maxQueueDepth: number;
  readonly dedupWindowS: number;
  readonly tracing: Tracing;
  readonly limits: InputLimits;
  readonly coalesceMax: number;
  private waiting: Waiting[] = [];
  private flushScheduled = false;

  constructor(opts: IngestOptions) {
    this.coalesceMax = opts.coalesceMax ?? 256;
    this.tracing = opts.tracing ?? noopTracing;
    this.limits = { ...DEFAULT_INPUT_LIMITS, ...opts.limits };
    this.bus = opts.bus;
    this.maxQueueDepth = opts.maxQueueDepth ?? 100_000;
    this.dedupWindowS = opts.dedupWindowS ?? 3600;
  }

  // 1. validate
  validate(raws: unknown[], pathPrefix: (index: number) => string = () => ''): Checked[] {
    // Batch items the body parser cut out for being too deep (src/common/limits.ts).
    const cutOut = rejectedItems(raws);
    const out = new Array<Checked>(raws.length);
    for (let index = 0; index < raws.length; index++) {
      const raw = raws[index];
      const tooDeep = cutOut?.get(index);
      if (tooDeep) {
        out[index] = { index, eventId: null, code: 'RP_ERR_JSON_TOO_DEEP', detail: tooDeep.message, errors: withPrefix(pathPrefix(index), [tooDeep]) };
        continue;
      }
      const p = parseEvent(raw);
      if (!p.ok) {
        out[index] = { index, eventId: clientEventId(raw), detail: p.detail, errors: withPrefix(pathPrefix(index), p.errors) };
        continue;
      }
      const ser = serialiseEvent(p.event, this.limits);
      out[index] = ser.ok
        ? { index, event: p.event, json: ser.json, eventId: p.event.event_id }
        : { index, eventId: p.event.event_id, code: ser.code, detail: ser.detail, errors: withPrefix(pathPrefix(index), ser.errors) };
    }
    return out;
  }

  // 2. dedup + backpressure + append
  /**
   * One outcome per valid event of `checked`, in order. `batchTotal`: events in the request, to
   * keep the batch's counters (batchStatus); omitted for single events, which have none.
   */
  async append(checked: Checked[], batchId: string, traceparent: string | string[] | undefined, batchTotal?: number, ingestedAt = new Date()): Promise<IngestOutcome[]> {
    const valid = checked.filter((c) => c.event);
    if (valid.length === 0) return [];
    const at = ingestedAt.toISOString();
    const parent = Array.isArray(traceparent) ? traceparent[0] : traceparent;
    // One span per event; its traceparent goes into the entry, so the screen span becomes its child.
    const spans = valid.map((c) => this.span(c.event!, batchId, parent));
    const items = valid.map((c, i) => this.item(c, batchId, at, spans[i]));
    const batch = batchTotal === undefined ? undefined : { id: batchId, total: batchTotal };
    let res: Awaited<ReturnType<Bus['append']>>;
    try {
      res = await this.bus.append('raw', items, { maxDepth: this.maxQueueDepth, dedupWindowS: this.dedupWindowS, batch });
    } catch (err) {
      for (const span of spans) span.fail(err), span.end();
      throw err;
    }
    if (this.tracing.enabled) res.outcomes.forEach((o, i) => (spans[i].setAttributes({ 'riskpipe.outcome': o.status }), spans[i].end()));
    // Backpressure per request: a full queue threw, no outcome is "full".
    return res.outcomes as IngestOutcome[];
  }

  /**
   * One valid single event (no batch counters), appended together with the other single events
   * of this event-loop turn: one bus call for all of them, each promise its own outcome.
   */
  appendOne(checked: Checked, batchId: string, traceparent: string | string[] | undefined): Promise<IngestOutcome> {
    const span = this.span(checked.event!, batchId, Array.isArray(traceparent) ? traceparent[0] : traceparent);
    // ingested_at is set when the call is made (flush), for all of them.
    const item = this.item(checked, batchId, '', span);
    return new Promise<IngestOutcome>((resolve, reject) => {
      this.waiting.push({ item, span, resolve, reject });
      if (this.waiting.length >= this.coalesceMax) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        // setImmediate, not nextTick: it runs after every socket that is ready this turn has been read.
        setImmediate(this.flushScheduledWaiting);
      }
    });
  }

  private readonly flushScheduledWaiting = () => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    const waiting = this.waiting;
    if (waiting.length === 0) return;
    this.waiting = [];
    const at = new Date().toISOString();
    const items = new Array<AppendItem>(waiting.length);
    for (let i = 0; i < waiting.length; i++) {
      items[i] = waiting[i].item;
      items[i].fields.ingested_at = at;
    }
    // Backpressure per item: each request is refused or taken as if it had been alone.
    this.bus.append('raw', items, { maxDepth: this.maxQueueDepth, dedupWindowS: this.dedupWindowS, backpressure: 'item' }).then(
      (res) => {
        for (let i = 0; i < waiting.length; i++) {
          const w = waiting[i];
          const o = res.outcomes[i];
          if (o.status === 'full') {
            const err = queueFullError(o.depth, this.maxQueueDepth);
            w.span.fail(err), w.span.end(), w.reject(err);
            continue;
          }
          if (this.tracing.enabled) w.span.setAttributes({ 'riskpipe.outcome': o.status }), w.span.end();
          w.resolve(o);
        }
      },
      (err: unknown) => {
        for (const w of waiting) w.span.fail(err), w.span.end(), w.reject(err);
      },
    );
  }

  private span(e: Event, batchId: string, parent: string | undefined): SpanHandle {
    return this.tracing.span('ingest', parent, { kind: 'server', attributes: { 'riskpipe.event_id': e.event_id, 'riskpipe.batch_id': batchId } });
  }

  private item(c: Checked, batchId: string, at: string, span: SpanHandle): AppendItem {
    const e = c.event!;
    return {
      eventId: e.event_id,
      contentHash: contentHash(e),
      // The fields of an events:raw entry, in this order (src/models/stream.ts RawEntry).
      fields: { v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: c.json ?? JSON.stringify(e), ingested_at: at, batch_id: batchId, traceparent: span.traceparent },
    };
  }

  /** The raw stream's unconsumed depth (group lag, else length). */
  depth(): Promise<number> {
    return this.bus.depth('raw');
  }
}
