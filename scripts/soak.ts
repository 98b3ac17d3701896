/**
 * npm run soak [-- --duration-s 600 --rate 200 --sample-s 10 --screen-workers 1 --drain-s 180 --json]
 *
 * --rate is requests per second; the mix averages ~3.7 events a request (--rate 540 ≈ 2,000
 * events/s). --screen-workers runs `screen-worker --workers N` (RSS is then the sum of its
 * processes).
 *
 * A soak test (not part of `npm test`): a private redis-server (AOF, temp dir), the real
 * `riskpipe serve-ingest` and `riskpipe screen-worker` processes, and a steady mixed load for
 * `--duration-s` (default 600 s = 10 minutes): single events, batches, invalid and hostile bodies
 * (deep JSON, __proto__, oversized metadata), duplicates. Every `--sample-s` it records the RSS of
 * both processes and of Redis, the answers so far and the routed count; at the end it prints the
 * RSS over time, the growth from the first sample after warm-up to the last, and checks that
 * every queued event was routed exactly once. Exit 1 when an answer was a 5xx other than 503,
 * an event was lost or routed twice, or RSS grew more than `--max-growth-pct` (default 50%).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { PrivateRedis, freePort } from '../test/helpers/redis-server.js';
import { streamNames } from '../src/stream/keys.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const DURATION_S = arg('duration-s', 600);
const RATE = arg('rate', 200);
const SAMPLE_S = arg('sample-s', 10);
const MAX_GROWTH_PCT = arg('max-growth-pct', 50);
const SCREEN_WORKERS = arg('screen-workers', 1);
const DRAIN_S = arg('drain-s', 180);
const JSON_OUT = process.argv.includes('--json');
const ROOT = new URL('../', import.meta.url).pathname;
const KEY = 'soak-key-123456789';
const PREFIX = 'soak:';

function rssKb(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** RSS of a process and all its descendants (`--workers N` forks the worker processes). */
function treeRssKb(pid: number | undefined): number {
  if (!pid) return 0;
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* gone */
    }
  }
  let total = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    total += rssKb(p);
    todo.push(...(children.get(p) ?? []));
  }
  return total;
}

function start(args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [`${ROOT}bin/riskpipe`, ...args], { cwd: ROOT, env: { ...process.env, ...env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

async function waitFor(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

let seq = 0;
function event(over: Record<string, unknown> = {}) {
  seq++;
  return {
    event_id: `soak-${seq}`,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: `ch-${seq % 13}`,
    user_id: `u-${seq % 997}`,
    author_id: `a-${seq % 997}`,
    content: seq % 7 === 0 ? `you are pathetic and everyone hates you ${seq}` : `good game everyone, see you tomorrow ${seq}`,
    metadata: { user_reputation: (seq % 10) / 10, account_age_days: seq % 400 },
    ...over,
  };
}

/** One request of the mix; returns its status and the event ids it queued. */
let requestNo = 0;
function nextRequest(): { path: string; body: string } {
  const k = requestNo++ % 20;
  if (k < 12) return { path: '/v1/events/ingest', body: JSON.stringify(event()) };
  if (k < 15) return { path: '/v1/events/ingest-batch', body: JSON.stringify({ events: Array.from({ length: 20 }, () => event()) }) };
  if (k === 15) return { path: '/v1/events/ingest', body: JSON.stringify(event({ metadata: { x: JSON.parse('{"a":'.repeat(40) + '1' + '}'.repeat(40)) } })) };
  if (k === 16) return { path: '/v1/events/ingest', body: '{"__proto__": {"x": 1}, "event_id": "p"}' };
  if (k === 17) return { path: '/v1/events/ingest', body: JSON.stringify(event({ metadata: { blob: 'x'.repeat(20_000) } })) };
  if (k === 18) return { path: '/v1/events/ingest', body: JSON.stringify({ ...event(), event_id: `soak-${Math.max(1, seq - 5)}` }) }; // a duplicate
  return { path: '/v1/events/ingest', body: '{"event_id": "broken' };
}

async function main(): Promise<void> {
  // AOF fsynced once a second: fsync on every write is slower than this disk under load.
  const redis = await PrivateRedis.start({ aof: true, fsync: 'everysec' });
  const ingestPort = await freePort();
  const screenPort = await freePort();
  const env = { REDIS_URL: redis.url, RISKPIPE_PREFIX: PREFIX, RISKPIPE_API_KEYS: KEY };
  const ingest = start(['serve-ingest', '--host', '127.0.0.1', '--port', String(ingestPort)], env);
  const screen = start(['screen-worker', '--host', '127.0.0.1', '--port', String(screenPort), '--neighbors', 'when-evidence', '--trim-interval-ms', '5000', '--workers', String(SCREEN_WORKERS)], env);
  const admin = new Redis(redis.url);
  const stop = async () => {
    ingest.kill('SIGTERM');
    screen.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 3_000));
    for (const c of [ingest, screen]) if (c.exitCode === null) c.kill('SIGKILL');
    admin.disconnect();
    await redis.destroy();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    await waitFor(`http://127.0.0.1:${ingestPort}/health`);
    await waitFor(`http://127.0.0.1:${screenPort}/ready`);
    const statuses = new Map<number, number>();
    const codes = new Map<string, number>();
    const queuedIds = new Set<string>();
    const samples: { t: number; ingestMb: number; screenMb: number; redisMb: number; requests: number; queued: number; routed: number }[] = [];
    const streams = streamNames(PREFIX);
    const routedCount = async () => (await admin.xlen(streams.lowRisk)) + (await admin.xlen(streams.reasoning));
    const t0 = Date.now();
    let requests = 0;
    let inFlight = 0;
    const sample = async () => {
      samples.push({
        t: Math.round((Date.now() - t0) / 1000),
        ingestMb: rssKb(ingest.pid) / 1024,
        screenMb: treeRssKb(screen.pid) / 1024,
        redisMb: rssKb(redis.pid) / 1024,
        requests,
        queued: queuedIds.size,
        routed: await routedCount(),
      });
      const s = samples[samples.length - 1];
      if (!JSON_OUT) console.log(`${String(s.t).padStart(5)} s  ingest ${s.ingestMb.toFixed(1)} MB  screen ${s.screenMb.toFixed(1)} MB  redis ${s.redisMb.toFixed(1)} MB  requests ${s.requests}  queued ${s.queued}  routed ${s.routed}`);
    };
    await sample();
    const sampler = setInterval(() => void sample(), SAMPLE_S * 1000);
    const interval = 1000 / RATE;
    let next = Date.now();
    while (Date.now() - t0 < DURATION_S * 1000) {
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (inFlight > 200) continue; // the server is behind: do not pile up
      const { path, body } = nextRequest();
      requests++;
      inFlight++;
      void fetch(`http://127.0.0.1:${ingestPort}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': KEY }, body })
        .then(async (res) => {
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const b = (await res.json()) as { status?: string; code?: string; event_id?: string; results?: { status: string; event_id: string }[] };
          if (b.code) codes.set(b.code, (codes.get(b.code) ?? 0) + 1);
          if (b.status === 'queued' && b.event_id) queuedIds.add(b.event_id);
          for (const r of b.results ?? []) if (r.status === 'queued') queuedIds.add(r.event_id);
        })
        .catch(() => statuses.set(0, (statuses.get(0) ?? 0) + 1))
        .finally(() => inFlight--);
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 50));
    // Let the worker catch up.
    const loadEnd = Date.now();
    const deadline = loadEnd + DRAIN_S * 1000;
    while ((await routedCount()) < queuedIds.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    const drainS = (Date.now() - loadEnd) / 1000;
    clearInterval(sampler);
    await sample();

    const routed: string[] = [];
    for (const name of [streams.lowRisk, streams.reasoning]) {
      let start = '-';
      for (;;) {
        const batch = await admin.xrange(name, start, '+', 'COUNT', 5000);
        for (const [, f] of batch) routed.push(f[f.indexOf('event_id') + 1]);
        if (batch.length < 5000) break;
        start = `(${batch[batch.length - 1][0]}`;
      }
    }
    const routedSet = new Set(routed);
    const lost = [...queuedIds].filter((id) => !routedSet.has(id)).length;
    const doubled = routed.length - routedSet.size;
    const bad5xx = [...statuses].filter(([s]) => s >= 500 && s !== 503).reduce((n, [, c]) => n + c, 0);
    const warm = samples.find((s) => s.t >= Math.min(60, DURATION_S / 4)) ?? samples[0];
    const last = samples[samples.length - 1];
    const growth = (a: number, b: number) => (a > 0 ? ((b - a) / a) * 100 : 0);
    const summary = {
      duration_s: DURATION_S,
      rate_per_s: RATE,
      screen_workers: SCREEN_WORKERS,
      queued_per_s: Math.round(queuedIds.size / DURATION_S),
      drain_after_load_s: +drainS.toFixed(1),
      requests,
      statuses: Object.fromEntries(statuses),
      error_codes: Object.fromEntries(codes),
      queued: queuedIds.size,
      routed: routed.length,
      lost,
      routed_twice: doubled,
      rss_mb: { warm: { t: warm.t, ingest: +warm.ingestMb.toFixed(1), screen: +warm.screenMb.toFixed(1), redis: +warm.redisMb.toFixed(1) }, end: { t: last.t, ingest: +last.ingestMb.toFixed(1), screen: +last.screenMb.toFixed(1), redis: +last.redisMb.toFixed(1) } },
      rss_growth_pct: { ingest: +growth(warm.ingestMb, last.ingestMb).toFixed(1), screen: +growth(warm.screenMb, last.screenMb).toFixed(1) },
      samples,
    };
    const ok = bad5xx === 0 && lost === 0 && doubled === 0 && summary.rss_growth_pct.ingest <= MAX_GROWTH_PCT && summary.rss_growth_pct.screen <= MAX_GROWTH_PCT;
    if (JSON_OUT) console.log(JSON.stringify({ ok, ...summary }, null, 2));
    else {
      console.log(`\n${summary.queued_per_s} events/s queued over ${DURATION_S} s; the worker${SCREEN_WORKERS > 1 ? 's' : ''} (${SCREEN_WORKERS}) needed ${summary.drain_after_load_s} s after the load to route the rest`);
      console.log(`requests ${requests}, answers ${JSON.stringify(summary.statuses)} ${JSON.stringify(summary.error_codes)}; queued ${queuedIds.size}, routed ${routed.length}, lost ${lost}, routed twice ${doubled}`);
      console.log(`RSS after warm-up (${warm.t} s) → end (${last.t} s): ingest ${warm.ingestMb.toFixed(1)} → ${last.ingestMb.toFixed(1)} MB (${summary.rss_growth_pct.ingest}%), screen ${warm.screenMb.toFixed(1)} → ${last.screenMb.toFixed(1)} MB (${summary.rss_growth_pct.screen}%)`);
      console.log(ok ? 'soak: OK' : 'soak: FAILED');
    }
    process.exitCode = ok ? 0 : 1;
  } finally {
    await stop();
  }
}

await main();
