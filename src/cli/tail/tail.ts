import { ReplyError, type Redis } from 'ioredis';
import { RiskpipeError } from '../../common/errors.js';
import { fieldsToObject } from '../../models/index.js';

export interface StreamEntry {
  stream: string;
  id: string;
  fields: Record<string, string>;
}

export interface TailOptions {
  /** Start at the first entry instead of only new ones. Default false. */
  fromStart?: boolean;
  /** Stop after this many entries. Default: never. */
  count?: number;
  /** How long one XREAD waits for new entries. Default 5000 ms. */
  blockMs?: number;
  /** Aborting disconnects `redis` to interrupt the blocking read; tailStream then returns. */
  signal?: AbortSignal;
  onEntry: (e: StreamEntry) => void;
  /** Called once the start position is known ("0-0" or the last entry's id), before the first read. */
  onStart?: (afterId: string) => void;
}

/** Entries one XREAD may return: bounds memory when --from-start meets a long stream. */
const READ_COUNT = 1000;

/**
 * Follows a stream with XREAD BLOCK (no consumer group: tailing never takes entries away from
 * the workers). Returns the number of entries printed.
 */
export async function tailStream(redis: Redis, stream: string, opts: TailOptions): Promise<number> {
  let lastId = opts.fromStart ? '0-0' : '$';
  let seen = 0;
  const limit = opts.count ?? Infinity;
  if (limit === 0) return 0;
  // "$" must be resolved once: re-reading with "$" after a timeout would skip entries added in between.
  if (lastId === '$') {
    const last = (await notAStream(stream, redis.xrevrange(stream, '+', '-', 'COUNT', 1)))[0];
    lastId = last ? last[0] : '0-0';
  }
  opts.onStart?.(lastId);
  // Disconnecting is the one way to interrupt a blocking XREAD from this side.
  const onAbort = () => {
    if (redis.status !== 'end') redis.disconnect();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (!opts.signal?.aborted && seen < limit) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await notAStream(stream, redis.xread('COUNT', Math.min(limit - seen, READ_COUNT), 'BLOCK', opts.blockMs ?? 5000, 'STREAMS', stream, lastId))) as typeof reply;
      } catch (err) {
        if (opts.signal?.aborted) break;
        throw err;
      }
      if (!reply) continue;
      for (const [, entries] of reply) {
        for (const [id, flat] of entries) {
          lastId = id;
          opts.onEntry({ stream, id, fields: fieldsToObject(flat) });
          // onEntry may have stopped us (the reader of stdout went away): print nothing more.
          if (++seen >= limit || opts.signal?.aborted) return seen;
        }
      }
    }
    return seen;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** A key of another type is a mistake in the command line (exit 2), not a Redis failure. */
async function notAStream<T>(stream: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof ReplyError && (err as Error).message.startsWith('WRONGTYPE')) {
      throw new RiskpipeError('RP_ERR_CLI_INPUT', `${stream} is not a stream (it holds another Redis type)`, { cause: err });
    }
    throw err;
  }
}

/** Fields that hold JSON: the event and verdict of raw/routed entries, the original fields of a dead letter. */
const JSON_FIELDS = ['event', 'prediction', 'fields'];

function parseJsonFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (JSON_FIELDS.includes(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        /* keep the raw text: a poison entry is shown as it is */
      }
    }
    out[k] = v;
  }
  return out;
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** The event id of any entry kind: its own field, its event's, or (dead letters) the original entry's. */
function eventIdOf(parsed: Record<string, unknown>): string {
  if (typeof parsed.event_id === 'string') return parsed.event_id;
  const ev = parsed.event as { event_id?: unknown } | undefined;
  if (ev && typeof ev === 'object' && typeof ev.event_id === 'string') return ev.event_id;
  const orig = parsed.fields as { event_id?: unknown } | undefined;
  if (orig && typeof orig === 'object' && typeof orig.event_id === 'string') return orig.event_id;
  return '-';
}

/** HH:MM:SS.mmm (UTC) of the entry id's millisecond part: when Redis added it. */
function entryTime(id: string): string {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : '';
}

/**
 * One line per entry: JSON (`--json`, JSON-valued fields parsed) or a readable summary for a
 * terminal that adapts its content width to `columns`.
 */
export function formatEntry(e: StreamEntry, json: boolean, columns = 120): string {
  const parsed = parseJsonFields(e.fields);
  if (json) return JSON.stringify({ stream: e.stream, id: e.id, fields: parsed });
  const head = `${entryTime(e.id)} ${e.id} ${eventIdOf(parsed)}`;
  const width = Math.max(40, columns - 60);
  const ev = parsed.event as { platform?: string; author_id?: string; content?: string } | undefined;
  const pred = parsed.prediction as { risk_score?: number; risk_level?: string; risk_category?: string; flags?: string[] } | undefined;
  if (pred && typeof pred === 'object' && ev && typeof ev === 'object') {
    const flags = pred.flags?.length ? ` [${pred.flags.join(',')}]` : '';
    const score = typeof pred.risk_score === 'number' ? pred.risk_score.toFixed(2) : '?';
    return `${head} ${pred.risk_level ?? '?'} ${score} ${pred.risk_category ?? '?'}${flags} "${clip(ev.content ?? '', width)}"`;
  }
  if (e.fields.stage !== undefined && e.fields.error !== undefined) {
    return `${head} DEADLETTER stage=${e.fields.stage} deliveries=${e.fields.deliveries ?? '?'} source=${e.fields.source_id ?? '?'} error="${clip(e.fields.error, width)}"`;
  }
  if (ev && typeof ev === 'object') {
    return `${head} ${ev.platform ?? '?'}/${ev.author_id ?? '?'} "${clip(ev.content ?? '', width)}"`;
  }
  // Not an entry riskpipe wrote (or a poison one): show its fields as they are.
  return `${head} ${clip(JSON.stringify(parsed), width + 40)}`;
}
