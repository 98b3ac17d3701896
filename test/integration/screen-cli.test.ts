import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { traceparentFor } from '../../src/common/trace.js';
import { GROUPS, STREAM_SCHEMA_VERSION, decodeRouted, fieldsToObject } from '../../src/models/index.js';
import { assertBuilt, runCli, startCli, waitForHttp } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, uniquePrefix } from '../helpers/redis.js';
import { freePort } from '../helpers/redis-server.js';
import { streamNames } from '../../src/stream/keys.js';

/* The real binary (dist/) with the real Screener and the hash embedder. */

const THREAT = 'I know where you live and I am going to kill you and your family tonight';
const BENIGN = 'thanks everyone, great game tonight! see you all tomorrow';

let redis: Redis;
let dir: string;
const prefix = uniquePrefix('screen-cli');

beforeAll(async () => {
  assertBuilt();
  redis = await connectTestRedis();
  dir = mkdtempSync(join(tmpdir(), 'riskpipe-screen-cli-'));
});
afterAll(async () => {
  await cleanupPrefix(redis, prefix);
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

describe('riskpipe screen', () => {
  it('scores a JSONL file in input order with routed_to, reports bad lines by number and exits 1', async () => {
    const file = join(dir, 'events.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ event_id: 'c-threat', content: THREAT }),
        'this is not json',
        JSON.stringify({ content: BENIGN }),
        '',
        JSON.stringify({ event_id: 'c-empty', content: '' }),
        JSON.stringify({ event_id: 'c-full', event_type: 'message_created', platform: 'slack', user_id: 'u', author_id: 'a', content: 'see you at the standup', metadata: { account_age_days: 300 } }),
      ].join('\n'),
    );
    const r = await runCli(['screen', '--file', file, '--json', '--prefix', 'tenant1:'], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(out.map((o) => o.line)).toEqual([1, 2, 3, 5, 6]);
    expect(out[0]).toMatchObject({ event_id: 'c-threat', risk_category: 'threat', routed_to: 'tenant1:events:reasoning_queue' });
    expect(out[0].risk_score).toBeGreaterThanOrEqual(0.7);
    expect(Object.keys(out[0])).toEqual(expect.arrayContaining(['event_id', 'risk_score', 'risk_level', 'risk_category', 'flags', 'routed_to']));
    expect(out[1]).toMatchObject({ line: 2, error: expect.stringMatching(/not valid JSON/) });
    expect(out[2]).toMatchObject({ risk_level: 'LOW', routed_to: 'tenant1:events:low_risk' });
    expect(out[2].event_id).toMatch(/^line-3-/);
    expect(out[3]).toMatchObject({ line: 5, event_id: 'c-empty', errors: [{ path: 'content', message: 'Content too short (min: 1)' }] });
    expect(out[4]).toMatchObject({ event_id: 'c-full', routed_to: 'tenant1:events:low_risk' });
    expect(r.stderr).toContain('line 2:');
    expect(r.stderr).toContain('line 5:');
  });

  it('reads stdin and prints a readable table with a reason per event; exit 0 when every line scores', async () => {
    const input = [JSON.stringify({ event_id: 't-1', content: THREAT }), JSON.stringify({ event_id: 't-2', content: BENIGN })].join('\n');
    const r = await runCli(['screen', '--file', '-'], { input, timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^LINE\s+EVENT_ID\s+SCORE\s+LEVEL\s+CATEGORY\s+ROUTED_TO/);
    expect(r.stdout).toMatch(/t-1\s+\d\.\d{3}\s+HIGH\s+threat\s+events:reasoning_queue/);
    expect(r.stdout).toMatch(/t-2\s+\d\.\d{3}\s+LOW\s+low_risk\s+events:low_risk/);
    expect(r.stdout).toContain('2 scored (1 to events:reasoning_queue, 1 to events:low_risk), 0 failed');
  });

  it('applies --threshold to routing', async () => {
    const r = await runCli(['screen', '--file', '-', '--json', '--threshold', '0'], { input: JSON.stringify({ content: BENIGN }), timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).routed_to).toBe('events:reasoning_queue');
  });

  it('needs --file, and refuses a bad embedder naming the setting', async () => {
    const r = await runCli(['screen']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--file');
    const bad = await runCli(['screen', '--file', '-', '--embedder', 'gpt'], { input: '' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('embedder (--embedder / RISKPIPE_EMBEDDER): must be hash or onnx');
  });
});

describe('riskpipe explain', () => {
  it('prints the full breakdown of one verdict', async () => {
    const r = await runCli(['explain', '--text', THREAT], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    for (const s of ['Verdict', 'threat', 'Routed to    events:reasoning_queue', 'Signals', 'Category scores', 'Nearest neighbours', 'Thresholds', 'policy fingerprint']) expect(r.stdout).toContain(s);
  });

  it('--file with one event and --json gives the event, prediction, threshold and route', async () => {
    const file = join(dir, 'one.json');
    writeFileSync(file, JSON.stringify({ event_id: 'x-1', content: BENIGN, platform: 'twitch', author_id: 'viewer' }));
    const r = await runCli(['explain', '--file', file, '--json'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const x = JSON.parse(r.stdout);
    expect(x.event).toMatchObject({ event_id: 'x-1', platform: 'twitch', author_id: 'viewer' });
    expect(x.prediction.details).toHaveProperty('signals');
    expect(x.prediction.details).toHaveProperty('neighbors');
    expect(x.routed_to).toBe('events:low_risk');
    expect(x.threshold).toBe(0.7);
  });

  it('refuses missing input with exit 2', async () => {
    const r = await runCli(['explain']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--text');
  });
});

describe('riskpipe screen-worker', () => {
  it('refuses bad configuration naming each setting, exit 2', async () => {
    const r = await runCli(['screen-worker', '--port', 'x', '--max-deliveries', '0', '--threshold', '2'], { env: { RISKPIPE_CLAIM_IDLE_MS: 'soon' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('port (--port / RISKPIPE_SCREEN_PORT): must be a number');
    expect(r.stderr).toContain('maxDeliveries (--max-deliveries / RISKPIPE_MAX_DELIVERIES): must be at least 1');
    expect(r.stderr).toContain('threshold (--threshold / SCREENING_THRESHOLD): must be between 0 and 1');
    expect(r.stderr).toContain('claimIdleMs (--claim-idle-ms / RISKPIPE_CLAIM_IDLE_MS): must be a number');
  });

  it('screens events:raw into both routes, serves the API, and stops cleanly on SIGTERM', async () => {
    const streams = streamNames(prefix);
    const events = [
      { event_id: 'bin-threat', content: THREAT },
      { event_id: 'bin-benign', content: BENIGN },
    ].map((e) => ({ ...e, event_type: 'message_created', platform: 'discord', channel_id: 'c', user_id: 'u', author_id: e.event_id, created_at: new Date().toISOString(), metadata: {} }));
    // Written before the worker (and its group) exists.
    for (const e of events) await redis.xadd(streams.raw, '*', 'v', STREAM_SCHEMA_VERSION, 'event_id', e.event_id, 'event', JSON.stringify(e), 'ingested_at', e.created_at, 'batch_id', 'b', 'traceparent', traceparentFor());
    const port = await freePort();
    const w = startCli(['screen-worker', '--port', String(port), '--host', '127.0.0.1', '--prefix', prefix, '--block-ms', '200', '--log-level', 'warn'], { RISKPIPE_API_KEYS: 'cli-screen-key-1' });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      const deadline = Date.now() + 20_000;
      while ((await redis.xlen(streams.reasoning)) + (await redis.xlen(streams.lowRisk)) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const [[, rf]] = await redis.xrange(streams.reasoning, '-', '+');
      const [[, lf]] = await redis.xrange(streams.lowRisk, '-', '+');
      expect(decodeRouted(fieldsToObject(rf)).event.event_id).toBe('bin-threat');
      expect(decodeRouted(fieldsToObject(lf)).event.event_id).toBe('bin-benign');

      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(ready.status).toBe(200);
      const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
      expect(health).toMatchObject({ status: 'ok', service: 'risk-screening', device: 'cpu' });
      const denied = await fetch(`http://127.0.0.1:${port}/v1/risk/screen`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'hi' }) });
      expect(denied.status).toBe(401);
      const res = await fetch(`http://127.0.0.1:${port}/v1/risk/screen`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': 'cli-screen-key-1' }, body: JSON.stringify({ content: THREAT }) });
      expect(res.status).toBe(200);
      expect((await res.json()).risk_category).toBe('threat');
      const m = await (await fetch(`http://127.0.0.1:${port}/v1/metrics`)).json();
      expect(m).toMatchObject({ queue_depth: 0, pending: 0, threshold: 0.7, routed: { reasoning_queue: 1, low_risk: 1 } });
      expect(m.consumer).toMatch(/-\d+-[0-9a-f]{6}$/);
    } finally {
      w.child.kill('SIGTERM');
    }
    const { code } = await w.exited;
    expect(code).toBe(0);
    expect(Number(((await redis.xpending(streams.raw, GROUPS.screening)) as unknown[])[0])).toBe(0);
  });
});

describe('riskpipe screen --neighbors', () => {
  it('when-evidence routes the same as always, skips neighbours only where no rule fired, and refuses other values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-neigh-'));
    const file = join(dir, 'in.jsonl');
    const texts = ['what time is the raid tonight', 'I know where you live', 'free nitro here: discord-gift.xyz/claim', 'thanks, that fixed it'];
    writeFileSync(file, texts.map((content, i) => JSON.stringify({ event_id: `n${i}`, content })).join('\n'));
    try {
      const a = await runCli(['screen', '--file', file, '--json'], { timeoutMs: 60_000 });
      const b = await runCli(['screen', '--file', file, '--json', '--neighbors', 'when-evidence'], { timeoutMs: 60_000 });
      expect(a.code).toBe(0);
      expect(b.code).toBe(0);
      const route = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l).routed_to);
      expect(route(b.stdout)).toEqual(route(a.stdout));
      expect(route(a.stdout)[1]).toBe('events:reasoning_queue');
      const bad = await runCli(['screen', '--file', file, '--neighbors', 'sometimes']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('neighbors (--neighbors / RISKPIPE_NEIGHBORS): must be always or when-evidence');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
