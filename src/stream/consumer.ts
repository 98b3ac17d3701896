import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Counter, Histogram, type Registry } from 'prom-client';
import { PermanentError, RiskpipeError, isRetryable } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { BatchCounter, BlockingReader, Bus, Decoded, DeadLetterItem, Delivery, Done, GroupRef, Processor } from './types.js';

/*
 * The generic at-least-once consumer (BullMQ's Worker(processor), Benthos' input → processor):
 * a stage supplies decode, handle and settle (a Processor) and this owns delivery.
 *
 * The steps, in order:
 *   1. join      create the group from the start of the stream (entries written before the first
 *                consumer ever ran are handled too).
 *   2. recover   re-read this consumer's own pending entries until none remain.
 *   3. loop      every claimIntervalMs claim entries idle longer than claimIdleMs (from any consumer);
 *                every trimIntervalMs (if set) trim what every group is done with;
 *                otherwise read new entries (blocking, on a reader of its own), into one of
 *                `concurrency` slots.
 *   4. a batch   entries gone from the stream, or delivered more than maxDeliveries times, and
 *                entries decode rejects → dead-letter (acked in the same step);
 *                handle → one outcome per entry: ok → settle (write + ack, atomic/idempotent),
 *                transient → stays pending (claimed again later), permanent → dead-letter.
 *   5. close     stop intake, interrupt the read, drain the batches in hand under a deadline
 *                (at once when the bus is unreachable: unsettled entries simply stay pending),
 *                leave the group's consumer list when nothing is pending here. Idempotent.
 */

/** Counters the consumer reports (a stage maps them onto its own metrics, e.g. riskpipe_screen_*). */
export interface ConsumerHooks {
  claimed?(n: number): void;
  deadlettered?(code: string, n: number): void;
  transientFailures?(n: number): void;
  /** Entries settled elsewhere first (a claimer and a slow consumer both finished). */
  alreadySettled?(n: number): void;
  /** One per batch handled (decode to settle), in seconds. */
  batch?(seconds: number): void;
}

export interface ConsumerOptions<T, O> {
  bus: Bus;
  /** The stream and group to consume. */
  ref: GroupRef;
  /** Stage name: dead-letter entries' `stage` and the `stage` label of the metrics. */
  stage: string;
  processor: Processor<T, O>;
  /** Default hostname-pid-random. */
  consumer?: string;
  /** Entries per read and per handle call. Default 64. */
  batchSize?: number;
  /** How long one read waits for new entries. Default 2000 ms. */
  blockMs?: number;
  /** Entries pending longer than this are claimed from their consumer. Default 30000 ms. */
  claimIdleMs?: number;
  /** How often to look for such entries. Default claimIdleMs / 2, at most 10000 ms. */
  claimIntervalMs?: number;
  /** An entry delivered more often than this is dead-lettered. Default 5. */
  maxDeliveries?: number;
  /** Batches handled at once: while one is handled the next is read. Default 2. */
  concurrency?: number;
  /** Trim what every group is done with this often. Default 0: never. */
  trimIntervalMs?: number;
  /** Longest close() waits for the batches in hand. Default 20000 ms. */
  closeDeadlineMs?: number;
  /**
   * Batch counters to add 1 to, besides dead_lettered, when an entry this consumer handled fails
   * for good (a permanent outcome, or max deliveries), e.g. ['failed'] for the index stage.
   */
  failureCounters?: BatchCounter[];
  hooks?: ConsumerHooks;
  /** Registers riskpipe_consumer_* metrics (labelled by stage) here when given. */
  registry?: Registry;
  log?: Logger;
}

/** A default consumer name, unique per process: hostname-pid-random. */
export function defaultConsumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** prom-client metrics shared by every consumer of a registry, told apart by `stage`. */
function consumerMetrics(registry: Registry | undefined, stage: string) {
  if (!registry) return undefined;
  const get = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
  const handled = get('riskpipe_consumer_entries_total', () => new Counter({ name: 'riskpipe_consumer_entries_total', help: 'Entries handled by a consumer, by stage and outcome', labelNames: ['stage', 'outcome'] as const, registers: [registry] }));
  const claimed = get('riskpipe_consumer_claimed_total', () => new Counter({ name: 'riskpipe_consumer_claimed_total', help: 'Entries claimed from idle consumers, by stage', labelNames: ['stage'] as const, registers: [registry] }));
  const seconds = get('riskpipe_consumer_batch_duration_seconds', () => new Histogram({ name: 'riskpipe_consumer_batch_duration_seconds', help: 'Time to handle and settle one batch, by stage', labelNames: ['stage'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }));
  return {
    ok: handled.labels({ stage, outcome: 'ok' }),
    transient: handled.labels({ stage, outcome: 'transient' }),
    dead: handled.labels({ stage, outcome: 'dead_lettered' }),
    already: handled.labels({ stage, outcome: 'already_settled' }),
    claimed: claimed.labels({ stage }),
    seconds: seconds.labels({ stage }),
  };
}

/**
 * Consumes `ref` with `processor` (see the step list at the top of this file). Any number of
 * consumers can share a group. start() returns once the group exists; close() is idempotent.
 */
export class Consumer<T, O> {
  readonly consumer: string;
  readonly ref: GroupRef;
  readonly stage: string;
  readonly batchSize: number;
  readonly claimIdleMs: number;
  readonly maxDeliveries: number;
  private readonly bus: Bus;
  private readonly processor: Processor<T, O>;
  private readonly blockMs: number;
  private readonly claimIntervalMs: number;
  private readonly concurrency: number;
  private readonly trimIntervalMs: number;
  private readonly closeDeadlineMs: number;
  private readonly hooks: ConsumerHooks;
  private readonly failureCounters?: BatchCounter[];
  private readonly m?: ReturnType<typeof consumerMetrics>;
  private readonly log: Logger;

  private running = false;
  private stopping = false;
  private reader?: BlockingReader;
  private loop?: Promise<void>;
  private closing?: Promise<void>;
  /** Batches in hand, and the ids in them (a claim must not hand us our own work twice). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly inFlightIds = new Set<string>();
  private wake?: () => void;
  private lastLoopError = '';

  constructor(opts: ConsumerOptions<T, O>) {
    this.bus = opts.bus;
    this.ref = opts.ref;
    this.stage = opts.stage;
    this.processor = opts.processor;
    this.consumer = opts.consumer ?? defaultConsumerName();
    this.batchSize = opts.batchSize ?? 64;
    this.blockMs = opts.blockMs ?? 2000;
    this.claimIdleMs = opts.claimIdleMs ?? 30_000;
    this.claimIntervalMs = opts.claimIntervalMs ?? Math.max(10, Math.min(Math.floor(this.claimIdleMs / 2), 10_000));
    this.maxDeliveries = opts.maxDeliveries ?? 5;
    this.concurrency = opts.concurrency ?? 2;
    this.trimIntervalMs = opts.trimIntervalMs ?? 0;
    this.closeDeadlineMs = opts.closeDeadlineMs ?? 20_000;
    this.hooks = opts.hooks ?? {};
    this.failureCounters = opts.failureCounters;
    this.m = consumerMetrics(opts.registry, opts.stage);
    this.log = (opts.log ?? silentLogger).child({ component: `${opts.stage}-consumer`, consumer: this.consumer });
  }

  /** True while the loop runs (after start() has joined the group, until close()). */
  get isRunning(): boolean {
    return this.loop !== undefined && !this.stopping;
  }

  /**
   * Joins the group (step 1) and starts the loop in the background. Resolves once the group
   * exists; while the bus is away that waits. A failure to create the group is logged and
   * retried by the loop.
   */
  async start(): Promise<void> {
    if (this.running || this.stopping) return;
    this.running = true;
    try {
      await this.bus.ensureGroup(this.ref);
    } catch (err) {
      this.log.warn({ err }, 'could not create the consumer group yet; retrying in the loop');
    }
    if (this.stopping) return;
    this.reader = this.bus.reader();
    this.loop = this.run();
    this.log.info({ stream: this.bus.names[this.ref.stream], group: this.ref.group, batchSize: this.batchSize }, `${this.stage} consumer started`);
  }

  /**
   * Stops reading, lets the batches in hand finish and settle, then returns. Whatever is not done
   * by `deadlineMs` stays pending and is claimed by another consumer later. When the bus cannot
   * be reached nothing in hand can settle, so close does not wait for it. Idempotent.
   */
  close(deadlineMs = this.closeDeadlineMs): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.wake?.();
      await this.reader?.close();
      if (!this.loop) return;
      const res = await this.drain(deadlineMs);
      if (res === 'timeout') this.log.warn({ deadlineMs, batches: this.inFlight.size }, 'close deadline passed; unfinished entries stay pending for a claim');
      else if (res === 'unreachable') this.log.warn({ batches: this.inFlight.size }, 'the bus is unreachable: unsettled entries stay pending for a claim');
      else if (this.bus.connected) {
        // Consumer names are per process: leave the group's list unless entries are still ours.
        await Promise.race([
          this.bus.leave(this.ref, this.consumer).catch((err) => this.log.debug({ err }, 'could not leave the consumer group')),
          new Promise((r) => setTimeout(r, 1_000).unref()),
        ]);
      }
      this.log.info(`${this.stage} consumer stopped`);
    })();
    return this.closing;
  }

  /** Waits for the loop and the batches in hand: 'done', or gives up at the deadline or once the bus is unreachable. */
  private async drain(deadlineMs: number): Promise<'done' | 'timeout' | 'unreachable'> {
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const done = this.loop!.then(() => 'done' as const);
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), deadlineMs)));
    const unreachable = new Promise<'unreachable'>((r) => {
      const check = () => {
        if (!this.bus.connected) r('unreachable');
        else poll = setTimeout(check, 50);
      };
      check();
    });
    try {
      return await Promise.race([done, timedOut, unreachable]);
    } finally {
      clearTimeout(timer);
      clearTimeout(poll);
    }
  }

  // 2./3. the loop -------------------------------------------------------------------------------

  private async run(): Promise<void> {
    let recovered = false;
    let nextClaimAt = 0;
    let nextTrimAt = this.trimIntervalMs > 0 ? Date.now() + this.trimIntervalMs : Infinity;
    let failures = 0;
    while (!this.stopping) {
      try {
        if (!recovered) {
          await this.recoverOwnPending();
          recovered = true;
        }
        if (Date.now() >= nextClaimAt) {
          await this.claimStale();
          nextClaimAt = Date.now() + this.claimIntervalMs;
        }
        if (Date.now() >= nextTrimAt) {
          nextTrimAt = Date.now() + this.trimIntervalMs;
          const removed = await this.bus.trim(this.ref.stream);
          if (removed > 0) this.log.debug({ removed }, 'trimmed acknowledged entries');
        }
        await this.freeSlot();
        if (this.stopping) break;
        const blockMs = Math.max(1, Math.min(this.blockMs, nextClaimAt - Date.now()));
        const batch = await this.reader!.readNew(this.ref, this.consumer, this.batchSize, blockMs);
        if (batch.length > 0) this.dispatch(batch);
        if (failures > 0) this.log.info(`${this.stage} consumer reading again`);
        failures = 0;
        this.lastLoopError = '';
      } catch (err) {
        if (this.stopping) break;
        failures++;
        // Consumer connections queue commands while Redis is away, so errors here are rare: a
        // Redis restart that lost the group (NOGROUP), a script error, an interrupted read.
        if ((err as Error).message !== this.lastLoopError) this.log.warn({ err, failures }, 'consumer loop error; retrying');
        this.lastLoopError = (err as Error).message;
        await this.sleep(Math.min(100 * 2 ** Math.min(failures, 5), 3_000));
        await this.bus.ensureGroup(this.ref).catch(() => undefined);
      }
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** Entries this consumer was given before (a restart under the same consumer name). */
  private async recoverOwnPending(): Promise<void> {
    let cursor = '0-0';
    while (!this.stopping) {
      const entries = await this.bus.readOwnPending(this.ref, this.consumer, cursor, this.batchSize);
      if (entries.length === 0) return;
      this.log.info({ entries: entries.length }, 'recovering entries left pending by this consumer');
      await this.freeSlot();
      this.dispatch(entries);
      cursor = entries[entries.length - 1].id;
    }
  }

  /** Claims entries pending longer than claimIdleMs, from any consumer (this one included). */
  private async claimStale(): Promise<void> {
    let cursor = '0-0';
    do {
      const { next, entries, deleted } = await this.bus.claimIdle(this.ref, this.consumer, this.claimIdleMs, cursor, this.batchSize);
      if (deleted.length > 0) this.log.warn({ entries: deleted.length }, 'pending entries whose messages were deleted were dropped from the group');
      // Our own slow batch went idle: it is still being worked on here.
      const batch = entries.filter((d) => !this.inFlightIds.has(d.id));
      if (batch.length > 0) {
        this.hooks.claimed?.(batch.length);
        this.m?.claimed.inc(batch.length);
        this.log.info({ entries: batch.length }, 'claimed entries left idle');
        await this.freeSlot();
        this.dispatch(batch);
      }
      cursor = next;
    } while (cursor !== '0-0' && !this.stopping);
  }

  private dispatch(batch: Delivery[]): void {
    for (const d of batch) this.inFlightIds.add(d.id);
    const p: Promise<void> = this.handle(batch)
      .catch((err) => this.log.error({ err, entries: batch.length }, 'batch failed; its entries stay pending for a claim'))
      .finally(() => {
        this.inFlight.delete(p);
        for (const d of batch) this.inFlightIds.delete(d.id);
      });
    this.inFlight.add(p);
  }

  private async freeSlot(): Promise<void> {
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  // 4. a batch ---------------------------------------------------------------------------------

  private async handle(batch: Delivery[]): Promise<void> {
    const started = performance.now();
    const dead: DeadLetterItem[] = [];
    const todo: Decoded<T>[] = [];
    for (const d of batch) {
      if (d.fields === null) {
        dead.push({ id: d.id, error: 'message deleted while pending', code: 'RP_ERR_POISON_ENTRY', deliveries: d.deliveries, fields: null });
        continue;
      }
      if (d.deliveries > this.maxDeliveries) {
        dead.push({ id: d.id, error: `delivered ${d.deliveries} times (max ${this.maxDeliveries}) without being handled`, code: 'RP_ERR_MAX_DELIVERIES', deliveries: d.deliveries, fields: d.fields, count: this.failureCounters });
        continue;
      }
      try {
        todo.push({ delivery: d, fields: d.fields, value: this.processor.decode(d.fields, d) });
      } catch (err) {
        const e = err instanceof RiskpipeError ? err : new PermanentError('RP_ERR_POISON_ENTRY', `entry cannot be read: ${(err as Error).message}`, err);
        dead.push({ id: d.id, error: e.message, code: e.code, deliveries: d.deliveries, fields: d.fields });
      }
    }
    if (dead.length > 0) await this.deadletter(dead);
    if (todo.length === 0) return;

    let outcomes;
    try {
      outcomes = await this.processor.handle(todo);
      if (outcomes.length !== todo.length) throw new PermanentError('RP_ERR_INTERNAL', `handler returned ${outcomes.length} outcomes for ${todo.length} entries`);
    } catch (err) {
      const e = asError(err);
      outcomes = todo.map(() => (isRetryable(e) ? { kind: 'transient' as const, error: e } : { kind: 'permanent' as const, error: e }));
    }
    const done: Done<T, O>[] = [];
    const failed: DeadLetterItem[] = [];
    let transient = 0;
    for (let i = 0; i < todo.length; i++) {
      const o = outcomes[i];
      if (o.kind === 'ok') done.push({ ...todo[i], output: o.output });
      else if (o.kind === 'transient') transient++;
      else {
        const given = (o.error as { code?: unknown }).code;
        const code = o.error instanceof RiskpipeError ? o.error.code : typeof given === 'string' && given.startsWith('RP_ERR_') ? given : 'RP_ERR_INTERNAL';
        failed.push({ id: todo[i].delivery.id, error: o.error.message, code, deliveries: todo[i].delivery.deliveries, fields: todo[i].fields, count: this.failureCounters });
      }
    }
    if (transient > 0) {
      this.hooks.transientFailures?.(transient);
      this.m?.transient.inc(transient);
      this.log.warn({ entries: transient }, 'entries failed transiently; they stay pending and are claimed again after claimIdleMs');
    }
    if (failed.length > 0) await this.deadletter(failed);
    if (done.length > 0) {
      const settled = await this.processor.settle(done);
      let already = 0;
      for (const s of settled) if (s === null) already++;
      this.m?.ok.inc(done.length - already);
      if (already > 0) {
        this.hooks.alreadySettled?.(already);
        this.m?.already.inc(already);
        this.log.info({ entries: already }, 'entries were already settled by another consumer; not written twice');
      }
    }
    const seconds = (performance.now() - started) / 1000;
    this.hooks.batch?.(seconds);
    this.m?.seconds.observe(seconds);
  }

  private async deadletter(items: DeadLetterItem[]): Promise<void> {
    const reply = await this.bus.deadLetter(this.ref, this.stage, items);
    const byCode = new Map<string, number>();
    items.forEach((it, i) => {
      if (reply[i] === null || reply[i] === 'acked') return;
      byCode.set(it.code, (byCode.get(it.code) ?? 0) + 1);
      // The error text can quote the entry (a JSON parse error does): debug level only.
      this.log.warn({ source_id: it.id, code: it.code, deliveries: it.deliveries }, 'entry dead-lettered');
      this.log.debug({ source_id: it.id, error: it.error }, 'dead-letter reason');
    });
    for (const [code, n] of byCode) {
      this.hooks.deadlettered?.(code, n);
      this.m?.dead.inc(n);
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new RiskpipeError('RP_ERR_INTERNAL', String(err));
}
