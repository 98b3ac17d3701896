/**
 * bench:screen — events/s through `screen-worker` (Redis in, Redis out) next to the raw
 * throughput of its embedder in the same run (the limit the pipeline can approach).
 *
 *   npm run bench:screen [-- --events 20000 --onnx-events 2000 --rounds 3 --batch-size 64 --concurrency 2 --embedders hash,onnx]
 *
 * For each embedder: a prefixed events:raw is pre-filled with realistic, varied messages, one
 * ScreenWorker (the real Screener, composed as `riskpipe screen-worker` composes it) runs until
 * every entry is routed, and the wall time is measured; raw inference is measured right before
 * and after each of `--rounds` runs and medians are reported (other load on a small machine
 * moves ONNX throughput by ±30% from one minute to the next). The ONNX row uses an e5-small-v2-shaped model with random weights made by
 * scripts/make-tiny-model.ts (skipped with a note when that script is absent).
 *
 * Aims (issue): pipeline >= 0.85x raw inference with ONNX; >= 20000 events/s per worker with
 * the hash embedder.
 */
import { deleteKeysByPrefix } from '../src/common/redis.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createConsumerRedis } from '../src/common/redis.js';
import { traceparentFor } from '../src/common/trace.js';
import { STREAM_SCHEMA_VERSION } from '../src/models/index.js';
import { event, message, settled } from './screen-events.js';
import { streamNames } from '../src/stream/keys.js';
import { RedisBus } from '../src/stream/redis/bus.js';
import { createEmbedder } from '../src/embed/index.js';
import type { Embedder } from '../src/screen/types.js';
import { ScreenWorker, type ScreenFn } from '../src/screen/worker.js';
import { loadScreener } from '../src/cli/commands/screen.js';
import { silentLogger } from '../src/common/logger.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    'onnx-events': { type: 'string', default: '2000' },
    'batch-size': { type: 'string', default: '64' },
    concurrency: { type: 'string', default: '2' },
    embedders: { type: 'string', default: 'hash,onnx' },
    rounds: { type: 'string', default: '3' },
    'model-dir': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Issue 13: events/s per worker through Redis with the hash embedder and the default signals. */
const SCREEN_AIM_PER_S = 20_000;
const batchSize = Number(args['batch-size']);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);

/** Writes events from..from+n to the raw stream as serve-ingest would. */
async function fill(redis: Redis, stream: string, from: number, n: number): Promise<void> {
  const now = new Date().toISOString();
  for (let start = from; start < from + n; start += 2000) {
    const p = redis.pipeline();
    for (let i = start; i < Math.min(from + n, start + 2000); i++) {
      const e = event(i);
      p.xadd(stream, '*', 'v', STREAM_SCHEMA_VERSION, 'event_id', e.event_id, 'event', JSON.stringify(e), 'ingested_at', now, 'batch_id', 'bench', 'traceparent', traceparentFor());
    }
    await p.exec();
  }
}

const clean = deleteKeysByPrefix;

/** Raw embedder throughput on texts of the same kind, same batch size and concurrency: the ceiling of the pipeline. */
async function rawEmbed(embedder: Embedder, from: number, n: number): Promise<number> {
  const texts = Array.from({ length: n }, (_, i) => message(from + i));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += batchSize) {
    inFlight.push(embedder.embed(texts.slice(i, i + batchSize)));
    if (inFlight.length >= concurrency) await inFlight.shift();
  }
  await Promise.all(inFlight);
  lastCpuMsPerEvent = cpuMs(cpu0) / n;
  return n / ((performance.now() - t0) / 1000);
}

/** CPU time of this process (all its threads, ONNX's included) since `since`, in ms. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}
let lastCpuMsPerEvent = 0;

/** The Screener on events from..from+n without Redis or the worker: what scoring alone allows. */
async function screenerAlone(screener: ScreenFn, from: number, n: number): Promise<number> {
  const t0 = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += batchSize) {
    inFlight.push(screener.screenBatch(Array.from({ length: Math.min(batchSize, n - i) }, (_, k) => ({ event: event(from + i + k) }))));
    if (inFlight.length >= concurrency) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return n / ((performance.now() - t0) / 1000);
}

interface Row {
  embedder: string;
  model: string;
  events: number;
  rounds: number;
  /** Medians over the rounds. */
  pipelinePerS: number;
  rawPerS: number;
  /** Median of each round's pipeline / raw (raw measured right before and right after that round). */
  ratio: number;
  screenerPerS: number;
  perRound: { pipelinePerS: number; rawBefore: number; rawAfter: number; ratio: number; cpuMsPerEvent: { raw: number; pipeline: number } }[];
  routed: { reasoning_queue: number; low_risk: number };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * One embedder: raw inference, the Screener alone, then `rounds` pipeline runs each followed by
 * raw inference again. Each round's ratio uses the raw figures measured just before and after it,
 * so that other load on the machine moves both sides. Every run uses texts no other run saw (the
 * worker's cache of recent vectors must not make the pipeline look faster than inference).
 */
async function pipeline(kind: 'hash' | 'onnx', n: number, rounds: number, modelDir?: string): Promise<Row> {
  const admin = new Redis(REDIS_URL);
  const redis = createConsumerRedis(REDIS_URL);
  const blockingRedis = createConsumerRedis(REDIS_URL);
  const embedder = await createEmbedder({ kind, modelDir });
  // The worker's own composition (riskpipe screen-worker): the same embedder behind the Screener.
  const { screener, threshold, learnMaxSimilarity } = await loadScreener({ embedder: kind, modelDir, threshold: undefined, neighbors: 'always', classifier: undefined }, silentLogger, embedder);
  const prefixes: string[] = [];
  try {
    let offset = 0;
    const next = () => (offset += n) - n;
    await rawEmbed(embedder, next(), Math.min(n, batchSize * 2)); // warm-up
    const screenerPerS = await screenerAlone(screener, next(), n); // also warms the scorer
    let rawBefore = await rawEmbed(embedder, next(), n);
    const perRound: Row['perRound'] = [];
    const routed = { reasoning_queue: 0, low_risk: 0 };
    for (let r = 0; r < rounds; r++) {
      const prefix = `bench:screen:${process.pid}:${kind}:${r}:`;
      prefixes.push(prefix);
      const streams = streamNames(prefix);
      await fill(admin, streams.raw, next(), n);
      const bus = RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
      const worker = new ScreenWorker({ bus, screener, threshold, learnMaxSimilarity, batchSize, concurrency, blockMs: 50 });
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await worker.start();
      await settled(worker, n);
      const pipelinePerS = n / ((performance.now() - t0) / 1000);
      const pipelineCpu = cpuMs(cpu0) / n;
      const rawCpuBefore = lastCpuMsPerEvent;
      const snap = worker.metrics.snapshot();
      routed.reasoning_queue += snap.routed.reasoning_queue;
      routed.low_risk += snap.routed.low_risk;
      await worker.close();
      await bus.close();
      await clean(admin, prefix);
      const rawAfter = await rawEmbed(embedder, next(), n);
      perRound.push({
        pipelinePerS,
        rawBefore,
        rawAfter,
        ratio: pipelinePerS / ((rawBefore + rawAfter) / 2),
        cpuMsPerEvent: { raw: (rawCpuBefore + lastCpuMsPerEvent) / 2, pipeline: pipelineCpu },
      });
      rawBefore = rawAfter;
    }
    return {
      embedder: kind,
      model: embedder.id,
      events: n,
      rounds,
      pipelinePerS: median(perRound.map((r) => r.pipelinePerS)),
      rawPerS: median([perRound[0].rawBefore, ...perRound.map((r) => r.rawAfter)]),
      ratio: median(perRound.map((r) => r.ratio)),
      screenerPerS,
      perRound,
      routed,
    };
  } finally {
    await screener.close();
    for (const p of prefixes) await clean(admin, p);
    admin.disconnect();
    redis.disconnect();
    blockingRedis.disconnect();
  }
}

/** The e5-small-v2-shaped random-weights model, made once per run by the other script if it is there. */
async function tinyModelDir(): Promise<{ dir?: string; note?: string }> {
  if (args['model-dir']) return { dir: args['model-dir'] };
  if (!existsSync(new URL('../scripts/make-tiny-model.ts', import.meta.url))) {
    return { note: 'scripts/make-tiny-model.ts is not in the tree: no ONNX row (pass --model-dir to use a model)' };
  }
  const { makeTinyModel } = await import('../scripts/make-tiny-model.js');
  const tmp = mkdtempSync(join(tmpdir(), 'riskpipe-bench-model-'));
  made.push(tmp);
  return { dir: makeTinyModel(join(tmp, 'e5-small-random'), 'e5-small') };
}
const made: string[] = [];

async function main(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const kind of args.embedders.split(',').map((s) => s.trim()) as ('hash' | 'onnx')[]) {
    if (kind === 'hash') rows.push(await pipeline('hash', Number(args.events), rounds));
    else if (kind === 'onnx') {
      const { dir, note } = await tinyModelDir();
      if (note) notes.push(note);
      if (dir) rows.push(await pipeline('onnx', Number(args['onnx-events']), rounds, dir));
    }
  }
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  if (args.json) {
    console.log(JSON.stringify({ rows, notes, batchSize, concurrency }, null, 2));
    return;
  }
  const f = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log(`\nbench:screen on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, batch ${batchSize}, ${concurrency} batches in flight, one worker, median of ${rounds} rounds\n`);
  console.log('| embedder | model | events | events/s pipeline | raw embedder events/s | ratio | Screener alone events/s (no Redis) | pipeline / Screener | routed reasoning / low |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.embedder} | ${r.model} | ${f(r.events)} | ${f(r.pipelinePerS)} | ${f(r.rawPerS)} | ${r.ratio.toFixed(2)} | ${f(r.screenerPerS)} | ${(r.pipelinePerS / r.screenerPerS).toFixed(2)} | ${f(r.routed.reasoning_queue)} / ${f(r.routed.low_risk)} |`,
    );
  }
  for (const r of rows) {
    const each = r.perRound.map((p) => `${f(p.pipelinePerS)} (raw ${f(p.rawBefore)} → ${f(p.rawAfter)}, ratio ${p.ratio.toFixed(2)})`).join('; ');
    console.log(`\n${r.embedder} rounds, events/s: ${each}`);
    // CPU time per event hardly moves with other load on the machine: it shows the work the
    // pipeline adds to inference (Redis' own CPU, in its process, is not counted).
    const cpu = r.perRound.map((p) => `${p.cpuMsPerEvent.pipeline.toFixed(3)} vs ${p.cpuMsPerEvent.raw.toFixed(3)}`).join('; ');
    console.log(`${r.embedder} rounds, CPU ms per event, pipeline vs raw embedder: ${cpu}`);
  }
  for (const n of notes) console.log(`\nnote: ${n}`);
  const hash = rows.find((r) => r.embedder === 'hash');
  const onnx = rows.find((r) => r.embedder === 'onnx');
  if (hash) console.log(`\nhash: ${f(hash.pipelinePerS)} events/s per worker, ${(hash.pipelinePerS / SCREEN_AIM_PER_S).toFixed(2)}× the aim of ${f(SCREEN_AIM_PER_S)} (Screener alone ${f(hash.screenerPerS)}/s)`);
  if (onnx) console.log(`onnx: pipeline / raw inference ${onnx.ratio.toFixed(2)} (aim >= 0.85)`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
