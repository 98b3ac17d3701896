import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildIngestApp } from '../../src/ingest/app.js';
import { createProducerRedis } from '../../src/common/redis.js';
import { parseEvent } from '../../src/models/index.js';
import { parseInput, sendEvents } from '../../src/cli/send/send.js';
import { formatEntry, tailStream, type StreamEntry } from '../../src/cli/tail/tail.js';
import { assertBuilt, ROOT, runCli, startCli } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

const KEY = 'send-test-key-1';
let admin: Redis;
let producer: Redis;
const prefixes: string[] = [];
const apps: FastifyInstance[] = [];

async function server(opts: Partial<Parameters<typeof buildIngestApp>[0]> = {}) {
  const prefix = uniquePrefix('send');
  prefixes.push(prefix);
  const app = await buildIngestApp({ redis: producer, stream: `${prefix}events:raw`, prefix, apiKeys: [KEY], ...opts });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  apps.push(app);
  return { url, prefix, stream: `${prefix}events:raw`, app };
}

const tmp = mkdtempSync(join(tmpdir(), 'rp-send-'));
function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

beforeAll(async () => {
  assertBuilt();
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise((r) => producer.once('ready', r));
});
afterAll(async () => {
  for (const a of apps) await a.close();
  for (const p of prefixes) await cleanupPrefix(admin, p);
  producer.disconnect();
  admin.disconnect();
});

describe('examples/', () => {
  it('holds only events that pass ingest validation', () => {
    for (const f of ['clean.jsonl', 'toxic.jsonl', 'spam.jsonl', 'mixed.json']) {
      const items = parseInput(readFileSync(join(ROOT, 'examples', f), 'utf8'), f);
      expect(items.length).toBeGreaterThanOrEqual(10);
      for (const it of items) expect(parseEvent(it.event).ok, `${f}:${it.line}`).toBe(true);
    }
  });
});

describe('riskpipe send', () => {
  it('queues a JSONL file, and reports duplicates when it is sent again', async () => {
    const { url, stream } = await server();
    const r = await runCli(['send', '--file', 'examples/toxic.jsonl', '--url', url, '--json'], { env: { RISKPIPE_API_KEY: KEY } });
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ total: 20, queued: 20, duplicates: 0, rejected: 0, failed: 0 });
    expect(await admin.xlen(stream)).toBe(20);
    const again = await runCli(['send', '-f', 'examples/toxic.jsonl', '--url', url], { env: { RISKPIPE_API_KEY: KEY } });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 queued, 20 duplicates, 0 rejected, 0 failed');
    expect(await admin.xlen(stream)).toBe(20);
  });

  it('reads a JSON array file and stdin', async () => {
    const { url, stream } = await server();
    expect((await runCli(['send', '--file', 'examples/mixed.json', '--url', url, '--api-key', KEY])).code).toBe(0);
    expect(await admin.xlen(stream)).toBe(10);
    const stdin = readFileSync(join(ROOT, 'examples/clean.jsonl'), 'utf8');
    const r = await runCli(['send', '--file', '-', '--url', url, '--api-key', KEY, '--json'], { input: stdin });
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 20, queued: 20 });
    expect(await admin.xlen(stream)).toBe(30);
  });

  it('reports rejected lines with line numbers and reasons, still sends the good ones, exits 1', async () => {
    const { url, stream } = await server();
    const good = (i: number) => JSON.stringify({ event_id: `g${i}`, event_type: 'message_created', platform: 'slack', user_id: 'u', author_id: `a${i}`, content: `fine ${i}` });
    const p = file(
      'bad.jsonl',
      [good(1), '{not json', '', JSON.stringify({ event_id: 'e-empty', event_type: 'message_created', platform: 'slack', user_id: 'u', author_id: 'a', content: '  ' }), good(2), JSON.stringify({ event_id: 'e-plat', event_type: 'message_created', platform: 'myspace', user_id: 'u', author_id: 'a', content: 'x' })].join('\n'),
    );
    const r = await runCli(['send', '--file', p, '--url', url, '--api-key', KEY]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('2 queued, 0 duplicates, 3 rejected, 0 failed');
    expect(r.stdout).toMatch(/not valid JSON.*line 2/);
    expect(r.stdout).toMatch(/Content too short \(min: 1\).*line 4 \(e-empty\)/);
    expect(r.stdout).toMatch(/Invalid platform.*line 6 \(e-plat\)/);
    expect(await admin.xlen(stream)).toBe(2);
  });

  it('sends one --text message with generated ids', async () => {
    const { url, stream } = await server();
    const r = await runCli(['send', '--text', 'hello from the CLI', '--platform', 'discord', '--author', 'me', '--url', url, '--api-key', KEY, '--json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 1, queued: 1 });
    const [[, flat]] = await admin.xrange(stream, '-', '+');
    const ev = JSON.parse(flat[flat.indexOf('event') + 1]);
    expect(ev).toMatchObject({ platform: 'discord', author_id: 'me', content: 'hello from the CLI' });
    expect(ev.event_id).toMatch(/^cli-/);
  });

  it('stops with a clear message on a wrong API key, and on bad input', async () => {
    const { url } = await server();
    const r = await runCli(['send', '--text', 'hi', '--url', url, '--api-key', 'wrong-key-999']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('API key rejected');
    expect(r.stdout).toContain('1 failed');
    const none = await runCli(['send', '--url', url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('nothing to send');
    const missing = await runCli(['send', '--file', join(tmp, 'nope.jsonl'), '--url', url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');
    const badUrl = await runCli(['send', '--text', 'x', '--url', 'not a url']);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('url (--url / RISKPIPE_URL)');
  });

  it('retries 503 answers until the queue has room', async () => {
    const { url, stream } = await server({ maxQueueDepth: 2, retryAfterS: 1 });
    await admin.xadd(stream, '*', 'filler', '1');
    await admin.xadd(stream, '*', 'filler', '2');
    const items = parseInput(readFileSync(join(ROOT, 'examples/clean.jsonl'), 'utf8'), 'clean');
    // Free the queue shortly after the first attempt was refused.
    setTimeout(() => void admin.del(stream), 300);
    const summary = await sendEvents(items.slice(0, 5), { url, apiKey: KEY, batchSize: 5, initialBackoffMs: 50 });
    expect(summary.retries).toBeGreaterThanOrEqual(1);
    expect(summary).toMatchObject({ queued: 5, failed: 0 });
  });

  it('gives up after --max-retries when the server never answers, and says why', async () => {
    const items = parseInput('{"event_id":"x","event_type":"message_created","platform":"slack","user_id":"u","author_id":"a","content":"c"}', 'x');
    const summary = await sendEvents(items, { url: 'http://127.0.0.1:9', maxRetries: 2, initialBackoffMs: 10 });
    expect(summary).toMatchObject({ failed: 1, retries: 2, queued: 0 });
    expect(summary.failures[0]).toContain('gave up after 3 attempts');
  });
});

describe('riskpipe tail-stream', () => {
  it('prints existing entries with --from-start, then new ones as they arrive, and stops at --count', async () => {
    const prefix = uniquePrefix('tail');
    prefixes.push(prefix);
    const stream = `${prefix}events:low_risk`;
    const event = { event_id: 'e1', platform: 'discord', author_id: 'a1', content: 'hello there' };
    const prediction = { risk_score: 0.12, risk_level: 'LOW', risk_category: 'low_risk', flags: ['mentions'] };
    await admin.xadd(stream, '*', 'v', '1', 'event_id', 'e1', 'event', JSON.stringify(event), 'prediction', JSON.stringify(prediction));
    const tail = startCli(['tail-stream', 'events:low_risk', '--from-start', '--count', '2', '--json', '--block-ms', '200'], { RISKPIPE_PREFIX: prefix });
    await new Promise((r) => setTimeout(r, 800));
    await admin.xadd(stream, '*', 'v', '1', 'event_id', 'e2', 'event', JSON.stringify({ ...event, event_id: 'e2' }), 'prediction', JSON.stringify(prediction));
    const { code } = await tail.exited;
    expect(code).toBe(0);
    const lines = tail.output().trim().split('\n').filter((l) => l.startsWith('{'));
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]);
    expect(first).toMatchObject({ stream, fields: { event_id: 'e1', event: event, prediction } });
    expect(JSON.parse(lines[1]).fields.event.event_id).toBe('e2');
  });

  it('without --from-start shows only entries added after it started', async () => {
    const prefix = uniquePrefix('tail2');
    prefixes.push(prefix);
    const stream = `${prefix}events:raw`;
    await admin.xadd(stream, '*', 'event_id', 'old', 'event', '{"event_id":"old","content":"old one"}');
    const seen: StreamEntry[] = [];
    const redis = await connectTestRedis();
    const done = tailStream(redis, stream, { count: 1, blockMs: 100, onEntry: (e) => seen.push(e) });
    await new Promise((r) => setTimeout(r, 300));
    await admin.xadd(stream, '*', 'event_id', 'new', 'event', '{"event_id":"new","content":"new one"}');
    expect(await done).toBe(1);
    expect(seen.map((e) => e.fields.event_id)).toEqual(['new']);
    redis.disconnect();
  });

  it('formats routed, raw and dead-letter entries readably', () => {
    const routed = formatEntry({ stream: 's', id: '1732357200000-0', fields: { event: JSON.stringify({ event_id: 'e9', content: 'you are trash' }), prediction: JSON.stringify({ risk_score: 0.91, risk_level: 'HIGH', risk_category: 'toxic', flags: ['targeted_language'] }) } }, false);
    expect(routed).toContain('e9 HIGH 0.91 toxic [targeted_language] "you are trash"');
    const raw = formatEntry({ stream: 's', id: '1-0', fields: { event: JSON.stringify({ event_id: 'r1', platform: 'slack', author_id: 'bob', content: 'hi' }) } }, false);
    expect(raw).toContain('r1 slack/bob "hi"');
    const dl = formatEntry({ stream: 's', id: '1-0', fields: { stage: 'screen', error: 'bad JSON', deliveries: '1', source_id: '5-0', fields: '{"event":"{"}' } }, false);
    expect(dl).toContain('DEADLETTER stage=screen deliveries=1 source=5-0 error="bad JSON"');
    expect(JSON.parse(formatEntry({ stream: 's', id: '1-0', fields: { event: 'not json' } }, true)).fields.event).toBe('not json');
  });

  it('stops cleanly when its output is closed early (| head)', async () => {
    const prefix = uniquePrefix('tail3');
    prefixes.push(prefix);
    for (let i = 0; i < 50; i++) await admin.xadd(`${prefix}s`, '*', 'event_id', `e${i}`);
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('bash', ['-c', `node bin/riskpipe tail-stream s --from-start --prefix '${prefix}' --block-ms 100 | head -n 2`], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
    expect(r.stdout.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).not.toContain('EPIPE');
  });
});
