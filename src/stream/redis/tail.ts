// `riskpipe tail-stream`: XREAD BLOCK on any stream, without a consumer group (moved from src/cli/tail/).
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
