import { PermanentError, RiskpipeError, isRetryable } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Embedder } from '../embed/types.js';
import { decodeRouted, STREAM_SCHEMA_VERSION, type Event, type Incident, type RiskPrediction } from '../models/index.js';
import type { Store } from '../store/index.js';
import type { Bus, Decoded, Delivery, Done, GroupRef, Outcome, Processor, SettleOutcome } from '../stream/types.js';
import type { EventIndex, EventPayload } from '../vector/event-index.js';
import type { IncidentProvider } from './incidents/types.js';
import type { IndexMetrics } from './metrics.js';

/*
 * Stage 3, indexing: events:reasoning_queue ──► incidents + vector index + Postgres ──► done
 *
 * A processor on the shared consumer (src/stream/consumer.ts owns join, recover, claim, read,
 * dead-letter and close). For each read batch, in order:
 *   1. decode    the routed entry: event, prediction, batch id (a malformed one is dead-lettered).
 *   2. tasks     three at once, for the whole batch:
 *                  A incidents  the provider turns each event + verdict into incidents;
 *                  B index      embed the contents, upsert them into the event index (point ids
 *                               from event_id: a retry replaces, never duplicates);
 *                  C record     upsert events and predictions into the store, status `processing`.
 *   3. commit    for the events whose three tasks all succeeded, one transaction: incidents
 *                replace any earlier ones, the delivery is logged, status `indexed`.
 *   4. failures  every other event: the attempt and its error are logged; the entry stays pending
 *                (transient) or, when retrying cannot help or this was its last allowed delivery,
 *                goes to events:deadletter (status `dead_lettered`). What a failed attempt wrote
 *                (a vector, an event row in `processing`) is invisible to search, which answers only
 *                `indexed` events, and the next attempt overwrites it.
 *   5. settle    ack, delete the entry from events:reasoning_queue (its data now lives in the
 *                store and the index) and count it `indexed` in its batch — one atomic bus step.
 */

export interface IndexItem {
  event: Event;
  prediction: RiskPrediction;
  batchId: string | null;
  traceparent: string | null;
  screenedAt: string | null;
}

export interface IndexOutput {
  incidents: number;
}

export interface IndexProcessorOptions {
  bus: Bus;
  ref: GroupRef;
  store: Store;
  index: EventIndex;
  embedder: Embedder;
  incidents: IncidentProvider;
  /** The consumer's limit: a failure on this delivery dead-letters the entry. */
  maxDeliveries: number;
  /** Consumer name, logged with each attempt. */
  consumer?: string;
  metrics?: IndexMetrics;
  log?: Logger;
}

/** The vector index payload of an event. */
export function payloadOf(event: Event, prediction: RiskPrediction): EventPayload {
  return {
    event_id: event.event_id,
    platform: event.platform,
    channel_id: event.channel_id,
    author_id: event.author_id,
    risk_category: prediction.risk_category,
    risk_level: prediction.risk_level,
    risk_score: prediction.risk_score,
    flags: prediction.flags,
    created_at: event.created_at,
    content: event.content,
  };
}

/** Names the task in an error that does not already say what failed, keeping its retry verdict. */
function taskError(task: string, err: unknown): Error {
  if (err instanceof RiskpipeError) return err;
  const msg = `${task}: ${(err as Error)?.message ?? String(err)}`;
  return new RiskpipeError('RP_ERR_UPSTREAM_UNAVAILABLE', msg, { cause: err });
}

const codeOf = (err: Error): string => (err instanceof RiskpipeError ? err.code : 'RP_ERR_INTERNAL');

export class IndexProcessor implements Processor<IndexItem, IndexOutput> {
  private readonly log: Logger;
  constructor(private readonly o: IndexProcessorOptions) {
    this.log = (o.log ?? silentLogger).child({ component: 'index-processor' });
  }

  decode(fields: Record<string, string>, _delivery: Delivery): IndexItem {
    if (fields.v !== STREAM_SCHEMA_VERSION) throw new PermanentError('RP_ERR_SCHEMA_VERSION', `unknown stream schema version ${JSON.stringify(fields.v)} (this build reads ${STREAM_SCHEMA_VERSION})`);
    try {
      const { event, prediction, entry } = decodeRouted(fields);
      return { event, prediction, batchId: fields.batch_id || null, traceparent: entry.traceparent || null, screenedAt: entry.screened_at || null };
    } catch (err) {
      throw new PermanentError('RP_ERR_POISON_ENTRY', `not a routed entry: ${(err as Error).message.slice(0, 300)}`, err);
    }
  }

  async handle(items: Decoded<IndexItem>[]): Promise<Outcome<IndexOutput>[]> {
    const n = items.length;
    const errors: (Error | undefined)[] = new Array(n).fill(undefined);
    const incidents: Incident[][] = new Array(n);
    const m = this.o.metrics;
    const timed = async <T>(task: 'incidents' | 'index' | 'record' | 'commit', fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        m?.taskSeconds.labels({ task }).observe((performance.now() - t0) / 1000);
      }
    };

    // 2. The three tasks, in parallel, each over the whole batch.
    const [a, b, c] = await Promise.allSettled([
      timed('incidents', () => this.o.incidents.generate(items.map((i) => ({ event: i.value.event, prediction: i.value.prediction })))),
      timed('index', async () => {
        const vectors = await this.o.embedder.embed(items.map((i) => i.value.event.content));
        await this.o.index.upsert(items.map((i, k) => ({ vector: vectors[k], payload: payloadOf(i.value.event, i.value.prediction) })));
      }),
      timed('record', () =>
        this.o.store.recordEvents(items.map((i) => ({ event: i.value.event, prediction: i.value.prediction, batchId: i.value.batchId, traceparent: i.value.traceparent, screenedAt: i.value.screenedAt }))),
      ),
    ]);
    const failAll = (err: Error) => {
      for (let k = 0; k < n; k++) errors[k] ??= err;
    };
    if (a.status === 'rejected') failAll(taskError('incidents', a.reason));
    else a.value.forEach((r, k) => (r instanceof Error ? (errors[k] ??= r) : (incidents[k] = r)));
    if (b.status === 'rejected') failAll(taskError(`vector index (${this.o.index.kind})`, b.reason));
    if (c.status === 'rejected') failAll(taskError(`store (${this.o.store.kind})`, c.reason));

    // 3. Commit what succeeded everywhere.
    const ok = items.map((_, k) => k).filter((k) => !errors[k]);
    if (ok.length > 0) {
      try {
        const found = new Set(
          await timed('commit', () =>
            this.o.store.completeIndexed(
              ok.map((k) => ({ ...this.ref(items[k]), incidents: incidents[k], provider: this.o.incidents.id })),
            ),
          ),
        );
        for (const k of ok) if (!found.has(items[k].value.event.event_id)) errors[k] = new RiskpipeError('RP_ERR_INTERNAL', 'the event row vanished between record and commit');
      } catch (err) {
        for (const k of ok) errors[k] = taskError(`store (${this.o.store.kind})`, err);
      }
    }

    // 4. Log the failures; decide retry or dead letter.
    const outcomes: Outcome<IndexOutput>[] = items.map((_, k) => {
      const err = errors[k];
      if (!err) return { kind: 'ok', output: { incidents: incidents[k].length } };
      const last = items[k].delivery.deliveries >= this.o.maxDeliveries;
      if (!isRetryable(err) || last) {
        const perm = err instanceof PermanentError ? err : new PermanentError(err instanceof RiskpipeError ? err.code : 'RP_ERR_MAX_DELIVERIES', last ? `${err.message} (delivery ${items[k].delivery.deliveries} of at most ${this.o.maxDeliveries})` : err.message, err);
        return { kind: 'permanent', error: perm };
      }
      return { kind: 'transient', error: err };
    });
    const failed = items.map((_, k) => k).filter((k) => errors[k]);
    if (failed.length > 0) {
      try {
        const { indexed } = await this.o.store.recordFailures(
          failed.map((k) => ({ ...this.ref(items[k]), error: errors[k]!.message.slice(0, 2000), errorCode: codeOf(errors[k]!), deadLettered: outcomes[k].kind === 'permanent' })),
        );
        // A dead-lettered event's vector (if this attempt wrote one) leaves the index too, unless an
        // earlier delivery completed it. Best effort: search hides it anyway, and a replay rewrites it.
        const keep = new Set(indexed);
        const drop = failed.filter((k) => outcomes[k].kind === 'permanent').map((k) => items[k].value.event.event_id).filter((id) => !keep.has(id));
        if (drop.length > 0) await this.o.index.remove(drop).catch((err) => this.log.debug({ err }, 'could not remove dead-lettered vectors'));
      } catch (err) {
        // The store is what failed, most likely: the bus still has the entry, and its next delivery tries again.
        this.log.warn({ err, events: failed.length }, 'could not log the failed attempts in the store');
      }
      const byCode = new Map<string, number>();
      for (const k of failed) byCode.set(codeOf(errors[k]!), (byCode.get(codeOf(errors[k]!)) ?? 0) + 1);
      for (const [code, count] of byCode) m?.failed.labels({ code }).inc(count);
      this.log.warn({ failed: failed.length, of: n, error: errors[failed[0]]!.message.slice(0, 300) }, 'index attempts failed');
    }
    return outcomes;
  }

  private ref(d: Decoded<IndexItem>) {
    return { eventId: d.value.event.event_id, entryId: d.delivery.id, delivery: d.delivery.deliveries, consumer: this.o.consumer ?? null };
  }

  async settle(done: Done<IndexItem, IndexOutput>[]): Promise<SettleOutcome[]> {
    const out = await this.o.bus.settle(
      this.o.ref,
      done.map((d) => ({ id: d.delivery.id, ...(d.value.batchId ? { batchId: d.value.batchId } : {}), count: ['indexed' as const] })),
      { deleteSource: true },
    );
    const settled = out.filter((o) => o !== null).length;
    this.o.metrics?.indexed.inc(settled);
    this.o.metrics?.incidents.inc(done.reduce((s, d, k) => s + (out[k] !== null ? d.output.incidents : 0), 0));
    return out;
  }
}
