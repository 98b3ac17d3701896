import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { assertBuilt, runCli, startCli, waitForHttp } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, uniquePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redis-server.js';

let redis: Redis;
const prefix = uniquePrefix('serve-cli');

beforeAll(async () => {
  assertBuilt();
  redis = await connectTestRedis();
});
afterAll(async () => {
  await cleanupPrefix(redis, prefix);
  redis.disconnect();
});

describe('riskpipe serve-ingest', () => {
  it('refuses bad configuration naming each setting and what is allowed, exit code 2', async () => {
    const r = await runCli(['serve-ingest', '--port', 'eighty', '--max-queue-depth', '-5'], { env: { REDIS_URL: 'http://nope', RISKPIPE_DEDUP_WINDOW_S: 'abc' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('riskpipe: invalid configuration');
    expect(r.stderr).toContain('port (--port / RISKPIPE_INGEST_PORT): must be a number');
    expect(r.stderr).toContain('maxQueueDepth (--max-queue-depth / RISKPIPE_MAX_QUEUE_DEPTH): must be at least 1');
    expect(r.stderr).toContain('redisUrl (--redis-url / REDIS_URL): must be a redis:// or rediss:// URL');
    expect(r.stderr).toContain('dedupWindowS (--dedup-window-s / RISKPIPE_DEDUP_WINDOW_S): must be a number');
  });

  it('serves, and on SIGTERM finishes in-flight requests before exiting 0', async () => {
    const port = await freePort();
    const srv = startCli(['serve-ingest', '--port', String(port), '--host', '127.0.0.1', '--prefix', prefix], { RISKPIPE_API_KEYS: 'cli-test-key-1' });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      expect(health).toEqual({ status: 'ok', service: 'event-ingestion', timestamp: expect.any(String) });
      const events = Array.from({ length: 500 }, (_, i) => ({
        event_id: `sig-${i}`,
        event_type: 'message_created',
        platform: 'discord',
        user_id: 'u',
        author_id: `a${i}`,
        content: `message ${i} `.repeat(20),
      }));
      // The body goes out in two halves with SIGTERM in between, so the request is surely in flight.
      const body = new TextEncoder().encode(JSON.stringify({ events }));
      let sendRest!: () => void;
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(body.subarray(0, body.length >> 1));
          sendRest = () => {
            controller.enqueue(body.subarray(body.length >> 1));
            controller.close();
          };
        },
      });
      const inFlight = fetch(`http://127.0.0.1:${port}/v1/events/ingest-batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': 'cli-test-key-1', 'content-length': String(body.length) },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      await new Promise((r) => setTimeout(r, 300));
      srv.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect(srv.child.exitCode).toBeNull(); // still finishing the request
      sendRest();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect((await res.json()).queued).toBe(500);
      const { code } = await srv.exited;
      expect(code).toBe(0);
      expect(await redis.xlen(`${prefix}events:raw`)).toBe(500);
      expect(srv.output()).toContain('shutting down');
      // Logs never carry message content at info level.
      expect(srv.output()).not.toContain('message 1 ');
    } finally {
      srv.child.kill('SIGKILL');
    }
  });
});
