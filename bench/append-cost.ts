/**
 * bench:append — what the atomic append (src/stream/redis/lua/append.lua: backpressure, dedup
 * check-and-set in the time-bucketed hashes, XADD, batch counters) costs Redis against the
 * floor's pipeline of plain XADDs, without HTTP. Alternating rounds; prints medians, the ratio
 * and Redis' own CPU per event.
 *
 *   npx tsx bench/append-cost.ts [-- --batch 100 --requests 200 --rounds 5]
 */
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createBus } from '../src/stream/index.js';
import type { RedisBus } from '../src/stream/redis/bus.js';

const { values: a } = parseArgs({ options: { batch: { type: 'string', default: '100' }, requests: { type: 'string', default: '200' }, rounds: { type: 'string', default: '5' } } });
const batch = Number(a.batch);
const requests = Number(a.requests);
const rounds = Number(a.rounds);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `bench:append:${process.pid}:`;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

let seq = 0;
const fields = () => {
  const n = seq++;
  const event = `{"event_id":"e-${n}","event_type":"message_created","platform":"discord","channel_id":"c","user_id":"u","author_id":"a-${n % 5000}","content":"anyone up for ranked tonight? #${n}","created_at":"2026-11-23T10:00:00Z","metadata":{}}`;
  return { n, event, f: { v: '1', event_id: `e-${n}`, event, ingested_at: '2026-12-01T10:00:00.000Z', batch_id: 'b', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } };
};

async function main() {
  const redis = new Redis(url);
  const bus = (await createBus({ kind: 'redis', role: 'producer', redisUrl: url, prefix })) as RedisBus;
  const floorStream = `${prefix}floor`;
  const res = { floor: [] as number[], append: [] as number[] };
  // Redis' own CPU per event (main thread), steadier than events/s on a shared machine.
  const cpuUs = { floor: [] as number[], append: [] as number[] };
  const redisCpuS = async () => {
    const info = await redis.info('cpu');
    const get = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
    return get('used_cpu_user_main_thread') + get('used_cpu_sys_main_thread');
  };
  for (let r = 0; r < rounds; r++) {
    for (const which of r % 2 ? (['append', 'floor'] as const) : (['floor', 'append'] as const)) {
      const c0 = await redisCpuS();
      const t0 = process.hrtime.bigint();
      for (let q = 0; q < requests; q++) {
        const items = Array.from({ length: batch }, fields);
        if (which === 'floor') {
          const p = redis.pipeline();
          for (const it of items) p.xadd(floorStream, '*', 'event', it.event);
          await p.exec();
        } else {
          await bus.append('raw', items.map((it) => ({ eventId: it.f.event_id, contentHash: `h${it.n}`, fields: it.f })), { maxDepth: 1e9, dedupWindowS: 60 });
        }
      }
      res[which].push((batch * requests) / (Number(process.hrtime.bigint() - t0) / 1e9));
      cpuUs[which].push((((await redisCpuS()) - c0) * 1e6) / (batch * requests));
    }
    await redis.del(floorStream, bus.names.raw);
  }
  const f = median(res.floor);
  const ap = median(res.append);
  const ratios = res.append.map((x, i) => x / res.floor[i]!);
  console.log(`append.lua vs pipelined XADD, ${batch} events a call, ${requests} calls, ${rounds} alternating rounds (medians)`);
  console.log(`floor (pipeline of XADD): ${f.toFixed(0)} events/s; append.lua: ${ap.toFixed(0)} events/s; ratio to the floor of the same round: median ${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(', ')})`);
  console.log(`Redis main-thread CPU per event: floor ${median(cpuUs.floor).toFixed(2)} µs, append.lua ${median(cpuUs.append).toFixed(2)} µs (medians)`);
  console.log(JSON.stringify({ eventsPerS: res, redisCpuUsPerEvent: cpuUs }));
  // the dedup keys expire after 60 s
  await bus.close();
  redis.disconnect();
}
main();
