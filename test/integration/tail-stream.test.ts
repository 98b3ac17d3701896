import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { tailStream, type StreamEntry } from '../../src/cli/tail/tail.js';
import { assertBuilt, BIN, ROOT, runCli } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';
import { Redis as IORedis } from 'ioredis';

let admin: Redis;
const prefixes: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
const connections: Redis[] = [];
/** Process groups of pipelines a test started. */
const groups: number[] = [];

function prefix(name: string): string {
  const p = uniquePrefix(name);
  prefixes.push(p);
  return p;
}

const event = (id: string, content = `message ${id}`) => ({
  event_id: id,
  event_type: 'message_created',
  platform: 'discord',
  channel_id: 'general',
  user_id: `u-${id}`,
  author_id: `u-${id}`,
  content,
  created_at: '2026-11-20T10:00:00.000Z',
  metadata: {},
});
const prediction = (id: string) => ({
  event_id: id,
  risk_score: 0.873,
  risk_level: 'HIGH',
  risk_category: 'threat',
  confidence: 0.8,
  flags: ['threat_language', 'new_account'],
  details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'test' },
  screening_time_ms: 3,
  model_version: 'test',
  policy_fingerprint: 'test',
});

/** Entries as the pipeline writes them (src/models/stream.ts). */
const raw = (stream: string, id: string) =>
  admin.xadd(stream, '*', 'v', '1', 'event_id', id, 'event', JSON.stringify(event(id)), 'ingested_at', '2026-11-20T10:00:00.000Z', 'batch_id', 'b1', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
const routed = (stream: string, id: string, content?: string) =>
  admin.xadd(stream, '*', 'v', '1', 'event_id', id, 'event', JSON.stringify(event(id, content)), 'prediction', JSON.stringify(prediction(id)), 'source_id', '1-0', 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'screened_at', '2026-11-20T10:00:01.000Z');
const deadletter = (stream: string, id: string) =>
  admin.xadd(stream, '*', 'v', '1', 'stage', 'screen', 'source_stream', 'events:raw', 'source_id', '7-0', 'error', 'event is not valid JSON', 'error_code', 'RP_ERR_POISON_ENTRY', 'deliveries', '1', 'fields', JSON.stringify({ event_id: id, event: '{broken' }), 'failed_at', '2026-11-20T10:00:02.000Z');

/** Starts `riskpipe ...args` with stdout and stderr kept apart. */
function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, REDIS_URL, ...env } });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, exited, stdout: () => stdout, stderr: () => stderr, lines: () => stdout.split('\n').filter((l) => l !== '') };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Adds entries every 100 ms until the CLI has printed one: a test cannot tell from outside when
 * the CLI has read its start position, and waiting a fixed time would be flaky.
 */
async function feedUntilPrinted(add: (n: number) => Promise<unknown>, printed: () => number): Promise<void> {
  for (let n = 0; printed() === 0; n++) {
    if (n > 100) throw new Error('the CLI printed nothing in 10 s');
    await add(n);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  assertBuilt();
  admin = await connectTestRedis();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      /* already gone: the test passed */
    }
  }
  for (const c of connections) c.disconnect();
  for (const p of prefixes) await cleanupPrefix(admin, p);
  admin.disconnect();
});

describe('tailStream', () => {
  async function conn(): Promise<Redis> {
    const c = await connectTestRedis();
    connections.push(c);
    return c;
  }

  it('from the start prints existing entries, then ones added later, in order, and stops at count', async () => {
    const stream = `${prefix('tail-fn')}events:raw`;
    for (const id of ['a', 'b', 'c']) await raw(stream, id);
    const seen: StreamEntry[] = [];
    const started: string[] = [];
    const done = tailStream(await conn(), stream, { fromStart: true, count: 5, blockMs: 200, onStart: (id) => started.push(id), onEntry: (e) => seen.push(e) });
    await until('the existing entries', () => seen.length === 3);
    await raw(stream, 'd');
    await raw(stream, 'e');
    await raw(stream, 'f'); // past --count: never printed
    expect(await done).toBe(5);
    expect(started).toEqual(['0-0']);
    expect(seen.map((e) => e.fields.event_id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(seen[0]).toMatchObject({ stream, fields: { v: '1', batch_id: 'b1' } });
  });

  it('without fromStart prints only entries added after it started, across several empty reads', async () => {
    const stream = `${prefix('tail-new')}events:low_risk`;
    await routed(stream, 'old');
    const seen: StreamEntry[] = [];
    const done = tailStream(await conn(), stream, { count: 2, blockMs: 100, onEntry: (e) => seen.push(e) });
    // Several BLOCK timeouts pass before anything arrives: none of them may lose the position.
    await new Promise((r) => setTimeout(r, 450));
    await routed(stream, 'new1');
    await routed(stream, 'new2');
    expect(await done).toBe(2);
    expect(seen.map((e) => e.fields.event_id)).toEqual(['new1', 'new2']);
  });

  it('follows a stream that does not exist yet', async () => {
    const stream = `${prefix('tail-empty')}events:deadletter`;
    const seen: StreamEntry[] = [];
    const done = tailStream(await conn(), stream, { count: 1, blockMs: 100, onEntry: (e) => seen.push(e) });
    await new Promise((r) => setTimeout(r, 250));
    await deadletter(stream, 'dl1');
    expect(await done).toBe(1);
    expect(seen[0].fields.stage).toBe('screen');
  });

  it('reads a long stream in chunks without losing or repeating entries', async () => {
    const stream = `${prefix('tail-long')}s`;
    const pipe = admin.pipeline();
    for (let i = 0; i < 2500; i++) pipe.xadd(stream, '*', 'n', String(i));
    await pipe.exec();
    const seen: number[] = [];
    expect(await tailStream(await conn(), stream, { fromStart: true, count: 2500, blockMs: 100, onEntry: (e) => seen.push(Number(e.fields.n)) })).toBe(2500);
    expect(seen).toEqual(Array.from({ length: 2500 }, (_, i) => i));
  });

  it('returns promptly when aborted during a long blocking read', async () => {
    const stream = `${prefix('tail-abort')}s`;
    const redis = await conn();
    const controller = new AbortController();
    const startedMs = Date.now();
    const done = tailStream(redis, stream, { blockMs: 30_000, signal: controller.signal, onEntry: () => {} });
    setTimeout(() => controller.abort(), 200);
    expect(await done).toBe(0);
    expect(Date.now() - startedMs).toBeLessThan(2_000);
  });

  it('returns at once for count 0, and refuses a key that is not a stream', async () => {
    const p = prefix('tail-misc');
    expect(await tailStream(await conn(), `${p}s`, { count: 0, onEntry: () => {} })).toBe(0);
    await admin.set(`${p}str`, 'x');
    await expect(tailStream(await conn(), `${p}str`, { count: 1, blockMs: 100, onEntry: () => {} })).rejects.toMatchObject({ code: 'RP_ERR_CLI_INPUT', message: `${p}str is not a stream (it holds another Redis type)` });
  });
});

describe('riskpipe tail-stream (CLI binary)', () => {
  it('--json --from-start prints one object per entry with JSON fields parsed, and new ones as they arrive', async () => {
    const p = prefix('tail-cli-json');
    const stream = `${p}events:low_risk`;
    await routed(stream, 'r1', 'see you after school, you won\'t like it');
    const tail = start(['tail-stream', 'events:low_risk', '--json', '--from-start', '--count', '2', '--block-ms', '200'], { RISKPIPE_PREFIX: p });
    await until('the first entry', () => tail.lines().length === 1);
    await routed(stream, 'r2');
    expect(await tail.exited).toEqual({ code: 0, signal: null });
    expect(tail.stderr()).toBe('');
    const [first, second] = tail.lines().map((l) => JSON.parse(l));
    expect(Object.keys(first).sort()).toEqual(['fields', 'id', 'stream']);
    expect(first.stream).toBe(stream);
    expect(first.id).toMatch(/^\d+-\d+$/);
    expect(first.fields).toMatchObject({ v: '1', event_id: 'r1', event: event('r1', 'see you after school, you won\'t like it'), prediction: prediction('r1'), source_id: '1-0' });
    expect(second.fields.prediction.risk_level).toBe('HIGH');
    expect(second.fields.event.event_id).toBe('r2');
  });

  it('prints routed, raw and dead-letter entries as readable lines', async () => {
    const p = prefix('tail-cli-text');
    await routed(`${p}events:reasoning_queue`, 'hot', 'I know where you live\nand I am coming');
    await raw(`${p}events:raw`, 'fresh');
    await deadletter(`${p}events:deadletter`, 'poison');
    const lines: string[] = [];
    for (const name of ['events:reasoning_queue', 'events:raw', 'events:deadletter']) {
      const r = await runCli(['tail-stream', name, '--prefix', p, '--from-start', '-n', '1'], { env: { REDIS_URL } });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      lines.push(r.stdout.trimEnd());
    }
    const time = String.raw`\d{2}:\d{2}:\d{2}\.\d{3} \d+-\d+`;
    expect(lines[0]).toMatch(new RegExp(`^${time} hot HIGH 0\\.87 threat \\[threat_language,new_account\\] "I know where you live and I am coming"$`));
    expect(lines[1]).toMatch(new RegExp(`^${time} fresh discord/u-fresh "message fresh"$`));
    expect(lines[2]).toMatch(new RegExp(`^${time} poison DEADLETTER stage=screen deliveries=1 source=7-0 error="event is not valid JSON"$`));
  });

  it('without --from-start skips what is already there', async () => {
    const p = prefix('tail-cli-new');
    const stream = `${p}events:raw`;
    await raw(stream, 'before');
    const tail = start(['tail-stream', 'events:raw', '--prefix', p, '--count', '1', '--json', '--block-ms', '200']);
    await feedUntilPrinted((n) => raw(stream, `after-${n}`), () => tail.lines().length);
    expect((await tail.exited).code).toBe(0);
    const printed = tail.lines().map((l) => JSON.parse(l).fields.event_id);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toMatch(/^after-\d+$/);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('stops cleanly on %s while blocked in XREAD, exit 0', async (signal) => {
    const p = prefix(`tail-cli-${signal}`);
    const stream = `${p}events:raw`;
    const tail = start(['tail-stream', 'events:raw', '--prefix', p, '--block-ms', '30000']);
    await feedUntilPrinted((n) => raw(stream, `e${n}`), () => tail.lines().length);
    // Now it is in (or about to enter) a 30 s blocking read that only the signal can end early.
    const sentMs = Date.now();
    tail.child.kill(signal);
    expect(await tail.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - sentMs).toBeLessThan(2_000);
    expect(tail.stderr()).toBe('');
  });

  it('ends quietly with exit 0 when its reader goes away (| head)', async () => {
    const p = prefix('tail-cli-pipe');
    const stream = `${p}s`;
    for (let i = 0; i < 5; i++) await raw(stream, `e${i}`);
    // Its own process group, so that a failed test can end the whole pipeline, not just bash.
    const sh = spawn('bash', ['-c', `set -o pipefail; node "${BIN}" tail-stream s --prefix '${p}' --from-start --block-ms 200 | head -n 2`], { cwd: ROOT, env: { ...process.env, REDIS_URL }, detached: true });
    groups.push(sh.pid!);
    let stdout = '';
    let stderr = '';
    sh.stdout.on('data', (d) => (stdout += d));
    sh.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => sh.on('close', resolve));
    await until('head to get its lines', () => stdout.split('\n').filter(Boolean).length === 2);
    // tail-stream only learns that head is gone when it next writes: give it something to write.
    await new Promise((r) => setTimeout(r, 200));
    await raw(stream, 'late');
    // With pipefail the pipeline's status is tail-stream's own.
    expect(await exited).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(2);
    expect(stderr).toBe('');
  });

  it('rides out a Redis restart and goes on printing', async () => {
    const server = await PrivateRedis.start();
    try {
      const client = new IORedis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      await client.connect();
      const tail = start(['tail-stream', 'events:low_risk', '--redis-url', server.url, '--json', '--count', '2', '--block-ms', '300']);
      await feedUntilPrinted((n) => client.xadd('events:low_risk', '*', 'event_id', `before-${n}`), () => tail.lines().length);
      client.disconnect();
      await server.stop();
      await until('the CLI to notice', () => tail.stderr().includes('(reconnecting)'));
      await server.start();
      const again = new IORedis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      await again.connect();
      // The restarted server is empty; its new entries have later ids than the last one printed.
      await feedUntilPrinted((n) => again.xadd('events:low_risk', '*', 'event_id', `after-${n}`), () => tail.lines().length - 1);
      again.disconnect();
      expect((await tail.exited).code).toBe(0);
      expect(tail.lines().map((l) => JSON.parse(l).fields.event_id)).toEqual([expect.stringMatching(/^before-/), expect.stringMatching(/^after-/)]);
      expect(tail.stderr()).toMatch(/^riskpipe: redis: .* \(reconnecting\)\n(.*\n)*riskpipe: redis: reconnected\n$/);
    } finally {
      await server.stop();
    }
  });

  it('fails with a clear message when Redis is not there, or the key is not a stream', async () => {
    const port = await freePort();
    const down = await runCli(['tail-stream', 'events:raw', '--redis-url', `redis://:hunter2@127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(`riskpipe: cannot reach Redis at redis://:***@127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    const p = prefix('tail-cli-type');
    await admin.set(`${p}str`, 'x');
    const wrong = await runCli(['tail-stream', 'str', '--prefix', p], { env: { REDIS_URL } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('is not a stream');
    const bad = await runCli(['tail-stream', 'x', '--count', '-1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('count (--count): must be 0 or more');
  });
});
