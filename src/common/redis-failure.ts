import { ReplyError } from 'ioredis';
import { RiskpipeError } from './errors.js';
import { isConnectionError } from './redis.js';

/** A producer command that Redis did not answer in time (see `withDeadline`). */
export class RedisTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Redis did not answer within ${timeoutMs} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Rejects with RedisTimeoutError after `ms`. ioredis' own `commandTimeout` starts when a command
 * is written, and with auto-pipelining a command can first wait for the pipeline ahead of it (up
 * to one more timeout while Redis is frozen): this bounds the whole wait.
 */
export function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeoutError(ms)), ms);
    }),
  ]);
}

/**
 * What a failed producer command means for a client, in one place: 503 with a reason an
 * operator can act on when Redis is away, frozen, or refusing writes; undefined when the error is
 * not Redis' doing (a bug: the caller lets it become a 500).
 */
export function redisFailure(err: unknown, status: string, opts: { retryAfterS: number; commandTimeoutMs?: number }): RiskpipeError | undefined {
  if (err instanceof RiskpipeError) return err;
  const headers = { 'retry-after': String(opts.retryAfterS) };
  const unavailable = (why: string) =>
    new RiskpipeError('RP_ERR_REDIS_UNAVAILABLE', `Redis is unavailable (${why}); nothing was queued, retry later`, { cause: err, headers });
  const refused = (why: string) => new RiskpipeError('RP_ERR_REDIS_REFUSED', `Redis refuses writes: ${why}; nothing was queued, retry later`, { cause: err, headers });
  if (err instanceof ReplyError) {
    // The first word of a Redis error reply is its error code (part of the protocol).
    const code = String((err as Error).message).split(' ', 1)[0];
    switch (code) {
      case 'OOM':
        return refused('it is out of memory (maxmemory reached and its policy evicts nothing); raise maxmemory, free memory or let the consumers catch up');
      case 'MISCONF':
        return refused('it cannot write its snapshot to disk (MISCONF); see the Redis log');
      case 'READONLY':
        return refused('the server is a read-only replica; point --redis-url at the primary');
      case 'NOREPLICAS':
        return refused('not enough replicas acknowledge writes (min-replicas-to-write)');
      case 'LOADING':
        return unavailable('it is loading its dataset into memory');
      case 'BUSY':
        return unavailable('it is busy running a script');
      case 'MASTERDOWN':
      case 'CLUSTERDOWN':
      case 'TRYAGAIN':
        return unavailable(code);
      default:
        return undefined;
    }
  }
  // ioredis rejects a command that outlives `commandTimeout` with this plain Error (it has no class of its own).
  if (err instanceof RedisTimeoutError || (err instanceof Error && err.message === 'Command timed out')) {
    // The command was sent: a Redis that wakes up may still run it. A retry with the same
    // event_id is then answered "duplicate", so retrying is safe.
    return new RiskpipeError(
      'RP_ERR_REDIS_UNAVAILABLE',
      `Redis did not answer within ${err instanceof RedisTimeoutError ? err.timeoutMs : (opts.commandTimeoutMs ?? '?')} ms; the request may or may not have been queued — retry it unchanged (the event_id makes a repeat a duplicate)`,
      { cause: err, headers },
    );
  }
  if (status !== 'ready') return unavailable(`connection ${status}`);
  if (isConnectionError(err)) return unavailable((err as Error).message);
  return undefined;
}
