/**
 * screen-profile — one screen worker draining `--events` bench:screen messages through Redis,
 * nothing else in the process: run it under `node --cpu-prof --import tsx` and summarise the
 * profile with bench/cpuprofile-top.mjs. Prints events/s and CPU µs per event. `--memory` runs the
 * same worker on the in-process bus instead (no Redis client in the process).
 *
 *   REDIS_URL=redis://127.0.0.1:6391 node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/screen-profile.ts -- --events 20000
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { deleteKeysByPrefix } from '../src/common/redis.js';
import { silentLogger } from '../src/common/logger.js';
import { traceparentFor } from '../src/common/trace.js';
import { STREAM_SCHEMA_VERSION } from '../src/models/index.js';
import { loadScreener } from '../src/cli/commands/screen.js';
import { streamNames } from '../src/stream/keys.js';
import { RedisBus } from '../src/stream/redis/bus.js';
import { MemoryBus } from '../src/stream/memory/bus.js';
import type { Bus } from '../src/stream/index.js';
import { ScreenWorker } from '../src/screen/worker.js';
import { event, settled } from './screen-events.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '20000' }, 'batch-size': { type: 'string', default: '64' }, concurrency: { type: 'string', default: '2' }, memory: { type: 'boolean', default: false } } });
const n = Number(args.events);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const admin = new Redis(REDIS_URL);
const prefix = `bench:screen-profile:${process.pid}:`;
const { screener, threshold, learnMaxSimilarity } = await loadScreener({ embedder: 'hash', modelDir: undefined, threshold: undefined, neighbors: 'always', classifier: undefined }, silentLogger);
// Warm the scorer up first (JIT), on texts the run does not use.
await screener.screenBatch(Array.from({ length: 2000 }, (_, i) => ({ event: event(10_000_000 + i) })));
const now = new Date().toISOString();
const fieldsOf = (i: number) => {
  const e = event(i);
  return { v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: JSON.stringify(e), ingested_at: now, batch_id: 'bench', traceparent: traceparentFor() };
};
// --memory: the in-process bus (same contract), to tell the Redis client's share from the worker's own.
let bus: Bus;
if (args.memory) {
  const mem = MemoryBus.open({ prefix });
  for (let start = 0; start < n; start += 2000) {
    const items = Array.from({ length: Math.min(2000, n - start) }, (_, k) => {
      const f = fieldsOf(start + k);
      return { eventId: f.event_id, contentHash: f.event_id, fields: f };
    });
    await mem.append('raw', items, { maxDepth: n + 1, dedupWindowS: 60 });
  }
  bus = mem;
} else {
  const raw = streamNames(prefix).raw;
  for (let start = 0; start < n; start += 2000) {
    const p = admin.pipeline();
    for (let i = start; i < Math.min(n, start + 2000); i++) p.xadd(raw, '*', ...Object.entries(fieldsOf(i)).flat());
    await p.exec();
  }
  bus = RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
}
const worker = new ScreenWorker({ bus, screener, threshold, learnMaxSimilarity, batchSize: Number(args['batch-size']), concurrency: Number(args.concurrency), blockMs: 50 });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await worker.start();
await settled(worker, n);
const s = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
console.log(`${n} events in ${s.toFixed(2)} s: ${Math.round(n / s)} events/s, CPU ${((cpu.user + cpu.system) / n).toFixed(1)} µs/event, RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
await worker.close();
await bus.close();
await screener.close();
if (!args.memory) await deleteKeysByPrefix(admin, prefix);
admin.disconnect();
