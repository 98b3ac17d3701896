/**
 * bench:ingest — single-event and batch ingestion through `riskpipe serve-ingest`, next to a
 * minimal Fastify server that only parses the same JSON and XADDs it (the floor on this machine).
 * Both servers run as child processes; autocannon drives them from this process.
 *
 *   npm run bench:ingest [-- --duration-s 10 --connections 32 --batch-size 500]
 *
 * Aims (issue 2): single-event ingest >= 0.8x the minimal server; batch >= 70000 events/s.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

const { values: args } = parseArgs({
  options: {
    'duration-s': { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    'batch-size': { type: 'string', default: '500' },
    'batch-connections': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const durationS = Number(args['duration-s']);
const connections = Number(args.connections);
const batchSize = Number(args['batch-size']);
const batchConnections = Number(args['batch-connections']);
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
}

async function drive(server: string, mode: 'single' | 'batch', base: string): Promise<Row> {
  const perRequest = mode === 'single' ? 1 : batchSize;
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
  return {
    server,
    mode: mode === 'single' ? 'single event' : `batch of ${perRequest}`,
    reqPerS: ok / durationS,
    eventsPerS: (ok * perRequest) / durationS,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
  };
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const rows: Row[] = [];
  const clean = async () => {
    const keys = await redis.keys(`${PREFIX}*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
  };
  try {
    for (const mode of ['single', 'batch'] as const) {
      // The floor: minimal Fastify + XADD.
      const minimal = fork(new URL('./minimal-server.mjs', import.meta.url), ['8101', `${PREFIX}minimal:events:raw`], { stdio: 'ignore' });
      await new Promise<void>((resolve, reject) => {
        minimal.once('message', () => resolve());
        minimal.once('exit', (c) => reject(new Error(`minimal server exited ${c}`)));
      });
      rows.push(await drive('minimal fastify + XADD', mode, 'http://127.0.0.1:8101'));
      await stop(minimal);
      await clean();

      // riskpipe serve-ingest, built (npm run build) and started as a user would.
      const rp = spawn(
        process.execPath,
        ['bin/riskpipe', 'serve-ingest', '--port', '8102', '--host', '127.0.0.1', '--prefix', PREFIX, '--max-queue-depth', '100000000', '--log-level', 'warn'],
        { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, RISKPIPE_API_KEYS: 'bench-key-123456', REDIS_URL } },
      );
      await waitHealthy('http://127.0.0.1:8102/health', rp);
      rows.push(await drive('riskpipe serve-ingest', mode, 'http://127.0.0.1:8102'));
      await stop(rp);
      await clean();
    }
  } finally {
    await clean();
    redis.disconnect();
  }

  const single = rows.filter((r) => r.mode === 'single event');
  const batch = rows.filter((r) => r.mode !== 'single event');
  const singleRatio = single[1].reqPerS / single[0].reqPerS;
  const batchRatio = batch[1].eventsPerS / batch[0].eventsPerS;
  if (args.json) {
    console.log(JSON.stringify({ rows, singleRatio, batchRatio }, null, 2));
    return;
  }
  const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log(`\nbench:ingest on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${durationS}s per run\n`);
  console.log('| server | mode | req/s | events/s | p50 ms | p99 ms | non-2xx |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.server} | ${r.mode} | ${f(r.reqPerS)} | ${f(r.eventsPerS)} | ${r.p50Ms} | ${r.p99Ms} | ${r.non2xx} |`);
  console.log(`\nsingle-event ratio riskpipe / minimal: ${singleRatio.toFixed(2)} (aim >= 0.80)`);
  console.log(`batch events/s: ${f(batch[1].eventsPerS)} (aim >= 70,000); ratio to minimal ${batchRatio.toFixed(2)}`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
