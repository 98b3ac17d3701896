import { createHash } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';
import { RiskpipeError } from '../common/errors.js';
import { loadLua } from '../common/lua.js';
import { STREAM_SCHEMA_VERSION, type Event } from '../models/index.js';

const INGEST_LUA = loadLua(import.meta.url, './lua/ingest.lua');
const INGEST_SHA = createHash('sha1').update(INGEST_LUA).digest('hex');

export interface IngestQueueOptions {
  /** The raw stream's full name (prefix included). */
  stream: string;
  /** Put before every dedup key. Default "". */
  prefix?: string;
  /** Refuse new events while the stream's unconsumed depth is at or above this. Default 100000. */
  maxQueueDepth?: number;
  /** How long a content hash or event_id counts as seen. Default 3600 s. */
  dedupWindowS?: number;
}

export type EnqueueOutcome = { status: 'queued'; streamId: string } | { status: 'duplicate'; duplicateOf: 'content' | 'event_id' };

export interface EnqueueItem {
  event: Event;
  /** `JSON.stringify(event)` when the caller has it already (ingest serialises each event on its own). */
  json?: string;
  traceparent: string;
}

export interface EnqueueResult {
  /** Length of the raw stream before these events were added (an upper bound of its unconsumed depth). */
  depthBefore: number;
  outcomes: EnqueueOutcome[];
}

/** Dedup key of an event: SHA-256 of `platform:author_id:content` (base64url, 43 characters: short keys are cheaper in Redis). */
export function contentHash(e: Pick<Event, 'platform' | 'author_id' | 'content'>): string {
  return createHash('sha256').update(`${e.platform}:${e.author_id}:${e.content}`).digest('base64url');
}

type IngestCommand = (numKeys: number, ...args: string[]) => Promise<(string | number)[]>;

/**
 * The Redis side of ingestion: dedup, backpressure and XADD for a request's events in one
 * round trip (src/ingest/lua/ingest.lua).
 */
export class IngestQueue {
  readonly stream: string;
  readonly maxQueueDepth: number;
  readonly dedupWindowS: number;
  private readonly prefix: string;
  private readonly run: IngestCommand;

  constructor(private readonly redis: Redis, opts: IngestQueueOptions) {
    this.stream = opts.stream;
    this.prefix = opts.prefix ?? '';
    this.maxQueueDepth = opts.maxQueueDepth ?? 100_000;
    this.dedupWindowS = opts.dedupWindowS ?? 3600;
    // EVALSHA directly (falling back to EVAL once per NOSCRIPT): cheaper per call than ioredis'
    // defineCommand wrapper, which showed up in the ingest profile.
    this.run = async (numKeys, ...args) => {
      try {
        return (await redis.evalsha(INGEST_SHA, numKeys, ...args)) as (string | number)[];
      } catch (err) {
        if (!(err instanceof ReplyError) || !(err as Error).message.startsWith('NOSCRIPT')) throw err;
        return (await redis.eval(INGEST_LUA, numKeys, ...args)) as (string | number)[];
      }
    };
  }

  /**
   * Queues what is new among `items` (in order), or nothing at all when the queue is full, in
   * which case it throws RP_ERR_QUEUE_FULL.
   */
  async enqueue(items: EnqueueItem[], batchId: string, ingestedAt = new Date()): Promise<EnqueueResult> {
    const keys: string[] = [this.stream];
    const args: string[] = [String(this.maxQueueDepth), String(this.dedupWindowS), STREAM_SCHEMA_VERSION, ingestedAt.toISOString(), batchId];
    for (const { event, json, traceparent } of items) {
      keys.push(`${this.prefix}dd:c:${contentHash(event)}`, `${this.prefix}dd:i:${event.event_id}`);
      args.push(event.event_id, json ?? JSON.stringify(event), traceparent);
    }
    const reply = await this.run(keys.length, ...keys, ...args);
    if (reply[0] === 'FULL') {
      throw new RiskpipeError('RP_ERR_QUEUE_FULL', `Queue is full (depth ${reply[1]} >= max ${this.maxQueueDepth}); retry later`, {
        headers: { 'retry-after': '5' },
      });
    }
    const outcomes: EnqueueOutcome[] = [];
    for (let i = 1; i < reply.length; i++) {
      const r = String(reply[i]);
      if (r === 'D:id') outcomes.push({ status: 'duplicate', duplicateOf: 'event_id' });
      else if (r === 'D:content') outcomes.push({ status: 'duplicate', duplicateOf: 'content' });
      else outcomes.push({ status: 'queued', streamId: r });
    }
    return { depthBefore: Number(reply[0]), outcomes };
  }

  /** The raw stream's unconsumed depth (group lag, else length). */
  async depth(): Promise<number> {
    const reply = await this.run(1, this.stream, String(this.maxQueueDepth), String(this.dedupWindowS), STREAM_SCHEMA_VERSION, '', '');
    return Number(reply[0]);
  }
}
