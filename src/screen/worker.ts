import { randomUUID } from 'node:crypto';
import { PermanentError, RiskpipeError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { traceparentFor } from '../common/trace.js';
import { Event, GROUPS, STREAM_SCHEMA_VERSION, parseEvent, type ParseEventResult, type RiskPrediction } from '../models/index.js';
import { Consumer, type Bus, type Decoded, type Done, type GroupRef, type Outcome, type Processor, type SettleOutcome, type StreamNames } from '../stream/index.js';
import { AuthorTracker } from './author.js';
import { createScreenMetrics, type Route, type ScreenMetrics } from './metrics.js';
import type { AuthorStats, Embedder } from './types.js';

export { defaultConsumerName } from '../stream/index.js';

/*
 * Stage 2, screening: events:raw ──► score ──► events:reasoning_queue | events:low_risk
 *
 * Delivery (join the group, recover own pending, claim idle entries, blocking read, concurrency,
 * max deliveries → dead-letter, close under a deadline) is the generic Consumer's
 * (src/stream/consumer.ts). This file is the stage, its steps in order, per batch:
 *   1. decode  parseRawEntry: an unknown schema version, JSON that does not parse or an event the
 *              model rejects is permanent → events:deadletter (acked in the same step)
 *   2. author  per-author window counts, one round trip, counted once per entry (author.ts)
 *   3. screen  screener.screenBatch; on failure one by one, so one bad entry cannot hold back the
 *              others; transient failures stay pending for a claim, permanent ones are dead-lettered
 *   4. route   settle: ack + append to its route + batch counters (screened, low_risk | escalated),
 *              atomically for the batch, "ack first, then write what was acked" (bus.settle)
 *   5. learn   escalated events join the screener's neighbour index (unless it already holds a
 *              near-copy: learnMaxSimilarity)
 */

/** Scoring as the worker sees it: the Screener (screener.ts) or anything shaped like it. */
export interface ScreenFn {
  readonly modelId: string;
  readonly dim: number;
  readonly device: string;
  readonly fingerprint: string;
  /** One prediction per item, in order. Throws a RiskpipeError saying whether a retry can help. */
  screenBatch(items: { event: Event; author?: AuthorStats }[]): Promise<RiskPrediction[]>;
  /** Lets later events be compared with this escalated one. */
  addEscalated?(event: Event, prediction: RiskPrediction): void;
}

/** The stream a prediction is routed to: reasoning at or above the threshold, else low risk. */
export function routeFor(riskScore: number, threshold: number): Route {
  return riskScore >= threshold ? 'reasoning_queue' : 'low_risk';
}

/** Full stream name of a route under `streams`. */
export function routeStream(route: Route, streams: StreamNames): string {
  return route === 'reasoning_queue' ? streams.reasoning : streams.lowRisk;
}

export interface ParsedRawEntry {
  event: Event;
  /** The entry's `event` field as it was, passed on unchanged (no re-serialisation). */
  eventJson: string;
  traceparent: string;
}

/**
 * Reads one events:raw entry. Throws a PermanentError (its entry goes to the dead-letter stream)
 * for an unknown schema version, JSON that does not parse, or an event the Event model rejects.
 */
export function parseRawEntry(fields: Record<string, string>): ParsedRawEntry {
  if (fields.v !== STREAM_SCHEMA_VERSION) {
    throw new PermanentError(
      'RP_ERR_SCHEMA_VERSION',
      fields.v === undefined ? 'entry has no schema version field "v"' : `unknown schema version ${JSON.stringify(fields.v)} (this worker reads ${STREAM_SCHEMA_VERSION})`,
    );
  }
  const eventJson = fields.event;
  if (eventJson === undefined) throw new PermanentError('RP_ERR_POISON_ENTRY', 'entry has no "event" field');
  let raw: unknown;
  try {
    raw = JSON.parse(eventJson);
  } catch (err) {
    throw new PermanentError('RP_ERR_POISON_ENTRY', `"event" is not valid JSON: ${(err as Error).message}`, err);
  }
  const res = Event.safeParse(raw);
  if (!res.success) {
    const problems = res.error.issues.map((i) => `${i.path.map(String).join('.') || '(event)'}: ${i.message}`).join('; ');
    throw new PermanentError('RP_ERR_POISON_ENTRY', `"event" fails the Event model: ${problems}`, res.error);
  }
  return { event: res.data, eventJson, traceparent: fields.traceparent || traceparentFor() };
}

/**
 * An Event from what a person typed: `{"content"}` alone is enough; `event_id` is generated when
 * missing and the other required fields get neutral defaults. Used by `POST /v1/risk/screen` and
 * `riskpipe screen`, where there is no ingest step to demand them.
 */
export function eventFromInput(input: unknown, newId: () => string = () => `screen-${randomUUID()}`): ParseEventResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return parseEvent(input);
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) if (v !== null && v !== undefined) given[k] = v;
  const userId = given.user_id ?? given.author_id ?? 'anonymous';
  return parseEvent({
    event_type: 'message_created',
    platform: 'web_chat',
    user_id: userId,
    author_id: given.author_id ?? userId,
    ...given,
    event_id: given.event_id ?? newId(),
  });
}

/**
 * An embedder that remembers the vectors of the texts it embedded last. The worker's learn step
 * hands escalated events back to the screener, which embeds their text again to index it; with
 * this in front of the model that is a lookup instead of a second inference (with ONNX, a fifth
 * of all inference time in bench:screen). Copies of a text within a batch are embedded once.
 */
export class RecentVectorsEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  readonly device: string;
  private readonly recent = new Map<string, Float32Array>();

  /** `capacity`: texts remembered, oldest forgotten first. Default 4096 (a few batches). */
  constructor(readonly inner: Embedder, private readonly capacity = 4096) {
    this.id = inner.id;
    this.dim = inner.dim;
    this.device = inner.device;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = new Array(texts.length);
    const missing: string[] = [];
    const at = new Map<string, number[]>();
    for (let i = 0; i < texts.length; i++) {
      const t = texts[i];
      const v = this.recent.get(t);
      if (v) {
        out[i] = v;
        continue;
      }
      const slots = at.get(t);
      if (slots) slots.push(i);
      else {
        at.set(t, [i]);
        missing.push(t);
      }
    }
    if (missing.length === 0) return out;
    const vectors = await this.inner.embed(missing);
    for (let k = 0; k < missing.length; k++) {
      for (const i of at.get(missing[k])!) out[i] = vectors[k];
      this.recent.set(missing[k], vectors[k]);
    }
    // Map iteration is insertion order: the first keys are the oldest.
    if (this.recent.size > this.capacity) {
      let excess = this.recent.size - this.capacity;
      for (const key of this.recent.keys()) {
        if (excess-- <= 0) break;
        this.recent.delete(key);
      }
    }
    return out;
  }

  close(): Promise<void> {
    this.recent.clear();
    return this.inner.close();
  }
}


export interface ScreenWorkerOptions {
  /** The bus to consume `raw` from and route onto (a consumer-role RedisBus, or a MemoryBus). */
  bus: Bus;
  screener: ScreenFn;
  /** Route to the reasoning queue at or above this risk score (the policy's). */
  threshold: number;
  /** Default "risk-screening". */
  group?: string;
  /** Default hostname-pid-random. */
  consumer?: string;
  /** Entries per read and per screenBatch call. Default 64. */
  batchSize?: number;
  /** How long one read waits for new entries. Default 2000 ms. */
  blockMs?: number;
  /** Entries pending longer than this are claimed from their consumer. Default 30000 ms. */
  claimIdleMs?: number;
  /** How often to look for such entries. Default claimIdleMs / 2, at most 10000 ms. */
  claimIntervalMs?: number;
  /** An entry delivered more often than this is dead-lettered. Default 5. */
  maxDeliveries?: number;
  /** Batches screened at once: while one is scored the next is read and counted. Default 2. */
  concurrency?: number;
  /** Window of the author behaviour counts. Default 60 s. */
  authorWindowS?: number;
  /**
   * An escalated event is not added to the screener's neighbour index when the index already
   * holds a neighbour of its category this similar (a copy of a known message adds nothing, and
   * a campaign of copies would crowd out everything else). Default 0.95; above 1 adds all.
   * `riskpipe screen-worker` passes the policy's full-vote similarity for its embedder.
   */
  learnMaxSimilarity?: number;
  /** Trim what every group is done with from the raw stream this often. Default 0: never. */
  trimIntervalMs?: number;
  /** Longest close() waits for the batches in hand. Default 20000 ms. */
  closeDeadlineMs?: number;
  metrics?: ScreenMetrics;
  log?: Logger;
}

/**
 * The screening consumer of `raw` (see the step list at the top of this file). Any number of
 * workers can share the group. start() returns once the group exists; close() is idempotent.
 */
export class ScreenWorker {
  readonly consumer: string;
  readonly group: string;
  readonly streams: StreamNames;
  readonly threshold: number;
  readonly metrics: ScreenMetrics;
  readonly batchSize: number;
  readonly claimIdleMs: number;
  readonly maxDeliveries: number;
  private readonly bus: Bus;
  private readonly ref: GroupRef;
  private readonly screener: ScreenFn;
  private readonly authors: AuthorTracker;
  private readonly learnMaxSimilarity: number;
  private readonly log: Logger;
  private readonly runner: Consumer<ParsedRawEntry, RiskPrediction>;

  constructor(opts: ScreenWorkerOptions) {
    this.bus = opts.bus;
    this.screener = opts.screener;
    this.threshold = opts.threshold;
    this.streams = opts.bus.names;
    this.group = opts.group ?? GROUPS.screening;
    this.ref = { stream: 'raw', group: this.group };
    this.learnMaxSimilarity = opts.learnMaxSimilarity ?? 0.95;
    this.metrics = opts.metrics ?? createScreenMetrics();
    this.authors = new AuthorTracker(opts.bus, { windowS: opts.authorWindowS });
    const m = this.metrics;
    this.runner = new Consumer({
      bus: opts.bus,
      ref: this.ref,
      stage: 'screen',
      processor: this.processor(),
      consumer: opts.consumer,
      batchSize: opts.batchSize,
      blockMs: opts.blockMs,
      claimIdleMs: opts.claimIdleMs,
      claimIntervalMs: opts.claimIntervalMs,
      maxDeliveries: opts.maxDeliveries,
      concurrency: opts.concurrency,
      trimIntervalMs: opts.trimIntervalMs,
      closeDeadlineMs: opts.closeDeadlineMs,
      hooks: {
        claimed: (n) => m.claimed(n),
        deadlettered: (code, n) => m.deadlettered(code, n),
        transientFailures: (n) => m.transientFailures(n),
        alreadySettled: (n) => m.alreadyAcked(n),
        batch: (s) => m.batch(s),
      },
      registry: m.registry,
      log: opts.log,
    });
    this.consumer = this.runner.consumer;
    this.batchSize = this.runner.batchSize;
    this.claimIdleMs = this.runner.claimIdleMs;
    this.maxDeliveries = this.runner.maxDeliveries;
    this.log = (opts.log ?? silentLogger).child({ component: 'screen-worker', consumer: this.consumer });
  }

  /** True while the loop runs (after start() has joined the group, until close()). */
  get isRunning(): boolean {
    return this.runner.isRunning;
  }

  /** Joins the group and starts consuming in the background; resolves once the group exists. */
  async start(): Promise<void> {
    await this.runner.start();
    this.log.info({ stream: this.streams.raw, group: this.group, batchSize: this.batchSize, threshold: this.threshold }, 'screen worker started');
  }

  /** The group's lag and pending count (for metrics). */
  groupInfo() {
    return this.bus.groupInfo(this.ref);
  }

  /** Removes the raw stream's entries every group has acknowledged; returns how many went. */
  trim(): Promise<number> {
    return this.bus.trim('raw');
  }

  /**
   * Stops reading, lets the batches in hand finish and be acked, then returns. Whatever is not
   * done by `deadlineMs` (or while the bus is unreachable) stays pending and is claimed by
   * another worker later. Idempotent; the caller closes the bus afterwards.
   */
  close(deadlineMs?: number): Promise<void> {
    return this.runner.close(deadlineMs);
  }

  private processor(): Processor<ParsedRawEntry, RiskPrediction> {
    return {
      // 1. decode
      decode: (fields) => parseRawEntry(fields),
      handle: async (items) => {
        // 2. author
        const stats = await this.authors.observe(items.map((t) => ({ entryId: t.delivery.id, event: t.value.event })));
        // 3. screen
        return this.screen(items, stats);
      },
      // 4. route (+ ack), 5. learn
      settle: (done) => this.route(done),
    };
  }

  private async screen(todo: Decoded<ParsedRawEntry>[], stats: AuthorStats[]): Promise<Outcome<RiskPrediction>[]> {
    const items = todo.map((t, i) => ({ event: t.value.event, author: stats[i] }));
    try {
      const preds = await this.screener.screenBatch(items);
      if (preds.length !== items.length) throw new PermanentError('RP_ERR_INTERNAL', `screener returned ${preds.length} predictions for ${items.length} events`);
      return preds.map((p) => ({ kind: 'ok', output: p }));
    } catch (err) {
      if (items.length === 1) return [failure(err)];
      // One entry can fail a whole batch: score them one by one so that only it is held back.
      // In sequence, not at once: a batching embedder would put concurrent calls back into one
      // batch, and the bad text would fail the others again.
      this.log.warn({ err, entries: items.length }, 'batch screening failed; screening its entries one by one');
      const out: Outcome<RiskPrediction>[] = [];
      for (const it of items) {
        try {
          const [p] = await this.screener.screenBatch([it]);
          out.push(p ? { kind: 'ok', output: p } : failure(new PermanentError('RP_ERR_INTERNAL', 'screener returned no prediction')));
        } catch (e) {
          out.push(failure(e));
        }
      }
      return out;
    }
  }

  private async route(done: Done<ParsedRawEntry, RiskPrediction>[]): Promise<SettleOutcome[]> {
    const screenedAt = new Date().toISOString();
    const routes: Route[] = new Array(done.length);
    const reply = await this.bus.settle(
      this.ref,
      done.map((d, i) => {
        const route = routeFor(d.output.risk_score, this.threshold);
        routes[i] = route;
        const batchId = d.fields.batch_id;
        const fields: Record<string, string> = {
          v: STREAM_SCHEMA_VERSION,
          event_id: d.value.event.event_id,
          event: d.value.eventJson,
          prediction: JSON.stringify(d.output),
          source_id: d.delivery.id,
          traceparent: d.value.traceparent,
          screened_at: screenedAt,
          // Always present (empty when unknown), so a batch's outputs share one field template.
          batch_id: batchId ?? '',
        };
        return {
          id: d.delivery.id,
          output: { stream: route === 'reasoning_queue' ? 'reasoning' : 'lowRisk', fields },
          batchId,
          count: ['screened', route === 'reasoning_queue' ? 'escalated' : 'low_risk'],
        };
      }),
    );

    const counts = new Map<string, number>();
    for (let i = 0; i < done.length; i++) {
      if (reply[i] === null) continue;
      const { value, output: prediction } = done[i];
      const key = `${routes[i]}|${prediction.risk_category}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      // 5. learn
      if (routes[i] === 'reasoning_queue' && this.screener.addEscalated && !this.knownAlready(prediction)) {
        try {
          this.screener.addEscalated(value.event, prediction);
        } catch (err) {
          this.log.warn({ err, event_id: value.event.event_id }, 'could not add an escalated event to the neighbour index');
        }
      }
    }
    this.metrics.routed(counts);
    return reply;
  }

  /** Whether the neighbour index already has a near-copy of this verdict's message, with its category. */
  private knownAlready(prediction: RiskPrediction): boolean {
    for (const n of prediction.details.neighbors) {
      if (n.similarity >= this.learnMaxSimilarity && n.label === prediction.risk_category) return true;
    }
    return false;
  }
}

function failure(err: unknown): Outcome<RiskPrediction> {
  const e = err instanceof Error ? err : new RiskpipeError('RP_ERR_INTERNAL', String(err));
  if (e instanceof RiskpipeError ? e.retryable : !(e instanceof PermanentError)) return { kind: 'transient', error: e };
  return { kind: 'permanent', error: e };
}
