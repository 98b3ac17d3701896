/*
 * The bus contract: what every stage needs from the streams, in operations rather than Redis
 * commands. Two implementations keep it: `redis` (src/stream/redis/, Lua scripts, hash-tagged
 * keys, one script registry) and `memory` (src/stream/memory/, in-process, optionally journaled
 * to a data directory). test/conformance/ runs one suite against both.
 *
 * Delivery is at least once and nothing is lost: an entry leaves its group's pending list only
 * together with its result downstream (settle = ack + write, atomically; "ack first, then write
 * what was acked", so an entry settled twice is written once). Batch counters are updated in the
 * same step, so they are exact under redelivery.
 *
 * Streams are named logically ('raw', 'reasoning', 'lowRisk', 'deadletter'); the bus maps them to
 * physical names (`bus.names`, built once from the prefix in src/stream/keys.ts).
 */

/** The logical streams of the pipeline. */
export const STREAM_IDS = ['raw', 'reasoning', 'lowRisk', 'deadletter'] as const;
export type StreamId = (typeof STREAM_IDS)[number];

/** Physical names of the streams (prefix and hash tag included), for display and operator tools. */
export type StreamNames = Record<StreamId, string>;

/** A consumer group on a stream. */
export interface GroupRef {
  stream: StreamId;
  group: string;
}

/** An entry as stored: the id the bus gave it and its string fields. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/**
 * An entry as delivered to a consumer. `fields` is null when the entry was deleted from its
 * stream while pending (it can only be acked). `deliveries` counts this delivery (1 = first).
 */
export interface Delivery {
  id: string;
  fields: Record<string, string> | null;
  deliveries: number;
}

// --- append (ingest) ------------------------------------------------------------------------

/** One event to append with dedup: its dedup identities and the entry fields to write. */
export interface AppendItem {
  /** Dedup on the event id (kept `dedupWindowS`). */
  eventId: string;
  /** Dedup on the content: SHA-256 of `platform:author_id:content` (see contentHash). */
  contentHash: string;
  /** The entry's fields, exactly as stored (v, event_id, event, ingested_at, batch_id, traceparent). */
  fields: Record<string, string>;
}

export interface AppendOptions {
  /** Refuse (throw RP_ERR_QUEUE_FULL, append nothing) while the stream's depth is at or above this. */
  maxDepth: number;
  /** How long an event id or content hash counts as seen, in seconds. */
  dedupWindowS: number;
  /**
   * Batch accounting: `total` is added to the batch's total and every queued item to `queued`,
   * in the same atomic step. Omit for no batch counters.
   */
  batch?: { id: string; total: number };
  /**
   * "request" (default): the depth is checked once and a full queue refuses the whole call
   * (RP_ERR_QUEUE_FULL). "item": each item is checked as if it were its own request, counting
   * the items queued before it in the call — for single events coalesced into one call; a refused
   * item's outcome is `full` (neither queued nor marked as seen).
   */
  backpressure?: 'request' | 'item';
}

export type AppendOutcome =
  | { status: 'queued'; id: string }
  | { status: 'duplicate'; duplicateOf: 'content' | 'event_id' }
  /** Only with `backpressure: "item"`: the depth was at the limit for this item. */
  | { status: 'full'; depth: number };

export interface AppendResult {
  /** Length of the stream before these items (an upper bound of its unconsumed depth). */
  depthBefore: number;
  /** One per item, in order. */
  outcomes: AppendOutcome[];
}

// --- settle ---------------------------------------------------------------------------------

/** Batch counters. `total`/`queued` on append, the rest on settle / dead-letter. */
export const BATCH_COUNTERS = ['total', 'queued', 'screened', 'low_risk', 'escalated', 'indexed', 'failed', 'dead_lettered'] as const;
export type BatchCounter = (typeof BATCH_COUNTERS)[number];

/** What settling one delivered entry does. */
export interface SettleItem {
  /** The source entry id (in the group's pending list). */
  id: string;
  /** Downstream entry to write, when the source id was still pending. Omit to only ack. */
  output?: { stream: StreamId; fields: Record<string, string> };
  /** Batch to count in (the entry's batch_id); counted only when the ack took effect. */
  batchId?: string;
  /** Counters to add 1 to, e.g. ['screened', 'low_risk']. */
  count?: BatchCounter[];
}

export interface SettleOptions {
  /**
   * The terminal stage: also delete the source entry from its stream (stage 3 deletes what it
   * has stored). Default false.
   */
  deleteSource?: boolean;
}

/**
 * Per item, in order: the new downstream id, `'acked'` (acked, nothing written: no output), or
 * null when the id was no longer pending (settled or dead-lettered elsewhere: nothing done).
 */
export type SettleOutcome = string | 'acked' | null;

// --- dead letters ---------------------------------------------------------------------------

export interface DeadLetterItem {
  /** Source entry id. */
  id: string;
  error: string;
  /** An RP_ERR_* code. */
  code: string;
  deliveries: number;
  /** The original fields; null when the message is gone (then the entry is only acked). */
  fields: Record<string, string> | null;
  /**
   * More batch counters to add 1 to in the same step, besides dead_lettered (e.g. ['failed'] for
   * what the index stage gave up on). Counted in the entry's batch (its batch_id field).
   */
  count?: BatchCounter[];
}

/**
 * Per item, in order: the dead-letter entry id, `'acked'` when only acked (message gone), or null
 * when it was no longer pending.
 */
export type DeadLetterOutcome = string | 'acked' | null;

/** A dead-letter entry for operator tools (fields of DeadletterEntry in src/models/stream.ts). */
export interface DeadLetterInfo {
  /** Id in the dead-letter stream. */
  id: string;
  stage: string;
  /** Physical name of the stream it came from, and its logical id when known. */
  sourceStream: string;
  source?: StreamId;
  sourceId: string;
  error: string;
  code: string;
  /** Deliveries before it was dead-lettered. */
  attempts: number;
  failedAt: string;
  /** Seconds since it was dead-lettered. */
  ageS: number;
  /** The original entry's fields (null when unreadable). */
  fields: Record<string, string> | null;
  eventId: string | null;
  batchId: string | null;
}

export interface ReplayResult {
  /** Dead-letter ids replayed: each now a new entry of its source stream (fresh delivery count). */
  replayed: { id: string; newId: string; stream: StreamId }[];
  /** Ids not found in the dead-letter stream (already replayed or purged): nothing done. */
  missing: string[];
}

export interface DeadLetterTools {
  /** Newest first. `limit` default 100; `stage` filters. */
  list(opts?: { limit?: number; stage?: string }): Promise<DeadLetterInfo[]>;
  get(id: string): Promise<DeadLetterInfo | null>;
  /**
   * Puts entries back into their source stream with their original fields and deletes them from
   * the dead-letter stream in the same atomic step: replaying twice gives one copy. The batch's
   * dead_lettered counter goes down by one for each.
   */
  replay(ids: string[]): Promise<ReplayResult>;
  /** Deletes dead-letter entries (all when `ids` is omitted); returns how many went. */
  purge(ids?: string[]): Promise<number>;
  count(): Promise<number>;
}

// --- batches --------------------------------------------------------------------------------

export interface BatchStatus {
  batch_id: string;
  total: number;
  queued: number;
  screened: number;
  low_risk: number;
  escalated: number;
  indexed: number;
  failed: number;
  dead_lettered: number;
  /** Every queued event reached a terminal state: low risk, indexed or dead-lettered. */
  completed: boolean;
}

// --- groups and status ----------------------------------------------------------------------

export interface ConsumerInfo {
  name: string;
  pending: number;
  /** Since its last read or claim attempt, ms. */
  idleMs: number;
}

/** A consumer group's view of its stream. */
export interface GroupInfo {
  /** Entries not yet delivered to any consumer of the group (null when the bus cannot tell). */
  lag: number | null;
  /** Delivered but not yet acknowledged. */
  pending: number;
  /** Age of the oldest entry not yet delivered, in seconds (0 when none). */
  lagSeconds: number;
  consumers: number;
}

export interface GroupStatus extends GroupInfo {
  name: string;
  consumerList: ConsumerInfo[];
}

export interface StreamStatus {
  id: StreamId;
  /** Physical name. */
  name: string;
  length: number;
  groups: GroupStatus[];
}

/** Everything operator tools (`top`, `doctor`) show about the bus. */
export interface BusStatus {
  kind: 'redis' | 'memory';
  ready: boolean;
  /** "ok" or what is wrong. */
  detail: string;
  streams: StreamStatus[];
  deadLetters: number;
}

export interface Readiness {
  ok: boolean;
  /** "ok" or what is wrong, e.g. "unavailable: connect ECONNREFUSED". */
  detail: string;
}

// --- the blocking reader ------------------------------------------------------------------------

/**
 * Reads new entries for one consumer, blocking up to `blockMs`. Each consumer loop has its own
 * (in Redis: its own connection), so `interrupt()` can end a blocked read at once (as a timeout:
 * nothing delivered is lost) and close() can drop it.
 */
export interface BlockingReader {
  /** New entries (never delivered to the group before), up to `count`; [] after blockMs or an interrupt. */
  readNew(ref: GroupRef, consumer: string, count: number, blockMs: number): Promise<Delivery[]>;
  /** Makes a blocked readNew return [] now. Safe to call at any time. */
  interrupt(): Promise<void>;
  /** Releases the reader; a blocked read returns []. Idempotent. */
  close(): Promise<void>;
}

// --- author activity (screen stage) ---------------------------------------------------------

/** One message for the author behaviour counts (src/screen/author.ts builds these). */
export interface AuthorActivityItem {
  /** The bus entry id: a redelivered entry is counted once. */
  entryId: string;
  /** Counter scope: platform, author and window bucket, e.g. "discord:u-1:29000000". */
  scope: string;
  /** Same-content identity, e.g. "c" + content hash. */
  content: string;
  /** Channel of the message. */
  channel: string;
}

export interface AuthorActivity {
  /** Messages in the scope, this one included. */
  messages: number;
  /** Distinct channels this content was posted in within the scope, this one included. */
  channels: number;
}

// --- the bus --------------------------------------------------------------------------------

export interface Bus {
  readonly kind: 'redis' | 'memory';
  /** Physical stream names (prefix included). */
  readonly names: StreamNames;

  // producers
  /** Appends one entry (no dedup, no backpressure): tests, tools. Returns its id. */
  add(stream: StreamId, fields: Record<string, string>): Promise<string>;
  /**
   * Backpressure check, dedup check-and-set and append for a request's items, atomically:
   * two concurrent copies are never both queued, and a full queue queues nothing (throws
   * RP_ERR_QUEUE_FULL with a retry-after header). Throws RP_ERR_REDIS_UNAVAILABLE at once when
   * the bus cannot be reached (producers fail fast).
   */
  append(stream: StreamId, items: AppendItem[], opts: AppendOptions): Promise<AppendResult>;
  /** Unconsumed depth: the largest group lag, or the length when there is no group. */
  depth(stream: StreamId): Promise<number>;
  length(stream: StreamId): Promise<number>;
  /** Entries after `afterId` ("0-0" = from the start), up to `count`, without a group. */
  range(stream: StreamId, opts?: { afterId?: string; count?: number }): Promise<StreamEntry[]>;
  /** Id of the stream's last entry, "0-0" when empty. */
  lastId(stream: StreamId): Promise<string>;

  // consumer groups
  /** Creates the group from the start of the stream (creating the stream) unless it exists. */
  ensureGroup(ref: GroupRef): Promise<void>;
  /** This consumer's own pending entries with ids after `afterId` ("0-0" from the first). */
  readOwnPending(ref: GroupRef, consumer: string, afterId: string, count: number): Promise<Delivery[]>;
  /**
   * Claims entries pending longer than `minIdleMs` from any consumer (itself included), starting
   * at `cursor` ("0-0"). `deleted`: pending ids whose message is gone (dropped from the group).
   */
  claimIdle(ref: GroupRef, consumer: string, minIdleMs: number, cursor: string, count: number): Promise<{ next: string; entries: Delivery[]; deleted: string[] }>;
  /** A reader with its own connection for the blocking read of new entries. */
  reader(): BlockingReader;
  /** Acks ids; returns how many were pending. */
  ack(ref: GroupRef, ids: string[]): Promise<number>;
  /** Ack + write downstream + batch counters, atomically and idempotently (see SettleItem). */
  settle(ref: GroupRef, items: SettleItem[], opts?: SettleOptions): Promise<SettleOutcome[]>;
  /**
   * Moves entries to the dead-letter stream (stage, error, code, deliveries, original fields) and
   * acks them, atomically and idempotently; counts dead_lettered in the entry's batch (batch_id).
   */
  deadLetter(ref: GroupRef, stage: string, items: DeadLetterItem[]): Promise<DeadLetterOutcome[]>;
  /** Removes the consumer from the group unless it still holds pending entries. */
  leave(ref: GroupRef, consumer: string): Promise<boolean>;
  /** Trims what every group of the stream is done with (never an unacked or undelivered entry). */
  trim(stream: StreamId): Promise<number>;
  groupInfo(ref: GroupRef): Promise<GroupInfo>;

  // stage state
  /** Author behaviour counts over a window, idempotent per entry id; keys live `ttlS`. */
  authorActivity(items: AuthorActivityItem[], ttlS: number): Promise<AuthorActivity[]>;
  batchStatus(batchId: string): Promise<BatchStatus | null>;
  readonly deadLetters: DeadLetterTools;

  // health
  /** Synchronous: whether commands can go out now (producers check it to fail fast). */
  readonly connected: boolean;
  /** A round trip, bounded by `timeoutMs` (default 1000). */
  ready(timeoutMs?: number): Promise<Readiness>;
  status(groups?: GroupRef[]): Promise<BusStatus>;
  /** Releases connections / flushes the journal. Idempotent. */
  close(): Promise<void>;
}

/** Options both buses take. */
export interface BusOptions {
  /** How long batch counters live after their last update, in seconds. Default 7 days. */
  batchTtlS?: number;
}

// --- the generic consumer (src/stream/consumer.ts) ------------------------------------------

/** What a stage's handler says about one entry. */
export type Outcome<O> =
  | { kind: 'ok'; output: O }
  /** A retry can help: the entry stays pending and is claimed again after claimIdleMs. */
  | { kind: 'transient'; error: Error }
  /** It never will: the entry goes to the dead-letter stream (and is acked). */
  | { kind: 'permanent'; error: Error & { code?: string } };

/** A delivered entry with its decoded value. */
export interface Decoded<T> {
  delivery: Delivery;
  /** Fields of the delivery (never null here: deleted entries are dead-lettered before decode). */
  fields: Record<string, string>;
  value: T;
}

export interface Done<T, O> extends Decoded<T> {
  output: O;
}

/**
 * A stage, as the consumer sees it (BullMQ's processor, Benthos' processor): decode, handle,
 * settle. It knows nothing of claims or pending lists.
 */
export interface Processor<T, O> {
  /** Reads one entry; throws (a PermanentError, or anything) for an entry that can never succeed. */
  decode(fields: Record<string, string>, delivery: Delivery): T;
  /** One outcome per item, in order. A throw counts as transient for the whole batch (unless a PermanentError). */
  handle(items: Decoded<T>[]): Promise<Outcome<O>[]>;
  /**
   * Writes the results downstream and acks them, atomically or idempotently (normally one
   * bus.settle call). Returns one SettleOutcome per item; null = already settled elsewhere.
   */
  settle(done: Done<T, O>[]): Promise<SettleOutcome[]>;
}
