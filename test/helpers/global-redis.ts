import type { TestProject } from 'vitest/node';
import { PrivateRedis } from './redis-server.js';

/**
 * vitest globalSetup: ONE private redis-server on a free port for the whole run, and every test
 * (and every process a test spawns) pointed at it through REDIS_URL. The suite then never touches
 * the shared Redis on 6379 — neither its keyspace (a cleanup SCAN there walked 1.2 M unrelated
 * keys and timed out) nor its memory — and what is left over dies with the server at the end.
 *
 * RISKPIPE_TEST_REDIS_URL points the suite at a server of your own instead; it must be one that
 * only the tests use (cleanup deletes by prefix there).
 */
let server: PrivateRedis | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.RISKPIPE_TEST_REDIS_URL;
  if (!url) {
    server = await PrivateRedis.start();
    url = server.url;
  }
  process.env.REDIS_URL = url;
  process.env.RISKPIPE_TEST_REDIS_DEDICATED = '1';
  project.provide('redisUrl', url);
}

export async function teardown(): Promise<void> {
  await server?.destroy();
  server = undefined;
}
