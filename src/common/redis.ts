import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export type { Redis };

/**
 * Producers fail fast: no offline queue, so a request made while Redis is away errors at once
 * (the ingest API turns that into 503) instead of hanging. The connection keeps retrying in the
 * background and the service recovers by itself.
 */
export function createProducerRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: false,
    connectTimeout: 2_000,
    // No auto-pipelining: it held every command to the next tick and copied concurrent ones into
    // one string before the write. Measured on serve-ingest (bench:ingest, same rounds): batch
    // ingest 0.51x -> 0.72x the floor, single events 0.78x -> 0.89x, less CPU in Node and Redis.
    // Single events are coalesced into one append call by the ingest pipeline instead.
    enableAutoPipelining: false,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
    ...extra,
  });
}

/**
 * Consumers wait: commands queue while disconnected and the connection retries forever, so a
 * worker rides out a Redis restart. A blocking XREADGROUP gets its own connection of this kind so
 * that close() can interrupt it by disconnecting.
 */
export function createConsumerRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    connectTimeout: 5_000,
    retryStrategy: (times) => Math.min(100 * times, 2_000),
    ...extra,
  });
}

/** Connection errors: the ones where waiting and retrying helps. */
export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  return err.name === 'MaxRetriesPerRequestError' || /Stream isn't writeable|Connection is closed|enableOfflineQueue/.test(err.message);
}

/** Deletes every key that starts with `prefix` (SCAN, never KEYS): for tests, benchmarks and tenants. */
export async function deleteKeysByPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/**
 * The one "log each distinct Redis problem once" listener: ioredis reports every failed
 * reconnect, so a Redis that is away for a minute would fill the log. Connections given the same
 * `memory` (a bus and its readers) share the last problem; "restored" is logged once it is back.
 */
export function logRedisProblems(conns: Redis[], log: Logger, consequence: string, memory: { last: string } = { last: '' }): { last: string } {
  for (const r of conns) {
    r.on('error', (err: Error) => {
      if (err.message !== memory.last) log.warn({ err }, `redis connection problem; ${consequence}`);
      memory.last = err.message;
    });
    r.on('ready', () => {
      if (memory.last) log.info('redis connection restored');
      memory.last = '';
    });
  }
  return memory;
}
