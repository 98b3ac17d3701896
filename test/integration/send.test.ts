import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildIngestApp, type IngestAppOptions } from '../../src/ingest/app.js';
import { createProducerRedis } from '../../src/common/redis.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { parseInput, sendEvents, type InputItem, type SendSummary } from '../../src/cli/send/send.js';
import { assertBuilt, BIN, ROOT, runCli } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';

const KEY = 'send-int-test-key';
const EXAMPLE_COUNTS = { 'clean.jsonl': 20, 'toxic.jsonl': 20, 'spam.jsonl': 15 } as const;

let admin: Redis;
let producer: Redis;
const prefixes: string[] = [];
const apps: FastifyInstance[] = [];
const closers: (() => Promise<unknown> | void)[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'rp-send-int-'));

/** A real ingest app on a free port, writing to its own prefixed stream. */
async function ingest(opts: Partial<IngestAppOptions> = {}) {
  const prefix = uniquePrefix('send');
  prefixes.push(prefix);
  const stream = `${prefix}events:raw`;
  const app = await buildIngestApp({ bus: new RedisBus(producer, undefined, { role: 'producer', prefix }), apiKeys: [KEY], ...opts });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  apps.push(app);
  return { url, prefix, stream, app };
}

function writeTmp(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

function example(name: string): InputItem[] {
  return parseInput(readFileSync(join(ROOT, 'examples', name), 'utf8'), name);
}

const event = (id: string, over: Record<string, unknown> = {}) => ({
  event_id: id,
  event_type: 'message_created',
  platform: 'slack',
  channel_id: 'general',
  user_id: `user-${id}`,
  author_id: `user-${id}`,
  content: `ordinary message number ${id}`,
  ...over,
});
const jsonl = (rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

const SUMMARY_KEYS = [
  'batch_ids', 'batches', 'duplicates', 'elapsed_ms', 'failed', 'failures', 'fatal', 'interrupted', 'queued', 'rejected',
  'rejection_reasons', 'rejections', 'retries', 'retry_causes', 'sent', 'total',
].sort();

beforeAll(async () => {
  assertBuilt();
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise((r) => producer.once('ready', r));
});

afterAll(async () => {
  for (const a of apps) await a.close();
  for (const c of closers) await c();
  for (const p of prefixes) await cleanupPrefix(admin, p);
  producer.disconnect();
  admin.disconnect();
});

describe('riskpipe send (CLI binary)', () => {
  it('queues every examples/*.jsonl file, then reports all of them as duplicates when sent again', async () => {
    const { url, stream } = await ingest();
    let expected = 0;
    for (const [name, count] of Object.entries(EXAMPLE_COUNTS)) {
      const r = await runCli(['send', '--file', `examples/${name}`, '--url', url, '--json'], { env: { RISKPIPE_API_KEY: KEY } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ total: count, sent: count, queued: count, duplicates: 0, rejected: 0, failed: 0, fatal: null });
      expected += count;
      expect(await admin.xlen(stream)).toBe(expected);
    }
    const again = await runCli(['send', '-f', 'examples/toxic.jsonl', '--url', url], { env: { RISKPIPE_API_KEY: KEY } });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('sent 20 of 20 events in 1 batch');
    expect(again.stdout).toContain('0 queued, 20 duplicates, 0 rejected, 0 failed');
    expect(await admin.xlen(stream)).toBe(expected);
  });

  it('prints the --json summary as exactly one JSON object with the documented fields', async () => {
    const { url } = await ingest();
    const r = await runCli(['send', '--file', 'examples/spam.jsonl', '--url', url, '--api-key', KEY, '--json', '--batch-size', '4', '--concurrency', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const s = JSON.parse(r.stdout) as SendSummary;
    expect(Object.keys(s).sort()).toEqual(SUMMARY_KEYS);
    expect(s).toMatchObject({ total: 15, sent: 15, queued: 15, batches: 4, retries: 0, retry_causes: [], rejection_reasons: [], rejections: [], failures: [], interrupted: false });
    expect(typeof s.elapsed_ms).toBe('number');
  });

  it('reports bad lines as rejected with line numbers grouped by reason, still sends the good ones, and exits 1', async () => {
    const { url, stream } = await ingest();
    const p = writeTmp(
      'bad.jsonl',
      jsonl([
        event('g1'),
        '{"event_id": "broken", ',
        '',
        event('empty', { content: '   ' }),
        event('g2'),
        event('plat', { platform: 'myspace' }),
        'not json at all',
        event('empty2', { content: '' }),
        { event_id: 'nofields' },
        event('g3'),
      ]),
    );
    const r = await runCli(['send', '--file', p, '--url', url, '--api-key', KEY]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('sent 7 of 9 events in 1 batch');
    expect(r.stdout).toContain('3 queued, 0 duplicates, 6 rejected, 0 failed');
    expect(r.stdout).toContain('  2× not valid JSON: line 2, line 7');
    expect(r.stdout).toContain('  2× content: Content too short (min: 1): line 4 (empty), line 8 (empty2)');
    expect(r.stdout).toMatch(/ 1× platform: Invalid platform: "myspace".*: line 6 \(plat\)/);
    expect(r.stdout).toMatch(/ 1× Missing required fields: \[event_type, platform, content, user_id, author_id\]: line 9 \(nofields\)/);
    expect(await admin.xlen(stream)).toBe(3);

    const j = await runCli(['send', '--file', p, '--url', url, '--api-key', KEY, '--json']);
    expect(j.code).toBe(1);
    const s = JSON.parse(j.stdout) as SendSummary;
    expect(s).toMatchObject({ total: 9, sent: 7, queued: 0, duplicates: 3, rejected: 6, failed: 0 });
    expect(s.rejections.map((x) => [x.line, x.event_id])).toEqual([[2, null], [4, 'empty'], [6, 'plat'], [7, null], [8, 'empty2'], [9, 'nofields']]);
    expect(s.rejections.find((x) => x.line === 6)!.errors).toEqual([{ path: 'events.3.platform', message: expect.stringContaining('Invalid platform') }]);
    expect(s.rejection_reasons.map((g) => [g.error, g.count])).toEqual([
      ['not valid JSON', 2],
      ['content: Content too short (min: 1)', 2],
      [expect.stringContaining('Invalid platform'), 1],
      [expect.stringContaining('Missing required fields'), 1],
    ]);
  });

  it('reads events from stdin with --file -', async () => {
    const { url, stream } = await ingest();
    const input = readFileSync(join(ROOT, 'examples/clean.jsonl'), 'utf8');
    const r = await runCli(['send', '--file', '-', '--url', url, '--api-key', KEY, '--json'], { input });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 20, queued: 20 });
    expect(await admin.xlen(stream)).toBe(20);
  });

  it('reads a .json array, and numbers its rejections as items', async () => {
    const { url, stream } = await ingest();
    const ok = await runCli(['send', '--file', 'examples/mixed.json', '--url', url, '--api-key', KEY]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('10 queued, 0 duplicates, 0 rejected, 0 failed');
    expect(await admin.xlen(stream)).toBe(10);
    const p = writeTmp('array.json', JSON.stringify([event('a1'), event('a2', { event_type: 'shouted' })], null, 2));
    const bad = await runCli(['send', '--file', p, '--url', url, '--api-key', KEY]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/1× event_type: Invalid event_type: "shouted".*: item 2 \(a2\)/);
  });

  it('sends one --text message with generated ids', async () => {
    const { url, stream } = await ingest();
    const r = await runCli(['send', '--text', 'hello from the command line', '--url', url, '--api-key', KEY, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 1, queued: 1 });
    const r2 = await runCli(['send', '-t', 'second one', '--platform', 'Discord', '--author', 'mod-7', '--url', url, '--api-key', KEY]);
    expect(r2.code).toBe(0);
    const entries = await admin.xrange(stream, '-', '+');
    const events = entries.map(([, flat]) => JSON.parse(flat[flat.indexOf('event') + 1]));
    expect(events[0]).toMatchObject({ event_type: 'message_created', platform: 'web_chat', user_id: 'cli-user', author_id: 'cli-user', content: 'hello from the command line' });
    expect(events[1]).toMatchObject({ platform: 'discord', user_id: 'mod-7', author_id: 'mod-7', content: 'second one' });
    expect(events[0].event_id).toMatch(/^cli-[0-9a-f-]{36}$/);
    expect(events[0].event_id).not.toBe(events[1].event_id);
  });

  it('stops at once with a clear message when the API key is wrong or missing', async () => {
    const { url, stream } = await ingest();
    const wrong = await runCli(['send', '--file', 'examples/clean.jsonl', '--url', url, '--batch-size', '5'], { env: { RISKPIPE_API_KEY: 'wrong-key-999' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('riskpipe: API key rejected: set --api-key or RISKPIPE_API_KEY');
    expect(wrong.stdout).toContain('0 queued, 0 duplicates, 0 rejected, 20 failed');
    expect(wrong.stdout).toContain('failed: API key rejected');
    const missing = await runCli(['send', '--text', 'hi', '--url', url, '--json'], { env: { RISKPIPE_API_KEY: '' } });
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).fatal).toMatch(/^API key rejected: set --api-key or RISKPIPE_API_KEY \(server said: Missing API key/);
    expect(await admin.xlen(stream)).toBe(0);
  });

  it('exits 2 on bad command-line input', async () => {
    const cases: [string[], RegExp][] = [
      [['send'], /nothing to send: give --file/],
      [['send', '--file', 'examples/clean.jsonl', '--text', 'x'], /either --file or --text/],
      [['send', '--file', join(tmp, 'nope.jsonl')], /cannot read .*nope\.jsonl: no such file/],
      [['send', '--file', writeTmp('broken.json', '[{"event_id": "a"},\n{oops}]')], /broken\.json: not a valid JSON array/],
      [['send', '--file', writeTmp('empty.jsonl', '\n\n')], /empty\.jsonl: no events in the input/],
      [['send', '--text', '   '], /--text is empty/],
      [['send', '--file', 'examples/clean.jsonl', '--author', 'x'], /apply to --text only/],
      [['send', '--text', 'x', '--url', 'not a url'], /url \(--url \/ RISKPIPE_URL\): must be an http/],
      [['send', '--text', 'x', '--concurrency', '0'], /concurrency \(--concurrency\): must be at least 1/],
      [['send', '--text', 'x', '--platform', 'myspace'], /platform \(--platform\): Invalid platform/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it('fails after --max-retries when nothing listens, and exits 1', async () => {
    const port = await freePort();
    const r = await runCli(['send', '--text', 'hi', '--url', `http://127.0.0.1:${port}`, '--max-retries', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('0 queued, 0 duplicates, 0 rejected, 1 failed');
    expect(r.stdout).toContain('retried 1 request: 1× ECONNREFUSED');
    expect(r.stdout).toContain(`failed: gave up after 2 attempts: cannot reach http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('on SIGINT stops starting batches, prints what it did, and exits 1', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'send', '--file', 'examples/clean.jsonl', '--batch-size', '1', '--concurrency', '1', '--url', `http://127.0.0.1:${port}`, '--json'], { cwd: ROOT });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    // Long enough for node to start and be in its first retry wait (250 ms, then 500, 1000, …).
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(1);
    const s = JSON.parse(stdout) as SendSummary;
    expect(s).toMatchObject({ total: 20, sent: 0, failed: 20, interrupted: true });
    expect(s.failures).toContain('not sent: interrupted');
  });

  it('writes nothing to stderr when it is not a terminal (no progress bar)', async () => {
    const { url } = await ingest();
    const r = await runCli(['send', '--file', 'examples/clean.jsonl', '--url', url, '--api-key', KEY, '--batch-size', '3']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });
});

describe('sendEvents', () => {
  it('sends many events in concurrent batches and reports progress', async () => {
    const { url, stream } = await ingest();
    const items: InputItem[] = Array.from({ length: 1234 }, (_, i) => ({ line: i + 1, at: `line ${i + 1}`, event: event(`bulk-${i}`) }));
    const progress: number[] = [];
    const s = await sendEvents(items, { url, apiKey: KEY, batchSize: 100, concurrency: 4, onProgress: (done) => progress.push(done) });
    expect(s).toMatchObject({ total: 1234, sent: 1234, queued: 1234, batches: 13, failed: 0 });
    expect(progress.at(-1)).toBe(1234);
    expect(progress).toHaveLength(13);
    expect(await admin.xlen(stream)).toBe(1234);
    // Input order is kept within a batch, so the stream starts with the first events.
    const [[, first]] = await admin.xrange(stream, '-', '+', 'COUNT', 1);
    expect(first[first.indexOf('event_id') + 1]).toMatch(/^bulk-\d+$/);
  });

  it('caps --batch-size at 500', async () => {
    const { url } = await ingest();
    const items: InputItem[] = Array.from({ length: 1001 }, (_, i) => ({ line: i + 1, at: `line ${i + 1}`, event: event(`cap-${i}`) }));
    const s = await sendEvents(items, { url, apiKey: KEY, batchSize: 5000 });
    expect(s).toMatchObject({ queued: 1001, batches: 3 });
  });

  it('splits batches a server with a smaller --max-batch-size refuses (413)', async () => {
    const { url, stream } = await ingest({ maxBatchSize: 6 });
    const s = await sendEvents(example('clean.jsonl'), { url, apiKey: KEY, batchSize: 20 });
    expect(s).toMatchObject({ queued: 20, rejected: 0, failed: 0 });
    expect(s.batches).toBeGreaterThan(3);
    expect(await admin.xlen(stream)).toBe(20);
  });

  it('rejects one event too large for the body limit, and sends the rest', async () => {
    const { url } = await ingest({ bodyLimitBytes: 4000 });
    const items: InputItem[] = [
      { line: 1, at: 'line 1', event: event('small-1') },
      { line: 2, at: 'line 2', event: event('huge', { content: 'x'.repeat(6000) }) },
      { line: 3, at: 'line 3', event: event('small-2') },
    ];
    const s = await sendEvents(items, { url, apiKey: KEY });
    expect(s).toMatchObject({ sent: 3, queued: 2, rejected: 1, failed: 0 });
    expect(s.rejections[0]).toMatchObject({ line: 2, event_id: 'huge', error: expect.stringContaining('Request body too large') });
  });

  it('retries 503 "queue full" after Retry-After until the queue has room', async () => {
    const { url, stream } = await ingest({ maxQueueDepth: 2, retryAfterS: 1 });
    await admin.xadd(stream, '*', 'filler', '1');
    await admin.xadd(stream, '*', 'filler', '2');
    // A consumer catches up shortly after the first attempt was refused.
    setTimeout(() => void admin.xtrim(stream, 'MAXLEN', 0), 300);
    const s = await sendEvents(example('toxic.jsonl').slice(0, 5), { url, apiKey: KEY, initialBackoffMs: 10 });
    expect(s).toMatchObject({ queued: 5, failed: 0 });
    expect(s.retry_causes).toEqual([{ cause: '503 RP_ERR_QUEUE_FULL', count: 1 }]);
    // Retry-After: 1 wins over the 10 ms backoff.
    expect(s.elapsed_ms).toBeGreaterThanOrEqual(950);
    expect(await admin.xlen(stream)).toBe(5);
  });

  it('gives up on a queue that stays full, counting the events as failed', async () => {
    const { url, stream } = await ingest({ maxQueueDepth: 1, retryAfterS: 0 });
    await admin.xadd(stream, '*', 'filler', '1');
    const s = await sendEvents(example('spam.jsonl'), { url, apiKey: KEY, batchSize: 10, maxRetries: 2, initialBackoffMs: 10 });
    expect(s).toMatchObject({ total: 15, sent: 0, queued: 0, failed: 15, retries: 4 });
    expect(s.failures).toEqual([expect.stringMatching(/^gave up after 3 attempts: server answered 503 RP_ERR_QUEUE_FULL$/)]);
  });

  it('retries while the server is not listening yet, then sends', async () => {
    const port = await freePort();
    const prefix = uniquePrefix('send-late');
    prefixes.push(prefix);
    const late = setTimeout(async () => {
      const app = await buildIngestApp({ bus: new RedisBus(producer, undefined, { role: 'producer', prefix }) });
      apps.push(app);
      await app.listen({ port, host: '127.0.0.1' });
    }, 600);
    closers.push(() => clearTimeout(late));
    const s = await sendEvents(example('clean.jsonl'), { url: `http://127.0.0.1:${port}`, initialBackoffMs: 100, maxBackoffMs: 400 });
    expect(s).toMatchObject({ queued: 20, failed: 0 });
    expect(s.retry_causes[0].cause).toBe('ECONNREFUSED');
    expect(await admin.xlen(`${prefix}events:raw`)).toBe(20);
  });

  it('retries 503 "Redis unavailable" until Redis is back', async () => {
    const redis = await PrivateRedis.start();
    closers.push(() => redis.stop());
    const conn = createProducerRedis(redis.url);
    conn.on('error', () => {}); // refused while Redis is down: expected
    closers.push(() => conn.disconnect());
    await new Promise((r) => conn.once('ready', r));
    const app = await buildIngestApp({ bus: new RedisBus(conn, undefined, { role: 'producer' }), retryAfterS: 1 });
    apps.push(app);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    await redis.stop();
    setTimeout(() => void redis.start(), 800);
    const s = await sendEvents(example('toxic.jsonl'), { url, initialBackoffMs: 50, maxRetries: 10 });
    expect(s).toMatchObject({ queued: 20, failed: 0 });
    expect(s.retry_causes.map((c) => c.cause)).toContain('503 RP_ERR_REDIS_UNAVAILABLE');
    const check = createProducerRedis(redis.url);
    await new Promise((r) => check.once('ready', r));
    expect(await check.xlen('events:raw')).toBe(20);
    check.disconnect();
  });

  it('stops new batches when its signal is aborted and counts the rest as failed', async () => {
    const port = await freePort();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const s = await sendEvents(example('clean.jsonl'), { url: `http://127.0.0.1:${port}`, batchSize: 5, concurrency: 1, signal: controller.signal, initialBackoffMs: 5_000 });
    expect(s).toMatchObject({ total: 20, sent: 0, failed: 20, interrupted: true });
    expect(s.elapsed_ms).toBeLessThan(2_000);
    expect(s.failures).toContainEqual(expect.stringMatching(/^interrupted while retrying: cannot reach .*ECONNREFUSED/));
    expect(s.failures).toContain('not sent: interrupted');
  });

  it('says so when --url points at something that is not serve-ingest', async () => {
    const { url } = await ingest();
    const wrongPath = await sendEvents(example('mixed.json'), { url: `${url}/api`, apiKey: KEY });
    expect(wrongPath.fatal).toMatch(/\/api\/v1\/events\/ingest-batch answered 404: Not found/);
    expect(wrongPath).toMatchObject({ sent: 0, failed: 10 });

    const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => other.close(r)));
    const s = await sendEvents(example('mixed.json'), { url: `http://127.0.0.1:${(other.address() as AddressInfo).port}`, batchSize: 5 });
    expect(s).toMatchObject({ sent: 0, failed: 10, fatal: null });
    expect(s.failures).toEqual([expect.stringContaining('answered 200 but not like serve-ingest')]);
  });
});
