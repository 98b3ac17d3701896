import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extreme, formatBench, percentile, progressLine, summarize, type BenchResult } from '../../src/ops/bench.js';
import { createKeys } from '../../src/stream/keys.js';
import { assertBuilt, runCli } from '../helpers/cli.js';
import { connectTestRedis } from '../helpers/redis.js';

const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

describe('riskpipe bench', () => {
  let redis: Redis;
  beforeAll(async () => {
    assertBuilt();
    redis = await connectTestRedis();
  });
  afterAll(() => redis.disconnect());

  it('finds the first queued and last routed time of a run of any size (a quiet machine queues ~1 M events in the ingest phases)', () => {
    // Math.min(...xs) threw "Maximum call stack size exceeded" at the end of such a run.
    const runs = Array.from({ length: 1_000_000 }, (_, i) => ({ queuedMs: 5_000_000 - i, routedMs: 6_000_000 + (i % 7_919) }));
    expect(extreme(runs, (r) => r.queuedMs, -1)).toBe(4_000_001);
    expect(extreme(runs, (r) => r.routedMs, 1)).toBe(6_007_918);
    expect(extreme([], (x: number) => x, 1)).toBe(-Infinity);
  });

  it('starts its own pipeline (index-worker included), measures every phase, prints JSON, and removes its prefix and schema', async () => {
    const r = await runCli(['bench', '--duration', '1', '--rate', '50', '--connections', '4', '--batch-size', '20', '--json', '--no-progress', '--database-url', PG_URL], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout) as BenchResult;
    expect(res.run_id).toMatch(/^bench-/);
    expect(res.ingest_single.requests).toBeGreaterThan(0);
    expect(res.ingest_single.errors).toBe(0);
    expect(res.ingest_batch.events).toBe(res.ingest_batch.requests * 20);
    // Every event of the ingest phases was screened and routed.
    expect(res.screening?.events).toBe(res.ingest_single.requests + res.ingest_batch.events);
    expect(res.screening!.observed).toBeGreaterThan(0);
    expect(res.screening!.observed).toBeLessThanOrEqual(res.screening!.events);
    expect(res.screening!.events_per_s).toBeGreaterThan(0);
    expect(res.end_to_end.sent).toBeGreaterThanOrEqual(40);
    expect(res.end_to_end.queued_to_routed?.n).toBe(res.end_to_end.sent);
    const l = res.end_to_end.queued_to_routed!;
    expect(l.p50_ms).toBeLessThanOrEqual(l.p95_ms);
    expect(l.p95_ms).toBeLessThanOrEqual(l.p99_ms);
    expect(res.indexing!.events).toBeGreaterThan(0);
    expect(res.indexing!.events_per_s).toBeGreaterThan(0);
    // Only escalations are indexed: some, not all, of the end-to-end events.
    expect(res.end_to_end.queued_to_indexed!.n).toBeGreaterThan(0);
    expect(res.end_to_end.queued_to_indexed!.n).toBeLessThan(res.end_to_end.sent);
    expect(res.end_to_end.queued_to_indexed!.p50_ms).toBeGreaterThan(0);
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    const { rows } = await db.query('SELECT count(*)::int AS n FROM information_schema.schemata WHERE schema_name LIKE $1', [`bench_${res.run_id.replace(/[^a-z0-9]/g, '_')}`]);
    await db.end();
    expect(rows[0].n).toBe(0);
    const keys = createKeys({ prefix: `bench:${res.run_id}:` });
    expect(await redis.exists(keys.streams.raw, keys.streams.lowRisk, keys.streams.reasoning)).toBe(0);
  }, 150_000);

  it('percentiles, the table and the progress bar', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 99)).toBe(99);
    expect(summarize(v)).toEqual({ n: 100, p50_ms: 50, p95_ms: 95, p99_ms: 99, max_ms: 100 });
    expect(summarize([])).toBeNull();
    const res: BenchResult = {
      run_id: 'bench-x',
      settings: { rate: 100, duration_s: 5, connections: 8, batch_size: 100 },
      ingest_single: { requests: 1000, errors: 0, req_per_s: 2000, p50_ms: 3.2, p99_ms: 12 },
      ingest_batch: { requests: 50, events: 5000, errors: 0, req_per_s: 10, events_per_s: 1000, p50_ms: 80, p99_ms: 150 },
      screening: { events: 6000, observed: 6000, events_per_s: 3000, seconds: 2 },
      indexing: null,
      end_to_end: { sent: 500, achieved_rate: 100, queued_to_routed: { n: 500, p50_ms: 4, p95_ms: 9, p99_ms: 15, max_ms: 20 }, queued_to_indexed: null },
      notes: ['a note'],
    };
    const t = formatBench(res);
    expect(t).toMatch(/ingest, single event\s+2,000 req\/s\s+3\.2\s+12\.0/);
    expect(t).toMatch(/queued → routed at 100\/s\s+500 events\s+4\.0\s+9\.0\s+15\.0/);
    expect(t).toMatch(/indexing\s+not measured/);
    expect(t).toContain('note: a note');
    expect(progressLine({ phase: 'ingest single', fraction: 0.5, detail: '10 requests' }, 10)).toBe(`[█████░░░░░] ${'ingest single'.padEnd(34)} 10 requests`);
  });
});
