import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PermanentError, RiskpipeError } from '../../src/common/errors.js';
import { traceparentFor } from '../../src/common/trace.js';
import { GROUPS, STREAM_SCHEMA_VERSION, type Event, type RiskPrediction } from '../../src/models/index.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { ScreenWorker, type ScreenFn } from '../../src/screen/worker.js';
import type { Bus } from '../../src/stream/index.js';
import { MemoryBus } from '../../src/stream/memory/bus.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { ROOT } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/*
 * The screen worker's routing, dead-letter and crash-recovery behaviour on every bus, observed
 * through the bus alone (test/integration/screen-worker*.test.ts check the same on Redis with
 * raw commands). The journaled memory bus is also killed with SIGKILL and reopened.
 */

const prefixes: string[] = [];
const dirs: string[] = [];
const G = { stream: 'raw' as const, group: GROUPS.screening };

const buses: { name: string; make: () => Promise<Bus> }[] = [
  {
    name: 'redis',
    make: async () => {
      const prefix = uniquePrefix('conf-sw');
      prefixes.push(prefix);
      return RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
    },
  },
  { name: 'memory', make: async () => MemoryBus.open({}) },
];

let seq = 0;
function event(over: Partial<Event> = {}): Event {
  seq++;
  return { event_id: `sw-${seq}`, event_type: 'message_created', platform: 'discord', channel_id: 'general', user_id: 'u', author_id: `a-${seq}`, content: `message ${seq}`, created_at: new Date().toISOString(), metadata: {}, ...over };
}
const rawFields = (e: Event, over: Record<string, string> = {}) => ({ v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: JSON.stringify(e), ingested_at: new Date().toISOString(), batch_id: 'b1', traceparent: traceparentFor(), ...over });

class TestScorer implements ScreenFn {
  readonly modelId = 'test-scorer';
  readonly dim = 8;
  readonly device = 'cpu';
  readonly fingerprint = 'fp';
  hang = false;
  async screenBatch(items: { event: Event }[]): Promise<RiskPrediction[]> {
    if (this.hang) await new Promise(() => {});
    return items.map(({ event }) => {
      if (event.content.includes('FAIL_TRANSIENT')) throw new RiskpipeError('RP_ERR_TRANSIENT', 'busy');
      if (event.content.includes('FAIL_PERMANENT')) throw new PermanentError('RP_ERR_INTERNAL', 'cannot score this');
      const high = event.content.includes('threat');
      return {
        event_id: event.event_id,
        risk_score: high ? 0.9 : 0.1,
        risk_level: high ? 'HIGH' : 'LOW',
        risk_category: high ? 'threat' : 'low_risk',
        confidence: 0.8,
        flags: [],
        details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 't' },
        screening_time_ms: 0,
        model_version: 't',
        policy_fingerprint: 'fp',
      };
    });
  }
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const f of buses) {
  describe(`screen worker on the ${f.name} bus`, () => {
    it('routes by threshold, dead-letters poison and permanent failures, counts the batch', async () => {
      const bus = await f.make();
      const ingest = new IngestPipeline({ bus });
      const events = [event({ content: 'hello' }), event({ content: 'a threat' }), event({ content: 'FAIL_PERMANENT x' })];
      await ingest.append(ingest.validate(events), 'B1', undefined, 3);
      await bus.add('raw', { v: STREAM_SCHEMA_VERSION, event_id: 'bad', event: '{"event_id": ', batch_id: 'B1' });
      await bus.add('raw', rawFields(event(), { v: '99' }));
      const w = new ScreenWorker({ bus, screener: new TestScorer(), threshold: 0.7, blockMs: 50 });
      await w.start();
      try {
        await until(() => bus.deadLetters.count(), (n) => n === 3);
        await until(async () => (await bus.length('lowRisk')) + (await bus.length('reasoning')), (n) => n === 2);
        const [low] = await bus.range('lowRisk');
        const [high] = await bus.range('reasoning');
        expect(Object.keys(low.fields)).toEqual(['v', 'event_id', 'event', 'prediction', 'source_id', 'traceparent', 'screened_at', 'batch_id']);
        expect(JSON.parse(high.fields.prediction)).toMatchObject({ risk_category: 'threat' });
        const dl = await bus.deadLetters.list();
        expect(dl.map((d) => d.code).sort()).toEqual(['RP_ERR_INTERNAL', 'RP_ERR_POISON_ENTRY', 'RP_ERR_SCHEMA_VERSION']);
        expect(dl.every((d) => d.stage === 'screen' && d.sourceStream === bus.names.raw && d.attempts === 1)).toBe(true);
        expect(await bus.batchStatus('B1')).toMatchObject({ total: 3, queued: 3, screened: 2, low_risk: 1, escalated: 1, dead_lettered: 2 });
        expect((await bus.groupInfo(G)).pending).toBe(0);
        expect(w.metrics.snapshot()).toMatchObject({ routed: { reasoning_queue: 1, low_risk: 1 }, deadlettered: 3 });
      } finally {
        await w.close();
        await bus.close();
      }
    });

    it('transient failures stay pending, are claimed again, and go to the dead-letter stream after maxDeliveries', async () => {
      const bus = await f.make();
      await bus.add('raw', rawFields(event({ content: 'FAIL_TRANSIENT now' })));
      await bus.add('raw', rawFields(event({ content: 'fine' })));
      const w = new ScreenWorker({ bus, screener: new TestScorer(), threshold: 0.7, blockMs: 50, claimIdleMs: 100, maxDeliveries: 2 });
      await w.start();
      try {
        const [d] = await until(() => bus.deadLetters.list(), (l) => l.length === 1);
        expect(d).toMatchObject({ code: 'RP_ERR_MAX_DELIVERIES', attempts: 3 });
        expect(await bus.length('lowRisk')).toBe(1);
        expect(w.metrics.snapshot().transient_failures).toBeGreaterThanOrEqual(2);
        expect((await bus.groupInfo(G)).pending).toBe(0);
      } finally {
        await w.close();
        await bus.close();
      }
    });

    it('crash recovery: a worker that dies holding entries loses none; another claims them; each routed once', async () => {
      const bus = await f.make();
      const n = 120;
      for (let i = 0; i < n; i++) await bus.add('raw', rawFields(event()));
      const stuck = new TestScorer();
      stuck.hang = true;
      const victim = new ScreenWorker({ bus, screener: stuck, threshold: 0.7, consumer: 'victim', batchSize: 20, blockMs: 50 });
      await victim.start();
      await until(() => bus.groupInfo(G), (g) => g.pending === 40);
      // The victim never settles nor closes: as good as killed.
      const rescuer = new ScreenWorker({ bus, screener: new TestScorer(), threshold: 0.7, consumer: 'rescuer', batchSize: 20, blockMs: 50, claimIdleMs: 200 });
      await rescuer.start();
      try {
        await until(() => bus.length('lowRisk'), (x) => x >= n);
        await until(() => bus.groupInfo(G), (g) => g.pending === 0);
        const sources = (await bus.range('lowRisk', { count: 1000 })).map((e) => e.fields.source_id);
        expect(sources).toHaveLength(n);
        expect(new Set(sources).size).toBe(n);
        expect(rescuer.metrics.snapshot().claimed).toBe(40);
      } finally {
        await rescuer.close();
        void victim.close(10);
        await bus.close();
      }
    });
  });
}

describe('journaled memory bus survives kill -9', () => {
  const CHILD = (root: string) => `
import { MemoryBus } from ${JSON.stringify(pathToFileURL(join(root, 'src/stream/memory/bus.ts')).href)};
import { IngestPipeline } from ${JSON.stringify(pathToFileURL(join(root, 'src/ingest/pipeline.ts')).href)};
import { ScreenWorker } from ${JSON.stringify(pathToFileURL(join(root, 'src/screen/worker.ts')).href)};
const bus = MemoryBus.open({ dataDir: process.env.DATA_DIR });
const mode = process.env.MODE;
if (mode === 'ingest') {
  const ingest = new IngestPipeline({ bus });
  let i = 0;
  for (;;) {
    const events = Array.from({ length: 10 }, () => ({ event_id: 'k-' + ++i, event_type: 'message_created', platform: 'discord', channel_id: 'c', user_id: 'u', author_id: 'a', content: 'm ' + i }));
    const out = await ingest.append(ingest.validate(events), 'kb', undefined, 10);
    // Answered: from here on these must survive.
    process.stdout.write('queued ' + out.filter((o) => o.status === 'queued').length + '\\n');
    await new Promise((r) => setTimeout(r, 1));
  }
} else {
  let calls = 0;
  const scorer = { modelId: 't', dim: 8, device: 'cpu', fingerprint: 't', async screenBatch(items) {
    if (++calls > Number(process.env.HANG_AFTER ?? Infinity)) await new Promise(() => {});
    return items.map(({ event }) => ({ event_id: event.event_id, risk_score: 0.1, risk_level: 'LOW', risk_category: 'low_risk', confidence: 0.9, flags: [],
      details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'c' }, screening_time_ms: 0, model_version: 't', policy_fingerprint: 't' }));
  } };
  const w = new ScreenWorker({ bus, screener: scorer, threshold: 0.7, batchSize: 25, blockMs: 50 });
  await w.start();
  setInterval(async () => process.stdout.write('routed ' + (await bus.length('lowRisk')) + ' pending ' + (await bus.groupInfo({ stream: 'raw', group: 'risk-screening' })).pending + '\\n'), 20);
}
`;
  const run = (env: Record<string, string>, until: (out: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const dir = mkdtempSync(join(tmpdir(), 'rp-child-'));
      dirs.push(dir);
      const script = join(dir, 'child.mts');
      writeFileSync(script, CHILD(ROOT));
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (until(out)) child.kill('SIGKILL');
      });
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(out) : reject(new Error(`child exited without being killed:\n${out}`))));
    });

  it('everything answered "queued" is there after SIGKILL; everything is routed exactly once after restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rp-journal-'));
    dirs.push(dataDir);
    const out = await run({ DATA_DIR: dataDir, MODE: 'ingest' }, (o) => (o.match(/queued/g) ?? []).length >= 30);
    const answered = [...out.matchAll(/queued (\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
    let bus = MemoryBus.open({ dataDir });
    const total = await bus.length('raw');
    expect(total).toBeGreaterThanOrEqual(answered);
    expect((await bus.batchStatus('kb'))?.queued).toBe(total);
    await bus.close();

    // A worker killed with entries in hand (the 3rd scoring call never returns), then another run.
    await run({ DATA_DIR: dataDir, MODE: 'screen', HANG_AFTER: '2' }, (o) => /routed 50 pending [1-9]/.test(o));
    await run({ DATA_DIR: dataDir, MODE: 'screen' }, (o) => new RegExp(`routed ${total} pending 0`).test(o));
    bus = MemoryBus.open({ dataDir });
    const sources = (await bus.range('lowRisk', { count: 100_000 })).map((e) => e.fields.source_id);
    expect(sources).toHaveLength(total);
    expect(new Set(sources).size).toBe(total);
    expect((await bus.groupInfo(G)).pending).toBe(0);
    expect(await bus.batchStatus('kb')).toMatchObject({ queued: total, screened: total, low_risk: total, completed: true });
    await bus.close();
  }, 60_000);
});

afterAll(async () => {
  const admin = await connectTestRedis();
  for (const p of prefixes) await cleanupPrefix(admin, p);
  admin.disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
