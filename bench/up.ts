/*
 * Figures of `riskpipe up` for the README, measured from outside with the real binary:
 *   - start-up time (to the banner), on a fresh data directory and on a warm one;
 *   - RSS after the 40 examples went through;
 *   - events/s end to end: --events unique events (the examples' texts, numbered) posted in
 *     batches of 500, four requests in flight, until every batch reports completed (screened,
 *     and escalated ones indexed); RSS after that.
 * Usage: npm run build && npx tsx bench/up.ts [--events 20000]   (REDIS_URL / DATABASE_URL pass through)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

const ROOT = new URL('../', import.meta.url).pathname;
const argv = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const EVENTS = arg('events', 20_000);

const freePort = () =>
  new Promise<number>((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => ok(p));
    });
  });
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(dataDir: string, port: number) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin/riskpipe'), 'up', '--data-dir', dataDir, '--port', String(port)], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  while (!out.includes('riskpipe up: ')) {
    if (child.exitCode !== null) throw new Error(out);
    await sleep(10);
  }
  return { child, ms: performance.now() - t0, url: `http://127.0.0.1:${port}` };
}
const stop = (c: ReturnType<typeof spawn>) => new Promise<void>((ok) => (c.once('exit', () => ok()), c.kill('SIGTERM')));

async function completeAll(url: string, ids: string[]) {
  for (const id of ids) {
    for (;;) {
      const s = (await (await fetch(`${url}/v1/batches/${id}`)).json()) as { completed: boolean };
      if (s.completed) break;
      await sleep(50);
    }
  }
}

async function post(url: string, events: unknown[]): Promise<string> {
  for (;;) {
    const res = await fetch(`${url}/v1/events/ingest-batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
    if (res.status === 503) {
      await sleep(200);
      continue;
    }
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return ((await res.json()) as { batch_id: string }).batch_id;
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'rp-bench-up-'));
try {
  const port = await freePort();
  const examples = readFileSync(join(ROOT, 'examples/events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

  const cold = await start(dataDir, port);
  await stop(cold.child);
  let up = await start(dataDir, port);
  const warmMs = up.ms;
  const rssIdle = rssMb(up.child.pid!);
  const first = await post(up.url, examples);
  await completeAll(up.url, [first]);
  const rssExamples = rssMb(up.child.pid!);

  const tag = Date.now().toString(36);
  const events = Array.from({ length: EVENTS }, (_, i) => {
    const ex = examples[i % examples.length];
    return { ...ex, event_id: `b-${tag}-${i}`, content: `${ex.content} (${i})`, created_at: undefined };
  });
  const t0 = performance.now();
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < events.length) {
        const chunk = events.slice(next, (next += 500));
        ids.push(await post(up.url, chunk));
      }
    }),
  );
  const ingestS = (performance.now() - t0) / 1000;
  await completeAll(up.url, ids);
  const totalS = (performance.now() - t0) / 1000;
  const stats = await Promise.all(ids.map(async (id) => (await (await fetch(`${up.url}/v1/batches/${id}`)).json()) as { escalated: number }));
  const rssAfter = rssMb(up.child.pid!);
  await stop(up.child);
  up = await start(dataDir, port);
  const restartMs = up.ms;
  await stop(up.child);

  const r = (n: number, d = 0) => n.toFixed(d);
  console.log(
    JSON.stringify(
      {
        bus: process.env.REDIS_URL ? 'redis' : 'in-process',
        store: process.env.DATABASE_URL ? 'postgres' : 'pglite',
        startup_cold_s: r(cold.ms / 1000, 1),
        startup_warm_s: r(warmMs / 1000, 1),
        rss_idle_mb: r(rssIdle),
        rss_after_examples_mb: r(rssExamples),
        events: EVENTS,
        escalated: stats.reduce((n, s) => n + s.escalated, 0),
        ingest_events_per_s: r(EVENTS / ingestS),
        end_to_end_events_per_s: r(EVENTS / totalS),
        end_to_end_s: r(totalS, 1),
        rss_after_run_mb: r(rssAfter),
        restart_after_run_s: r(restartMs / 1000, 1),
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
