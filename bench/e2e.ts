/**
 * bench:e2e — the real commands end to end: `riskpipe serve-ingest` and `riskpipe screen-worker`
 * (built, started as a user would, on a private key prefix of the Redis at REDIS_URL).
 *
 *   1. latency: events sent over HTTP at --rate events/s (batches of --batch every 1000·batch/rate
 *      ms) for --duration-s; queued → routed per event = the routed entry's stream time minus the
 *      raw entry's (source_id), both Redis clocks. p50 / p99 / max, and the p99's ratio to the
 *      50 ms aim. RSS of both commands sampled every second (aims: ingest < 150 MB).
 *   1b. queued → indexed (with --database-url, default the local test database): the same load with
 *      an `index-worker` too (its own Postgres schema and data dir, removed afterwards); per
 *      escalated event, Postgres' indexed_at minus the raw entry's stream time (one clock: both
 *      servers run here).
 *   2. scaling (--drain N): N events pre-filled into events:raw, then `screen-worker --workers W`
 *      for each W of --workers, timed until all are routed; events/s and the ratio to W = first.
 *
 *   npm run bench:e2e [-- --rate 1000 --duration-s 20 --warmup-s 3 --steady-after-s 10 --batch 10 --block-ms 2000 --drain 20000 --workers 1,2]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { groupState } from '../src/ops/bench.js';

const { values: a } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    'duration-s': { type: 'string', default: '20' },
    batch: { type: 'string', default: '10' },
    'block-ms': { type: 'string', default: '2000' },
    'batch-size': { type: 'string', default: '64' },
    drain: { type: 'string', default: '20000' },
    workers: { type: 'string', default: '1,2' },
    'skip-latency': { type: 'boolean', default: false },
    'warmup-s': { type: 'string', default: '3' },
    'steady-after-s': { type: 'string', default: '10' },
    'screen-workers': { type: 'string', default: '1' },
    // queued → indexed: a second phase with an index-worker storing into Postgres ('' skips it).
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const rate = Number(a.rate);
const durationS = Number(a['duration-s']);
const batch = Number(a.batch);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench:e2e:${process.pid}:`;
const INGEST_PORT = 18201;
const SCREEN_PORT = 18202;
const INDEX_PORT = 18203;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

const PHRASES = [
  'anyone up for ranked tonight?',
  'gg that last round was close',
  'check the pinned message for the schedule',
  'free nitro here: discord-gift.example/claim',
  'nobody here would miss you if you left',
  'i know where you live and i will find you',
  'thanks for the help earlier, it worked',
  'buy cheap followers now!!! limited offer',
];
let seq = 0;
function event(): Record<string, unknown> {
  const n = seq++;
  return {
    event_id: `e2e-${process.pid}-${n}`,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: `chan-${n % 20}`,
    user_id: `user-${n % 500}`,
    author_id: `author-${n % 2000}`,
    content: `${PHRASES[n % PHRASES.length]} #${n}`,
    created_at: new Date().toISOString(),
    metadata: { user_reputation: 0.7 },
  };
}

function cli(args: string[]): ChildProcess {
  return spawn(process.execPath, ['bin/riskpipe', ...args, '--prefix', PREFIX, '--host', '127.0.0.1', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, REDIS_URL, RISKPIPE_API_KEYS: '' } });
}

/** RSS in MB of a process and its children (the workers of --workers). */
function rssMb(pid: number): number {
  const pids = [pid];
  try {
    for (const line of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) if (line) pids.push(Number(line));
  } catch {
    /* gone */
  }
  let kb = 0;
  for (const p of pids) {
    try {
      const m = readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
      kb += m ? Number(m[1]) : 0;
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

async function waitHttp(url: string, proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${url}: process exited ${proc.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready`);
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  await new Promise<void>((r) => {
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });
}

const ms = (id: string) => Number(id.slice(0, id.indexOf('-')));

async function routed(redis: Redis): Promise<number> {
  return (await redis.xlen(`${PREFIX}events:low_risk`)) + (await redis.xlen(`${PREFIX}events:reasoning_queue`));
}

async function clean(redis: Redis): Promise<void> {
  // Only this run's keys: a private prefix, scanned by pattern.
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

async function latency(redis: Redis): Promise<void> {
  const ingest = cli(['serve-ingest', '--port', String(INGEST_PORT), '--max-queue-depth', '10000000']);
  const screen = cli(['screen-worker', '--port', String(SCREEN_PORT), '--block-ms', a['block-ms']!, '--batch-size', a['batch-size']!, '--workers', a['screen-workers']!]);
  const rss = { ingest: [] as number[], screen: [] as number[] };
  try {
    await waitHttp(`http://127.0.0.1:${INGEST_PORT}/health`, ingest);
    await waitHttp(`http://127.0.0.1:${SCREEN_PORT}/ready`, screen);
    const sampler = setInterval(() => {
      rss.ingest.push(rssMb(ingest.pid!));
      rss.screen.push(rssMb(screen.pid!));
    }, 1000);
    // Warm-up at the same rate (the first batches pay for cold code), then the measured part.
    const t0 = performance.now();
    const { sent, failed, loadStartMs } = await sendAtRate();
    const sendS = (performance.now() - t0) / 1000;
    const measuredFrom = loadStartMs + Number(a['warmup-s']) * 1000;
    const deadline = Date.now() + 60_000;
    while ((await routed(redis)) < sent - failed && Date.now() < deadline) await sleep(200);
    clearInterval(sampler);
    const lat: number[] = [];
    // Events queued once the worker has run --steady-after-s under load: the heap and the caches
    // have grown to their working size (the first seconds after a cold start pay for that).
    const steadyFrom = loadStartMs + Number(a['steady-after-s']) * 1000;
    const steady: number[] = [];
    for (const s of ['events:low_risk', 'events:reasoning_queue']) {
      let start = '-';
      for (;;) {
        const rows = (await redis.xrange(`${PREFIX}${s}`, start, '+', 'COUNT', 5000)) as [string, string[]][];
        for (const [id, f] of rows) {
          const src = f[f.indexOf('source_id') + 1];
          if (src && ms(src) >= measuredFrom) lat.push(ms(id) - ms(src));
          if (src && ms(src) >= steadyFrom) steady.push(ms(id) - ms(src));
        }
        if (rows.length < 5000) break;
        start = `(${rows[rows.length - 1]![0]}`;
      }
    }
    lat.sort((x, y) => x - y);
    steady.sort((x, y) => x - y);
    const p99 = pct(lat, 0.99);
    console.log(`latency: ${sent} events at ${(sent / sendS).toFixed(0)} events/s (aim ${rate}), ${failed} not accepted; ${lat.length} measured after a ${a['warmup-s']} s warm-up; block-ms ${a['block-ms']}, batch-size ${a['batch-size']}`);
    console.log(`| queued → routed | p50 ms | p99 ms | max ms | p99 / 50 ms aim |`);
    console.log(`|---|---:|---:|---:|---:|`);
    console.log(`| screen-worker --workers ${a['screen-workers']}, every event after the warm-up (${lat.length}) | ${pct(lat, 0.5)} | ${p99} | ${lat[lat.length - 1]} | ${(p99 / 50).toFixed(2)} |`);
    if (steady.length > 0) console.log(`| the same, events queued ${a['steady-after-s']} s or more after the load began (${steady.length}) | ${pct(steady, 0.5)} | ${pct(steady, 0.99)} | ${steady[steady.length - 1]} | ${(pct(steady, 0.99) / 50).toFixed(2)} |`);
    const mx = (xs: number[]) => Math.max(...xs);
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    console.log(`RSS under load: serve-ingest median ${med(rss.ingest).toFixed(0)} MB, max ${mx(rss.ingest).toFixed(0)} MB (max / 150 MB aim = ${(mx(rss.ingest) / 150).toFixed(2)}); screen-worker median ${med(rss.screen).toFixed(0)} MB, max ${mx(rss.screen).toFixed(0)} MB (max / 400 MB = ${(mx(rss.screen) / 400).toFixed(2)}; kNN on the hash embedder, the classifier with its word vectors loaded)`);
  } finally {
    await stop(ingest);
    await stop(screen);
  }
}

/** Sends --rate events/s for --warmup-s + --duration-s in batches of --batch; the raw stream time (ms) of each queued event by id. */
async function sendAtRate(): Promise<{ queuedMs: Map<string, number>; sent: number; failed: number; loadStartMs: number }> {
  const intervalMs = (1000 * batch) / rate;
  const total = Math.round(rate * (Number(a['warmup-s']) + durationS));
  const queuedMs = new Map<string, number>();
  let sent = 0;
  let failed = 0;
  const loadStartMs = Date.now();
  const t0 = performance.now();
  const inflight = new Set<Promise<void>>();
  while (sent < total) {
    const wait = t0 + (sent / batch) * intervalMs - performance.now();
    if (wait > 0) await sleep(wait);
    const events = Array.from({ length: batch }, event);
    sent += batch;
    const p = fetch(`http://127.0.0.1:${INGEST_PORT}/v1/events/ingest-batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) })
      .then(async (r) => {
        const body = (await r.json()) as { results?: { event_id: string; stream_id?: string | null }[] };
        if (r.status !== 200) failed += batch;
        for (const x of body.results ?? []) if (x.stream_id) queuedMs.set(x.event_id, ms(x.stream_id));
      })
      .catch(() => {
        failed += batch;
      })
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }
  await Promise.all(inflight);
  return { queuedMs, sent, failed, loadStartMs };
}

/** Lag + pending of a consumer group, or null while it does not exist. */
async function groupBacklog(redis: Redis, stream: string, group: string): Promise<number | null> {
  const g = await groupState(redis, `${PREFIX}${stream}`, group);
  return g ? (g.lag ?? 0) + g.pending : null;
}

/** Phase 1b: queued → indexed for the escalated events, with an index-worker storing into Postgres. */
async function indexedLatency(redis: Redis, databaseUrl: string): Promise<void> {
  await clean(redis);
  const schema = `bench_e2e_${process.pid}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'rp-bench-e2e-'));
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const ingest = cli(['serve-ingest', '--port', String(INGEST_PORT), '--max-queue-depth', '10000000']);
  const screen = cli(['screen-worker', '--port', String(SCREEN_PORT), '--block-ms', a['block-ms']!, '--batch-size', a['batch-size']!, '--workers', a['screen-workers']!]);
  const index = cli(['index-worker', '--port', String(INDEX_PORT), '--database-url', databaseUrl, '--db-schema', schema, '--data-dir', dataDir, '--block-ms', a['block-ms']!]);
  try {
    await waitHttp(`http://127.0.0.1:${INGEST_PORT}/health`, ingest);
    await waitHttp(`http://127.0.0.1:${SCREEN_PORT}/ready`, screen);
    await waitHttp(`http://127.0.0.1:${INDEX_PORT}/ready`, index);
    const { queuedMs, sent, failed, loadStartMs } = await sendAtRate();
    // Until both groups have read and settled everything (the index worker deletes what it stored).
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const raw = await groupBacklog(redis, 'events:raw', 'risk-screening');
      const rq = await groupBacklog(redis, 'events:reasoning_queue', 'indexing');
      if (raw === 0 && rq === 0) break;
      await sleep(200);
    }
    const { rows } = await db.query<{ event_id: string; ms: number }>(`SELECT event_id, extract(epoch FROM indexed_at) * 1000 AS ms FROM ${schema}.events WHERE indexed_at IS NOT NULL`);
    const measuredFrom = loadStartMs + Number(a['warmup-s']) * 1000;
    const steadyFrom = loadStartMs + Number(a['steady-after-s']) * 1000;
    const lat: number[] = [];
    const steady: number[] = [];
    for (const r of rows) {
      const q = queuedMs.get(r.event_id);
      if (q === undefined || q < measuredFrom) continue;
      const l = Math.round(Number(r.ms) - q);
      lat.push(l);
      if (q >= steadyFrom) steady.push(l);
    }
    lat.sort((x, y) => x - y);
    steady.sort((x, y) => x - y);
    console.log(`\nindexed: ${sent} events sent (${failed} not accepted) with an index-worker (Postgres schema ${schema}, embedded vector index); ${rows.length} escalated events stored, ${lat.length} of them queued after the warm-up`);
    console.log(`| queued → indexed (escalated events) | p50 ms | p99 ms | max ms | p99 / 50 ms aim |`);
    console.log(`|---|---:|---:|---:|---:|`);
    if (lat.length > 0) console.log(`| every escalated event after the warm-up (${lat.length}) | ${pct(lat, 0.5)} | ${pct(lat, 0.99)} | ${lat[lat.length - 1]} | ${(pct(lat, 0.99) / 50).toFixed(2)} |`);
    if (steady.length > 0) console.log(`| those queued ${a['steady-after-s']} s or more after the load began (${steady.length}) | ${pct(steady, 0.5)} | ${pct(steady, 0.99)} | ${steady[steady.length - 1]} | ${(pct(steady, 0.99) / 50).toFixed(2)} |`);
  } finally {
    await stop(ingest);
    await stop(screen);
    await stop(index);
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
    await db.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function drain(redis: Redis, n: number, workers: number): Promise<number> {
  await clean(redis);
  const raw = `${PREFIX}events:raw`;
  for (let i = 0; i < n; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const e = event();
      p.xadd(raw, '*', 'v', '1', 'event_id', String(e.event_id), 'event', JSON.stringify(e), 'ingested_at', new Date().toISOString(), 'batch_id', '', 'traceparent', '');
    }
    await p.exec();
  }
  const screen = cli(['screen-worker', '--port', String(SCREEN_PORT), '--workers', String(workers), '--block-ms', '200', '--batch-size', a['batch-size']!]);
  try {
    // Wait until every worker is in the group (each has read at least once) before timing would be
    // fairer, but loading is part of what a user waits for too: time from the first routed entry.
    let t0 = 0;
    const deadline = Date.now() + 600_000;
    for (;;) {
      const r = await routed(redis);
      if (r > 0 && t0 === 0) t0 = performance.now();
      if (r >= n || Date.now() > deadline) break;
      await sleep(50);
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await stop(screen);
  }
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  console.log(`bench:e2e on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
  try {
    if (!a['skip-latency']) await latency(redis);
    if (!a['skip-latency'] && a['database-url']) await indexedLatency(redis, a['database-url']);
    const n = Number(a.drain);
    const ws = a.workers!.split(',').map(Number);
    if (n > 0) {
      const rates: Record<number, number[]> = {};
      // Alternating order, two rounds: the machine's other load falls on each alike.
      for (let round = 0; round < 2; round++) for (const w of round % 2 ? [...ws].reverse() : ws) (rates[w] ??= []).push(await drain(redis, n, w));
      console.log(`\nscaling: screen-worker draining ${n} pre-filled events (hash embedder), 2 alternating rounds`);
      console.log('| --workers | events/s (each round) | ratio to --workers ' + ws[0] + ' (same round) |');
      console.log('|---:|---:|---:|');
      for (const w of ws) console.log(`| ${w} | ${rates[w]!.map((r) => r.toFixed(0)).join(', ')} | ${rates[w]!.map((r, i) => (r / rates[ws[0]!]![i]!).toFixed(2)).join(', ')} |`);
    }
  } finally {
    await clean(redis);
    redis.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
