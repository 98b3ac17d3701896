import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ReplyError, type Redis } from 'ioredis';
import { PermanentError, RiskpipeError, isRetryable } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { loadLua } from '../common/lua.js';
import { traceparentFor } from '../common/trace.js';
import {
  Event,
  GROUPS,
  STREAM_SCHEMA_VERSION,
  fieldsToObject,
  parseEvent,
  streamNames,
  type ParseEventResult,
  type RiskPrediction,
  type StreamNames,
} from '../models/index.js';
import { AuthorTracker } from './author.js';
import { createScreenMetrics, type GroupInfo, type Route, type ScreenMetrics } from './metrics.js';
import type { AuthorStats, Embedder } from './types.js';

/*
 * Stage 2, screening: events:raw ──► score ──► events:reasoning_queue | events:low_risk
 *
 * The steps, in order (ScreenWorker below):
 *   1. join      XGROUP CREATE <raw> risk-screening 0 MKSTREAM: from the start of the stream, so
 *                events written before the first worker ever ran are screened too.
 *   2. recover   re-read this consumer's own pending entries (XREADGROUP ... 0) until none remain.
 *   3. loop      every claimIntervalMs claim entries idle longer than claimIdleMs (lua/claim.lua);
 *                every trimIntervalMs (if set) trim what the groups are done with (lua/trim.lua);
 *                otherwise read new entries (XREADGROUP ... >) on a connection of their own.
 *   4. a batch   parse   → entries that can never succeed, or were delivered more than
 *                          maxDeliveries times, go to events:deadletter, acked (lua/deadletter.lua)
 *                author  → per-author window counts, one round trip (author.ts, lua/author.lua)
 *                screen  → screener.screenBatch; on failure one by one, so one bad entry cannot
 *                          hold back the others; transient failures stay pending for a claim
 *                route   → XACK + XADD to its route, atomically for the batch (lua/route-ack.lua)
 *                learn   → escalated events join the screener's neighbour index (unless it
 *                          already holds a near-copy: learnMaxSimilarity)
 *   5. close     stop reading, finish the batches in hand, leave the group's consumer list when
 *                nothing is pending here (lua/leave.lua); the caller closes connections.
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

/** A default consumer name, unique per process: hostname-pid-random. */
export function defaultConsumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
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

/** The consumer group's lag and pending count, and how old the oldest undelivered entry is. */
export async function readGroupInfo(redis: Redis, stream: string, group: string, nowMs = Date.now()): Promise<GroupInfo> {
  const groups = (await redis.xinfo('GROUPS', stream).catch((err: unknown) => {
    // No stream yet: nothing to do, nothing pending.
    if (err instanceof ReplyError) return [];
    throw err;
  })) as unknown[][];
  for (const g of groups) {
    const o: Record<string, unknown> = {};
    for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
    if (o.name !== group) continue;
    const lag = o.lag === null || o.lag === undefined ? null : Number(o.lag);
    let lagSeconds = 0;
    if (lag !== 0) {
      const next = (await redis.xrange(stream, `(${String(o['last-delivered-id'])}`, '+', 'COUNT', 1)) as [string, string[]][];
      if (next.length > 0) lagSeconds = Math.max(0, (nowMs - Number(next[0][0].split('-')[0])) / 1000);
    }
    return { lag, pending: Number(o.pending ?? 0), lagSeconds, consumers: Number(o.consumers ?? 0) };
  }
  return { lag: (await redis.xlen(stream)) || 0, pending: 0, lagSeconds: 0, consumers: 0 };
}

/** Loads a Lua script of this folder and runs it by EVALSHA, falling back to EVAL after a Redis restart. */
function luaScript(file: string) {
  const source = loadLua(import.meta.url, file);
  const sha = createHash('sha1').update(source).digest('hex');
  return async (redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof ReplyError) || !(err as Error).message.startsWith('NOSCRIPT')) throw err;
      return await redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}
const routeAck = luaScript('./lua/route-ack.lua');
const deadletterAck = luaScript('./lua/deadletter.lua');
const claimIdle = luaScript('./lua/claim.lua');
const trimDone = luaScript('./lua/trim.lua');
const leaveGroup = luaScript('./lua/leave.lua');

export interface ScreenWorkerOptions {
  /** Commands: claims, author stats, route-ack, dead-letters. A consumer connection (createConsumerRedis). */
  redis: Redis;
  /** Used only for the blocking XREADGROUP, so that close() can interrupt it. A consumer connection too. */
  blockingRedis: Redis;
  screener: ScreenFn;
  /** Route to the reasoning queue at or above this risk score. */
  threshold: number;
  /** Put before every stream and key name. Default "". */
  prefix?: string;
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
  /**
   * How often to trim entries every group is done with from the raw stream (never past an
   * unacknowledged or undelivered one). Default 0: never; the stream is then trimmed elsewhere.
   */
  trimIntervalMs?: number;
  metrics?: ScreenMetrics;
  log?: Logger;
}

/** An entry as delivered to this consumer. `fields` is null when the message was deleted while pending. */
interface Delivered {
  id: string;
  fields: string[] | null;
  deliveries: number;
}

interface DeadItem {
  id: string;
  err: RiskpipeError;
  deliveries: number;
  fields: Record<string, string> | null;
}

interface Screening {
  id: string;
  fields: Record<string, string>;
  deliveries: number;
  parsed: ParsedRawEntry;
  author?: AuthorStats;
}

/**
 * The screening consumer of `<prefix>events:raw` (see the step list at the top of this file). Any
 * number of workers can share the group. start() returns once the group exists; close() is
 * idempotent.
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
  private readonly redis: Redis;
  private readonly blocking: Redis;
  private readonly screener: ScreenFn;
  private readonly authors: AuthorTracker;
  private readonly log: Logger;
  private readonly blockMs: number;
  private readonly claimIntervalMs: number;
  private readonly concurrency: number;
  private readonly trimIntervalMs: number;
  private readonly learnMaxSimilarity: number;

  private running = false;
  private stopping = false;
  private loop?: Promise<void>;
  private closing?: Promise<void>;
  /** Batches being screened, and the ids in them (a claim must not hand us our own work twice). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly inFlightIds = new Set<string>();
  private reading = false;
  private blockingClientId?: number;
  private wake?: () => void;
  private lastLoopError = '';

  constructor(opts: ScreenWorkerOptions) {
    this.redis = opts.redis;
    this.blocking = opts.blockingRedis;
    this.screener = opts.screener;
    this.threshold = opts.threshold;
    this.streams = streamNames(opts.prefix ?? '');
    this.group = opts.group ?? GROUPS.screening;
    this.consumer = opts.consumer ?? defaultConsumerName();
    this.batchSize = opts.batchSize ?? 64;
    this.blockMs = opts.blockMs ?? 2000;
    this.claimIdleMs = opts.claimIdleMs ?? 30_000;
    this.claimIntervalMs = opts.claimIntervalMs ?? Math.max(10, Math.min(Math.floor(this.claimIdleMs / 2), 10_000));
    this.maxDeliveries = opts.maxDeliveries ?? 5;
    this.concurrency = opts.concurrency ?? 2;
    this.trimIntervalMs = opts.trimIntervalMs ?? 0;
    this.learnMaxSimilarity = opts.learnMaxSimilarity ?? 0.95;
    this.metrics = opts.metrics ?? createScreenMetrics();
    this.log = (opts.log ?? silentLogger).child({ component: 'screen-worker', consumer: this.consumer });
    this.authors = new AuthorTracker(this.redis, { prefix: opts.prefix, windowS: opts.authorWindowS });
    // A reconnected blocking connection has a new client id: forget the old one.
    this.blocking.on('close', () => (this.blockingClientId = undefined));
  }

  /** True while the loop runs (after start() has joined the group, until close()). */
  get isRunning(): boolean {
    return this.loop !== undefined && !this.stopping;
  }

  /**
   * Joins the group (step 1) and starts the loop in the background. Resolves once the group
   * exists; while Redis is away that waits (consumer connections queue commands). A failure to
   * create the group is logged and retried by the loop.
   */
  async start(): Promise<void> {
    if (this.running || this.stopping) return;
    this.running = true;
    try {
      await this.ensureGroup();
    } catch (err) {
      this.log.warn({ err }, 'could not create the consumer group yet; retrying in the loop');
    }
    if (this.stopping) return;
    this.loop = this.run();
    this.log.info({ stream: this.streams.raw, group: this.group, batchSize: this.batchSize, threshold: this.threshold }, 'screen worker started');
  }

  /** The group's lag and pending count (for metrics). */
  groupInfo(): Promise<GroupInfo> {
    return readGroupInfo(this.redis, this.streams.raw, this.group);
  }

  /**
   * Stops reading, lets the batches in hand finish and be acked, then returns. Whatever is not
   * done by `deadlineMs` stays pending and is claimed by another worker later. Idempotent; the
   * caller closes the connections afterwards.
   */
  close(deadlineMs = 20_000): Promise<void> {
    this.closing ??= (async () => {
      this.stopping = true;
      this.wake?.();
      await this.interruptRead();
      // Still blocked (Redis away, or the UNBLOCK never reached it): drop the read's connection.
      // Anything that read had been given stays pending and is claimed later.
      if (this.reading) this.blocking.disconnect();
      if (!this.loop) return;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), deadlineMs)));
      const res = await Promise.race([this.loop.then(() => 'done' as const), timedOut]);
      clearTimeout(timer);
      if (res === 'timeout') this.log.warn({ deadlineMs, batches: this.inFlight.size }, 'close deadline passed; unfinished entries stay pending for a claim');
      // Consumer names are per process: leave the group's list unless entries are still ours.
      else if (this.redis.status === 'ready') {
        // Bounded: a consumer connection would wait for a Redis that went away meanwhile.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          leaveGroup(this.redis, [this.streams.raw], [this.group, this.consumer]).catch((err) => this.log.debug({ err }, 'could not leave the consumer group')),
          new Promise((r) => (timer = setTimeout(r, 1_000))),
        ]);
        clearTimeout(timer);
      }
      this.log.info('screen worker stopped');
    })();
    return this.closing;
  }

  // 1. join ------------------------------------------------------------------------------------

  private async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.streams.raw, this.group, '0', 'MKSTREAM');
      this.log.info({ stream: this.streams.raw, group: this.group }, 'consumer group created from the start of the stream');
    } catch (err) {
      // BUSYGROUP is Redis' error code for "the group exists": that is what we want.
      if (!(err instanceof ReplyError && (err as Error).message.startsWith('BUSYGROUP'))) throw err;
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
          await this.trim();
        }
        await this.freeSlot();
        if (this.stopping) break;
        const blockMs = Math.max(1, Math.min(this.blockMs, nextClaimAt - Date.now()));
        const batch = await this.readNew(blockMs);
        if (batch.length > 0) this.dispatch(batch);
        if (failures > 0) this.log.info('screen worker reading again');
        failures = 0;
        this.lastLoopError = '';
      } catch (err) {
        if (this.stopping) break;
        failures++;
        // Consumer connections queue commands while Redis is away, so errors here are rare: a
        // Redis restart that lost the group (NOGROUP), a script error, an interrupted read.
        if ((err as Error).message !== this.lastLoopError) this.log.warn({ err, failures }, 'screen loop error; retrying');
        this.lastLoopError = (err as Error).message;
        await this.sleep(Math.min(100 * 2 ** Math.min(failures, 5), 3_000));
        await this.ensureGroup().catch(() => undefined);
      }
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** Entries this consumer was given before (a restart under the same --consumer name). */
  private async recoverOwnPending(): Promise<void> {
    let cursor = '0';
    while (!this.stopping) {
      const reply = (await this.redis.xreadgroup('GROUP', this.group, this.consumer, 'COUNT', this.batchSize, 'STREAMS', this.streams.raw, cursor)) as
        | [string, [string, string[] | null][]][]
        | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) return;
      const first = entries[0][0];
      const last = entries[entries.length - 1][0];
      const pending = (await this.redis.xpending(this.streams.raw, this.group, first, last, entries.length, this.consumer)) as [string, string, number, number][];
      const deliveries = new Map(pending.map((p) => [p[0], Number(p[3])]));
      this.log.info({ entries: entries.length }, 'recovering entries left pending by this consumer');
      await this.freeSlot();
      this.dispatch(entries.map(([id, fields]) => ({ id, fields, deliveries: deliveries.get(id) ?? 1 })));
      cursor = last;
    }
  }

  /** Claims entries pending longer than claimIdleMs, from any consumer (this one included). */
  private async claimStale(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, claimed, deleted] = (await claimIdle(this.redis, [this.streams.raw], [this.group, this.consumer, this.claimIdleMs, cursor, this.batchSize])) as [
        string,
        [string, string[], number][],
        string[],
      ];
      if (deleted.length > 0) this.log.warn({ entries: deleted.length }, 'pending entries whose messages were deleted were dropped from the group');
      const batch: Delivered[] = [];
      for (const [id, fields, deliveries] of claimed) {
        // Our own slow batch went idle: it is still being worked on here.
        if (!this.inFlightIds.has(id)) batch.push({ id, fields, deliveries: Number(deliveries) });
      }
      if (batch.length > 0) {
        this.metrics.claimed(batch.length);
        this.log.info({ entries: batch.length }, 'claimed entries left idle');
        await this.freeSlot();
        this.dispatch(batch);
      }
      cursor = next;
    } while (cursor !== '0-0' && !this.stopping);
  }

  private async readNew(blockMs: number): Promise<Delivered[]> {
    if (this.blockingClientId === undefined) this.blockingClientId = Number(await this.blocking.client('ID'));
    if (this.stopping) return [];
    this.reading = true;
    try {
      const reply = (await this.blocking.xreadgroup(
        'GROUP',
        this.group,
        this.consumer,
        'COUNT',
        this.batchSize,
        'BLOCK',
        blockMs,
        'STREAMS',
        this.streams.raw,
        '>',
      )) as [string, [string, string[]][]][] | null;
      if (!reply) return [];
      const entries = reply[0][1];
      const out: Delivered[] = new Array(entries.length);
      for (let i = 0; i < entries.length; i++) out[i] = { id: entries[i][0], fields: entries[i][1], deliveries: 1 };
      return out;
    } finally {
      this.reading = false;
    }
  }

  /**
   * Removes the raw stream's entries that every group has acknowledged (lua/trim.lua); returns
   * how many went. Safe to run from any number of workers.
   */
  async trim(): Promise<number> {
    const [removed, minid] = (await trimDone(this.redis, [this.streams.raw], [])) as [number, string];
    if (removed > 0) this.log.debug({ removed, minid }, 'trimmed acknowledged entries from the raw stream');
    return Number(removed);
  }

  /** Makes a blocked XREADGROUP return now (as a timeout: nothing is delivered and lost). */
  private async interruptRead(): Promise<void> {
    // The UNBLOCK goes over the other connection and can overtake the XREADGROUP it is meant
    // for: repeat it until the read has returned (at worst the read times out by itself).
    const deadline = Date.now() + this.blockMs + 1_000;
    while (this.reading && Date.now() < deadline) {
      // Redis away: nothing can unblock the read; close() drops its connection instead.
      if (this.redis.status !== 'ready' || this.blocking.status !== 'ready') return;
      if (this.blockingClientId !== undefined) {
        await this.redis.client('UNBLOCK', this.blockingClientId, 'TIMEOUT').catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private dispatch(batch: Delivered[]): void {
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

  private async handle(batch: Delivered[]): Promise<void> {
    const started = performance.now();

    // parse
    const dead: DeadItem[] = [];
    const todo: Screening[] = [];
    for (const d of batch) {
      const fields = d.fields === null ? null : fieldsToObject(d.fields);
      if (fields === null) {
        dead.push({ id: d.id, err: new PermanentError('RP_ERR_POISON_ENTRY', 'message deleted while pending'), deliveries: d.deliveries, fields: null });
        continue;
      }
      if (d.deliveries > this.maxDeliveries) {
        dead.push({
          id: d.id,
          err: new PermanentError('RP_ERR_MAX_DELIVERIES', `delivered ${d.deliveries} times (max ${this.maxDeliveries}) without being screened`),
          deliveries: d.deliveries,
          fields,
        });
        continue;
      }
      try {
        todo.push({ id: d.id, fields, deliveries: d.deliveries, parsed: parseRawEntry(fields) });
      } catch (err) {
        const e = err instanceof RiskpipeError ? err : new PermanentError('RP_ERR_POISON_ENTRY', `entry cannot be read: ${(err as Error).message}`, err);
        dead.push({ id: d.id, err: e, deliveries: d.deliveries, fields });
      }
    }
    if (dead.length > 0) await this.deadletter(dead);
    if (todo.length === 0) return;

    // author
    const stats = await this.authors.observe(todo.map((t) => t.parsed.event));
    for (let i = 0; i < todo.length; i++) todo[i].author = stats[i];

    // screen
    const results = await this.screen(todo);
    const routed: { item: Screening; prediction: RiskPrediction }[] = [];
    const failedForGood: DeadItem[] = [];
    let transient = 0;
    for (let i = 0; i < todo.length; i++) {
      const r = results[i];
      if (!(r instanceof Error)) routed.push({ item: todo[i], prediction: r });
      else if (isRetryable(r)) transient++;
      else {
        const err = r instanceof RiskpipeError ? r : new PermanentError('RP_ERR_INTERNAL', r.message, r);
        failedForGood.push({ id: todo[i].id, err, deliveries: todo[i].deliveries, fields: todo[i].fields });
      }
    }
    if (transient > 0) {
      this.metrics.transientFailures(transient);
      this.log.warn({ entries: transient }, 'screening failed transiently; entries stay pending and are claimed again after claimIdleMs');
    }
    if (failedForGood.length > 0) await this.deadletter(failedForGood);

    // route (+ ack)
    if (routed.length > 0) await this.route(routed);
    this.metrics.batch((performance.now() - started) / 1000);
  }

  private async screen(todo: Screening[]): Promise<(RiskPrediction | Error)[]> {
    const items = todo.map((t) => ({ event: t.parsed.event, author: t.author }));
    try {
      const preds = await this.screener.screenBatch(items);
      if (preds.length !== items.length) throw new PermanentError('RP_ERR_INTERNAL', `screener returned ${preds.length} predictions for ${items.length} events`);
      return preds;
    } catch (err) {
      if (items.length === 1) return [asError(err)];
      // One entry can fail a whole batch: score them one by one so that only it is held back.
      // In sequence, not at once: a batching embedder would put concurrent calls back into one
      // batch, and the bad text would fail the others again.
      this.log.warn({ err, entries: items.length }, 'batch screening failed; screening its entries one by one');
      const out: (RiskPrediction | Error)[] = [];
      for (const it of items) {
        out.push(await this.screener.screenBatch([it]).then((p) => p[0] ?? new PermanentError('RP_ERR_INTERNAL', 'screener returned no prediction'), asError));
      }
      return out;
    }
  }

  private async route(routed: { item: Screening; prediction: RiskPrediction }[]): Promise<void> {
    const args: string[] = new Array(3 + routed.length * 6);
    args[0] = this.group;
    args[1] = STREAM_SCHEMA_VERSION;
    args[2] = new Date().toISOString();
    const routes: Route[] = new Array(routed.length);
    for (let i = 0; i < routed.length; i++) {
      const { item, prediction } = routed[i];
      const route = routeFor(prediction.risk_score, this.threshold);
      routes[i] = route;
      const b = 3 + i * 6;
      args[b] = item.id;
      args[b + 1] = route === 'reasoning_queue' ? 'r' : 'l';
      args[b + 2] = item.parsed.event.event_id;
      args[b + 3] = item.parsed.eventJson;
      args[b + 4] = JSON.stringify(prediction);
      args[b + 5] = item.parsed.traceparent;
    }
    const reply = (await routeAck(this.redis, [this.streams.raw, this.streams.reasoning, this.streams.lowRisk], args)) as (string | number)[];

    const counts = new Map<string, number>();
    let already = 0;
    for (let i = 0; i < routed.length; i++) {
      if (reply[i] === 0) {
        already++;
        continue;
      }
      const { item, prediction } = routed[i];
      const key = `${routes[i]}|${prediction.risk_category}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      // learn
      if (routes[i] === 'reasoning_queue' && this.screener.addEscalated && !this.knownAlready(prediction)) {
        try {
          this.screener.addEscalated(item.parsed.event, prediction);
        } catch (err) {
          this.log.warn({ err, event_id: item.parsed.event.event_id }, 'could not add an escalated event to the neighbour index');
        }
      }
    }
    this.metrics.routed(counts);
    if (already > 0) {
      this.metrics.alreadyAcked(already);
      this.log.info({ entries: already }, 'entries were already routed by another consumer; not routed twice');
    }
  }

  /** Whether the neighbour index already has a near-copy of this verdict's message, with its category. */
  private knownAlready(prediction: RiskPrediction): boolean {
    for (const n of prediction.details.neighbors) {
      if (n.similarity >= this.learnMaxSimilarity && n.label === prediction.risk_category) return true;
    }
    return false;
  }

  private async deadletter(items: DeadItem[]): Promise<void> {
    const args: string[] = [this.group, STREAM_SCHEMA_VERSION, 'screen', new Date().toISOString()];
    for (const it of items) {
      args.push(it.id, it.err.message, it.err.code, String(it.deliveries), it.fields ? JSON.stringify(it.fields) : '', it.fields?.traceparent ?? '');
    }
    const reply = (await deadletterAck(this.redis, [this.streams.raw, this.streams.deadletter], args)) as (string | number)[];
    items.forEach((it, i) => {
      if (reply[i] === 0 || reply[i] === 1) return;
      this.metrics.deadlettered(it.err.code);
      // The error text can quote the entry (a JSON parse error does): debug level only.
      this.log.warn({ source_id: it.id, code: it.err.code, deliveries: it.deliveries }, 'entry dead-lettered');
      this.log.debug({ source_id: it.id, err: it.err }, 'dead-letter reason');
    });
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new RiskpipeError('RP_ERR_INTERNAL', String(err));
}
