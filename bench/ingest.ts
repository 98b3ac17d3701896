/**
 * bench:ingest — single-event and batch ingestion through `riskpipe serve-ingest`, next to a
 * minimal Fastify server that only parses the same JSON and XADDs it (the floor on this machine).
 * Both servers run as child processes; autocannon drives them from this process.
 *
 *   npm run bench:ingest [-- --duration-s 10 --connections 50 --batch-size 100 --rounds 3 --workers 1,2 --baseline DIR]
 *
 * Aims (issue 13): single-event ingest >= 0.8x the floor at p99 < 10 ms (50 connections); batch
 * >= 0.7x the floor. Each figure is printed with its ratio to the floor of the same round;
 * `--workers 1,2` also runs `serve-ingest --workers 2` and prints the scaling. `--baseline DIR`
 * also runs the `serve-ingest` of another built checkout (e.g. the commit before a change, from
 * `git archive`) in the same rounds, so a before/after is measured against the same floor.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    'duration-s': { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    'batch-size': { type: 'string', default: '100' },
    'batch-connections': { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});
const durationS = Number(args['duration-s']);
const connections = Number(args.connections);
const batchSize = Number(args['batch-size']);
const batchConnections = Number(args['batch-connections']);
const rounds = Number(args.rounds);
const workerCounts = args.workers!.split(',').map(Number);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench:ingest:${process.pid}:`;

const PHRASES = [
  'anyone up for ranked tonight?',
  'gg that last round was close',
  'check the pinned message for the schedule',
  'lol my connection died again',
  'does anyone know when the patch drops',
  'thanks for the help earlier, it worked',
  'free nitro here: discord-gift.example/claim',
  'nobody here would miss you if you left',
];
const PLATFORMS = ['discord', 'slack', 'twitch'];
let seq = 0;
/** One unique event as JSON text; built by concatenation so the load generator stays cheap. */
function eventJson(): string {
  const n = seq++;
  return (
    `{"event_id":"bench-${process.pid}-${n}","event_type":"message_created","platform":"${PLATFORMS[n % 3]}",` +
    `"channel_id":"chan-${n % 50}","user_id":"user-${n % 1000}","author_id":"author-${n % 5000}",` +
    `"content":${JSON.stringify(`${PHRASES[n % PHRASES.length]} #${n}`)},"created_at":"2026-11-23T10:00:00Z",` +
    `"metadata":{"user_reputation":0.8,"account_age_days":120}}`
  );
}

async function waitHealthy(url: string, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}

interface Row {
  server: string;
  mode: string;
  reqPerS: number;
  eventsPerS: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** CPU time per event of the server process and of Redis (the whole server) while it was driven: steadier than events/s on a shared machine. */
  serverCpuUs: number;
  redisCpuUs: number;
}

/** CPU seconds (user + system) of a process so far, from /proc (Linux); NaN elsewhere. */
function processCpuS(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

async function redisCpuS(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
  return get('used_cpu_user') + get('used_cpu_sys');
}

async function drive(server: string, mode: 'single' | 'batch', base: string, pid: number | undefined, redis: Redis): Promise<Row> {
  const perRequest = mode === 'single' ? 1 : batchSize;
  const cpu0 = processCpuS(pid);
  const redis0 = await redisCpuS(redis);
  const result = await autocannon({
    url: base,
    connections: mode === 'single' ? connections : batchConnections,
    duration: durationS,
    requests: [
      {
        method: 'POST',
        path: mode === 'single' ? '/v1/events/ingest' : '/v1/events/ingest-batch',
        headers: { 'content-type': 'application/json', 'api-key': 'bench-key-123456' },
        setupRequest: (req) => ({
          ...req,
          body: mode === 'single' ? eventJson() : `{"events":[${Array.from({ length: perRequest }, eventJson).join(',')}]}`,
        }),
      },
    ],
  });
  const ok = result.requests.total - result.non2xx;
  const cpuUs = (s: number) => (s * 1e6) / Math.max(1, result.requests.total * perRequest);
  const serverCpuUs = cpuUs(processCpuS(pid) - cpu0);
  const redisCpuUs = cpuUs((await redisCpuS(redis)) - redis0);
  return {
    server,
    mode: mode === 'single' ? 'single event' : `batch of ${perRequest}`,
    reqPerS: ok / durationS,
    eventsPerS: (ok * perRequest) / durationS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    serverCpuUs,
    redisCpuUs,
  };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

function startRiskpipe(port: number, workers: number, dir = '.', prefix = PREFIX): ChildProcess {
  // riskpipe serve-ingest, built (npm run build) and started as a user would.
  return spawn(
    process.execPath,
    [`${dir}/bin/riskpipe`, 'serve-ingest', '--port', String(port), '--host', '127.0.0.1', '--prefix', prefix, '--max-queue-depth', '100000000', '--log-level', 'warn', '--workers', String(workers)],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RISKPIPE_API_KEYS: 'bench-key-123456', REDIS_URL } },
  );
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const clean = async () => {
    const keys = await redis.keys(`${PREFIX}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  };
  // Every server runs for the whole bench; rounds alternate their order, so the machine's load
  // (shared here) falls on each alike, and each figure is compared with the floor of its round.
  const servers: { name: string; port: number; proc: ChildProcess }[] = [];
  const runs: Record<string, Row[]> = {};
  try {
    const minimal = fork(new URL('./minimal-server.mjs', import.meta.url), ['18101', `${PREFIX}minimal:events:raw`], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      minimal.once('message', () => resolve());
      minimal.once('exit', (c) => reject(new Error(`minimal server exited ${c}`)));
    });
    servers.push({ name: 'floor', port: 18101, proc: minimal });
    for (const w of workerCounts) {
      const port = 18102 + w;
      const proc = startRiskpipe(port, w);
      await waitHealthy(`http://127.0.0.1:${port}/health`, proc);
      servers.push({ name: `riskpipe --workers ${w}`, port, proc });
    }
    if (args.baseline) {
      const port = 18100;
      const proc = startRiskpipe(port, 1, args.baseline, `${PREFIX}baseline:`);
      await waitHealthy(`http://127.0.0.1:${port}/health`, proc);
      servers.push({ name: 'baseline --workers 1', port, proc });
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['single', 'batch'] as const) {
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const s of order) {
          // With --workers > 1 the process is a supervisor: its workers' CPU is not counted (NaN).
          const row = await drive(s.name, mode, `http://127.0.0.1:${s.port}`, /--workers (?!1$)/.test(s.name) ? undefined : s.proc.pid, redis);
          (runs[`${s.name}|${mode}`] ??= []).push(row);
        }
      }
      await clean();
    }
  } finally {
    for (const s of servers) await stop(s.proc);
    await clean();
    redis.disconnect();
  }

  const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  const summary: Record<string, unknown>[] = [];
  console.log(`\nbench:ingest on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${rounds} alternating rounds of ${durationS} s, medians`);
  console.log(`single: ${connections} connections; batch: ${batchSize} events a request, ${batchConnections} connections\n`);
  console.log('| server | mode | events/s | ratio to the floor (same round) | aim | p50 ms | p99 ms (aim < 10 single) | non-2xx | server CPU µs/event | Redis CPU µs/event |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const mode of ['single', 'batch'] as const) {
    const floor = runs[`floor|${mode}`]!;
    for (const s of servers) {
      const rows = runs[`${s.name}|${mode}`]!;
      const ratios = rows.map((r, i) => r.eventsPerS / floor[i]!.eventsPerS);
      const aim = s.name === 'floor' ? '' : mode === 'single' ? '≥ 0.80' : '≥ 0.70';
      const row = { server: s.name, mode: rows[0]!.mode, eventsPerS: median(rows.map((r) => r.eventsPerS)), ratio: median(ratios), ratios, p50Ms: median(rows.map((r) => r.p50Ms)), p99Ms: median(rows.map((r) => r.p99Ms)), non2xx: rows.reduce((a, r) => a + r.non2xx, 0), serverCpuUs: median(rows.map((r) => r.serverCpuUs)), redisCpuUs: median(rows.map((r) => r.redisCpuUs)) };
      summary.push(row);
      console.log(`| ${row.server} | ${row.mode} | ${f(row.eventsPerS)} | ${s.name === 'floor' ? '1' : `${row.ratio.toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(', ')})`} | ${aim} | ${row.p50Ms} | ${row.p99Ms} | ${row.non2xx} | ${Number.isNaN(row.serverCpuUs) ? "— (supervisor; workers not counted)" : row.serverCpuUs.toFixed(0)} | ${row.redisCpuUs.toFixed(1)} |`);
    }
  }
  if (workerCounts.length > 1) {
    for (const mode of ['single', 'batch'] as const) {
      const one = runs[`riskpipe --workers ${workerCounts[0]}|${mode}`]!;
      for (const w of workerCounts.slice(1)) {
        const more = runs[`riskpipe --workers ${w}|${mode}`]!;
        const sc = median(more.map((r, i) => r.eventsPerS / one[i]!.eventsPerS));
        console.log(`scaling ${mode}: --workers ${w} / --workers ${workerCounts[0]} = ${sc.toFixed(2)} (same rounds)`);
      }
    }
  }
  if (args.json) console.log(JSON.stringify({ rows: summary }, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
