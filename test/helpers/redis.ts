import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { deleteKeysByPrefix } from '../../src/common/redis.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * A unique key prefix for one test file, so files can run in parallel on the shared server.
 * Integration tests fail loudly (never skip) when Redis is not reachable: .ci/run starts it.
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
    throw new Error(`Redis is not reachable at ${REDIS_URL}: integration tests need it (run .ci/run or start redis-server). ${(err as Error).message}`);
  }
  return redis;
}

/** Deletes every key under the prefix. */
export async function cleanupPrefix(redis: Redis, prefix: string): Promise<void> {
  await deleteKeysByPrefix(redis, prefix);
}
