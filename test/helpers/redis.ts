import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeysByPrefix } from '../../src/common/redis.js';

/**
 * The suite's Redis: a private redis-server that test/helpers/global-redis.ts starts for the run
 * (never the shared one on 6379 — see there).
 */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A unique key prefix for one test file, so files can run in parallel on the same server.
 * Integration tests fail loudly (never skip) when Redis is not reachable.
 */
export function uniquePrefix(name: string): string {
  return `rptest:${name}:${randomBytes(4).toString('hex')}:`;
}

export async function connectTestRedis(): Promise<Redis> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis is not reachable at ${REDIS_URL}: integration tests need it (the vitest globalSetup starts a private redis-server; is redis-server on PATH?). ${(err as Error).message}`);
  }
  return redis;
}

/**
 * Deletes every key under the prefix — only on the suite's own server, where the keyspace holds
 * nothing but test keys, so the walk is as short as what the tests wrote. On any other server
 * (a file run outside the suite's globalSetup) it does nothing rather than walk a keyspace it
 * does not own.
 */
export async function cleanupPrefix(redis: Redis, prefix: string): Promise<void> {
  if (process.env.RISKPIPE_TEST_REDIS_DEDICATED !== '1') return;
  await deleteKeysByPrefix(redis, prefix);
}
