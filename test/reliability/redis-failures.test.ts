import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/common/logger.js';
import { startIngestServer, type RunningIngest } from '../../src/ingest/server.js';
import { PrivateRedis } from '../helpers/redis-server.js';
import { uniquePrefix } from '../helpers/redis.js';
import { expectErrorShape, sleep, streamEntries, until, validEvent } from './support.js';

/*
 * serve-ingest under load while its Redis (a private redis-server with AOF, fsync always) is
 * frozen (SIGSTOP), killed and restarted, or out of memory (issue 11, items 4 and 5). Every
 * answer is recorded; afterwards every "queued" answer must be in the stream exactly once.
 */

const KEY = 'redis-fail-key-1234';
const SECRET = 'SECRET-CONTENT-MARKER';

interface Answer {
  status: number;
  ms: number;
  body: { status?: string; stream_id?: string; event_id?: string; code?: string; detail?: string };
  at: number;
}

function captureLog() {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += chunk;
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: sink as never }), output: () => out };
}

async function ingestOnce(url: string, event = validEvent({ content: `${SECRET} hello ${Math.random()}` })): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(`${url}/v1/events/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': KEY }, body: JSON.stringify(event), signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as Answer['body'];
    return { status: res.status, ms: performance.now() - t0, body, at: Date.now() };
  } catch (err) {
    return { status: 0, ms: performance.now() - t0, body: { detail: (err as Error).message }, at: Date.now() };
  }
}

/** `concurrency` clients sending events back to back until stopped. */
function load(url: string, concurrency = 6) {
  const answers: Answer[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      answers.push(await ingestOnce(url));
      if (answers[answers.length - 1].status !== 200) await sleep(20);
    }
  });
  return {
    answers,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function expectExactlyOnce(server: PrivateRedis, stream: string, answers: Answer[]) {
  const admin = new Redis(server.url);
  try {
    const entries = await streamEntries(admin, stream);
    const byId = new Map(entries.map(([id, f]) => [id, f.event_id]));
    const queued = answers.filter((a) => a.status === 200 && a.body.status === 'queued');
    expect(queued.length).toBeGreaterThan(0);
    const ids = new Set<string>();
    for (const a of queued) {
      expect(byId.get(a.body.stream_id!), `queued ${a.body.event_id} (${a.body.stream_id}) is missing from the stream`).toBe(a.body.event_id);
      expect(ids.has(a.body.stream_id!)).toBe(false);
      ids.add(a.body.stream_id!);
    }
    // Each event_id at most once in the stream (dedup holds across the failure).
    const eventIds = entries.map(([, f]) => f.event_id);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    return entries.length;
  } finally {
    admin.disconnect();
  }
}

describe('serve-ingest when Redis freezes, dies, restarts or fills up', () => {
  let server: PrivateRedis;
  let ingest: RunningIngest;
  let logs: ReturnType<typeof captureLog>;
  const prefix = uniquePrefix('rf');

  beforeAll(async () => {
    server = await PrivateRedis.start({ aof: true });
    logs = captureLog();
    ingest = await startIngestServer(
      { redisUrl: server.url, prefix, host: '127.0.0.1', port: 0, apiKeys: [KEY], maxQueueDepth: 1_000_000, dedupWindowS: 3600, maxBatchSize: 500, bodyLimitBytes: 1 << 20, redisCommandTimeoutMs: 1_000 },
      logs.log,
    );
  });

  afterAll(async () => {
    server?.thaw();
    await ingest?.close();
    await server?.destroy();
  });

  it('frozen (SIGSTOP): ingest answers 503 within ~1 s and /ready says not ready; thawed, it recovers', async () => {
    const l = load(ingest.url);
    await sleep(300);
    server.freeze();
    const frozenAt = Date.now();
    let retried: ReturnType<typeof validEvent> | undefined;
    try {
      await sleep(2_500);
      const t0 = performance.now();
      const ready = await fetch(`${ingest.url}/ready`, { signal: AbortSignal.timeout(5_000) });
      const readyMs = performance.now() - t0;
      expect(ready.status).toBe(503);
      expect(readyMs).toBeLessThan(1_500);
      retried = validEvent({ content: `${SECRET} retried ${Math.random()}` });
      const one = await ingestOnce(ingest.url, retried);
      expect(one.status).toBe(503);
      expectErrorShape(one.body, 'frozen');
      expect(one.body.code).toBe('RP_ERR_REDIS_UNAVAILABLE');
      expect(one.body.detail).toMatch(/did not answer within 1000 ms/);
      expect(one.ms).toBeLessThan(1_600);
    } finally {
      server.thaw();
    }
    const thawedAt = Date.now();
    await until(() => ingestOnce(ingest.url), (a) => a.status === 200, 10_000, 'ingest 200 after thaw');
    await l.stop();
    // The 503 said "may or may not have been queued": a retry of the same event is safe — it is in
    // the stream exactly once, whether the frozen command ran after the thaw or not.
    const retry = await ingestOnce(ingest.url, retried!);
    expect(retry.status).toBe(200);
    expect(['queued', 'duplicate']).toContain(retry.body.status);
    const admin = new Redis(server.url);
    const copies = (await streamEntries(admin, ingest.bus.names.raw)).filter(([, f]) => f.event_id === retried!.event_id).length;
    admin.disconnect();
    expect(copies).toBe(1);
    const during = l.answers.filter((a) => a.at > frozenAt + 1_200 && a.at < thawedAt);
    expect(during.length).toBeGreaterThan(0);
    // Every answer during the freeze is a 503 (none hung), and none took much more than the command timeout.
    for (const a of during) expect(a.status).toBe(503);
    const worst = Math.max(...l.answers.map((a) => a.ms));
    expect(worst).toBeLessThan(1_500);
    console.log(`frozen Redis: ${during.length} answers during the freeze, all 503; slowest answer of the run ${Math.round(worst)} ms`);
    await expectExactlyOnce(server, ingest.bus.names.raw, l.answers);
  }, 30_000);

  it('killed and restarted under load (AOF): 503 at once while down, every queued answer kept exactly once', async () => {
    const l = load(ingest.url);
    await sleep(500);
    await server.stop();
    const downAt = Date.now();
    await sleep(1_000);
    const down = await ingestOnce(ingest.url);
    expect(down.status).toBe(503);
    expect(down.ms).toBeLessThan(500);
    expect((await fetch(`${ingest.url}/ready`)).status).toBe(503);
    // Answers from the moment Redis is started may be 200 (it accepts before start() returns).
    const startingAt = Date.now();
    await server.start();
    const upAt = Date.now();
    const back = await until(() => ingestOnce(ingest.url), (a) => a.status === 200, 10_000, 'ingest 200 after restart');
    await sleep(300);
    await l.stop();
    // Requests sent after Redis stopped and answered before it was started again: all 503.
    expect(l.answers.filter((a) => a.at - a.ms > downAt && a.at < startingAt).every((a) => a.status === 503)).toBe(true);
    const n = await expectExactlyOnce(server, ingest.bus.names.raw, [...l.answers, back]);
    console.log(`Redis restart: ${n} entries in the stream, every queued answer kept; recovered ${back.at - upAt} ms after the restart`);
  }, 30_000);

  it('out of memory (maxmemory, noeviction): 503 naming the cause, and no content or command arguments in the log', async () => {
    const admin = new Redis(server.url);
    try {
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
      await admin.config('SET', 'maxmemory', String(used + 256 * 1024));
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      const big = (i: number) => validEvent({ content: `${SECRET} ${'x'.repeat(8000)} ${i}` });
      let refused: Answer | undefined;
      for (let i = 0; i < 400 && !refused; i++) {
        const a = await ingestOnce(ingest.url, big(i));
        if (a.status !== 200) refused = a;
      }
      expect(refused, 'Redis never refused a write').toBeDefined();
      expect(refused!.status).toBe(503);
      expectErrorShape(refused!.body, 'oom');
      expect(refused!.body.code).toBe('RP_ERR_REDIS_REFUSED');
      expect(refused!.body.detail).toMatch(/out of memory/);
      expect((await fetch(`${ingest.url}/health`)).status).toBe(200);
      // Room again: ingest recovers by itself.
      await admin.config('SET', 'maxmemory', '0');
      await until(() => ingestOnce(ingest.url), (a) => a.status === 200, 5_000, 'ingest after OOM');
    } finally {
      await admin.config('SET', 'maxmemory', '0').catch(() => undefined);
      admin.disconnect();
    }
    const out = logs.output();
    expect(out).not.toContain(SECRET);
    expect(out).not.toMatch(/"args"/);
  }, 30_000);
});
