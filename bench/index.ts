/**
 * bench:index — escalated events/s through one index worker (rules incidents, hash embedder, the
 * embedded on-disk index, real Redis and Postgres), and search latency at 10k and 100k indexed
 * events.
 *
 *   npm run bench:index [-- --events 20000 --batch-size 256 --concurrency 2 --search-sizes 10000,100000 --queries 500]
 *
 * Throughput: a prefixed events:reasoning_queue is pre-filled with realistic, varied escalated
 * entries (the fields the screening stage writes, batch ids included); one IndexStage, composed as
 * `riskpipe index-worker` composes it, runs until every entry is stored, indexed, acknowledged
 * and deleted; the wall time from start to drained is measured.
 *
 * Search: the store and the embedded index are filled directly (recordEvents + completeIndexed +
 * upsert, in batches of 1,000) up to each size, then `--queries` searches go through
 * SearchService (embed the query, exact search, join with Postgres) one at a time — half without
 * filters, half with a platform filter — and p50/p99 are reported, with the index's share alone
 * and its recall@10 against an exact float32 scan (the index scans int8 copies and re-ranks).
 *
 * Aims (issue): >= 2,000 events/s per worker; search p99 < 20 ms at 100k.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { silentLogger } from '../src/common/logger.js';
import { deleteKeysByPrefix } from '../src/common/redis.js';
import { Redis } from 'ioredis';
import { HashEmbedder } from '../src/embed/index.js';
import { createIndexStage, payloadOf, RulesIncidentProvider, rulesIncidents, SearchService } from '../src/index/index.js';
import { PLATFORMS, STREAM_SCHEMA_VERSION, type Event, type RiskPrediction } from '../src/models/index.js';
import { openStore } from '../src/store/index.js';
import { RedisBus } from '../src/stream/redis/bus.js';
import { DiskEventIndex } from '../src/vector/disk-index.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    'batch-size': { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '2' },
    'search-sizes': { type: 'string', default: '10000,100000' },
    queries: { type: 'string', default: '500' },
    'redis-url': { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    'database-url': { type: 'string', default: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' },
  },
});
const EVENTS = Number(args.events);
const QUERIES = Number(args.queries);
const SIZES = args['search-sizes']!.split(',').map(Number).filter((n) => n > 0);

// Realistic, varied escalated messages ---------------------------------------------------------

const KINDS = [
  { category: 'threat', level: 'HIGH', texts: ['you better watch your back {n}', 'i know where you live {w}, see you soon', 'i will find you and hurt you {w}', 'keep talking and you will regret it {w}'], phrase: 'you better watch your back' },
  { category: 'spam', level: 'MEDIUM', texts: ['free nitro at discord-gift{n}.xyz claim now', 'buy cheap followers at promo{n}.example', 'crypto giveaway send 1 eth get 2 back {w}', 'click bit.ly/{w}{n} for free skins'], phrase: 'free nitro' },
  { category: 'targeted_harassment', level: 'HIGH', texts: ['@{w} nobody likes you, just leave', '@{w} you are pathetic and everyone laughs at you', 'everyone go spam @{w} until they quit'], phrase: 'nobody likes you' },
  { category: 'self_harm', level: 'HIGH', texts: ['nobody would miss me if i was gone {w}', 'i want to end it all tonight {w}', 'i cant do this anymore {w}'], phrase: 'nobody would miss me' },
  { category: 'toxic', level: 'MEDIUM', texts: ['shut up you absolute idiot {w}', 'this is the dumbest take ever {w}, moron', 'what a clown {w} lol trash player'], phrase: 'idiot' },
] as const;
const WORDS = ['raid', 'server', 'mods', 'stream', 'tonight', 'discord', 'lobby', 'guild', 'match', 'ranked', 'chat', 'clip', 'vod', 'patch', 'event', 'team', 'squad', 'alpha', 'beta', 'gamma'];

function make(i: number): { event: Event; prediction: RiskPrediction } {
  const k = KINDS[i % KINDS.length];
  const text = k.texts[(i >> 3) % k.texts.length].replace('{n}', String(i)).replace('{w}', `${WORDS[i % WORDS.length]}${WORDS[(i * 7) % WORDS.length]}`);
  const event: Event = {
    event_id: `bench-${i}`,
    event_type: 'message_created',
    platform: PLATFORMS[i % PLATFORMS.length],
    channel_id: `ch-${i % 50}`,
    user_id: `u-${i % 997}`,
    author_id: `u-${i % 997}`,
    content: text,
    created_at: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    metadata: { user_reputation: 0.3, account_age_days: 12 },
  };
  const prediction: RiskPrediction = {
    event_id: event.event_id,
    risk_score: 0.85,
    risk_level: k.level,
    risk_category: k.category,
    confidence: 0.8,
    flags: ['targeted_language'],
    details: {
      signals: { [k.category]: { value: 0.85, weight: 1, contribution: 0.5, category: k.category, evidence: [`phrase "${k.phrase}"`] } },
      neighbors: [],
      category_scores: { [k.category]: 0.85 },
      thresholds: { screening: 0.7, medium: 0.5, high: 0.8 },
      reason: `${k.category} language`,
    },
    screening_time_ms: 0.4,
    model_version: 'riskpipe/hash-ngram-384-v1',
    policy_fingerprint: 'bench',
  };
  return { event, prediction };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x: number) => x.toFixed(2);

async function dropSchema(url: string, schema: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
}

async function throughput(): Promise<number> {
  const prefix = `rpbench:index:${process.pid}:`;
  const schema = `rpbench_index_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'rp-bench-index-'));
  const admin = new Redis(args['redis-url']!);
  const bus = RedisBus.connect({ redisUrl: args['redis-url']!, role: 'consumer', prefix });
  const store = await openStore({ url: args['database-url']!, schema });
  const embedder = new HashEmbedder(); // as openIndexBackends builds it: unbatched
  const index = new DiskEventIndex({ dir: join(dir, 'events'), dim: embedder.dim });
  try {
    // Pre-fill the reasoning stream with what the screening stage writes (pipelined XADDs).
    const stream = bus.names.reasoning;
    for (let i = 0; i < EVENTS; i += 1000) {
      const p = admin.pipeline();
      for (let j = i; j < Math.min(EVENTS, i + 1000); j++) {
        const { event, prediction } = make(j);
        p.xadd(stream, '*', 'v', STREAM_SCHEMA_VERSION, 'event_id', event.event_id, 'event', JSON.stringify(event), 'prediction', JSON.stringify(prediction), 'source_id', `${j}-0`, 'traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'screened_at', new Date().toISOString(), 'batch_id', `bench-batch-${Math.floor(j / 500)}`);
      }
      await p.exec();
    }
    const stage = createIndexStage(
      { bus, store, index, embedder, incidents: new RulesIncidentProvider(), log: silentLogger },
      { apiKeys: [], claimIdleMs: 30_000, maxDeliveries: 5, blockMs: 200, batchSize: Number(args['batch-size']), concurrency: Number(args.concurrency) },
    );
    const t0 = performance.now();
    await stage.start();
    for (;;) {
      const [len, info] = await Promise.all([bus.length('reasoning'), bus.groupInfo({ stream: 'reasoning', group: 'indexing' })]);
      if (len === 0 && info.pending === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    await stage.close();
    // Where the time went: each task's total over the run (they overlap: A, B and C run in parallel).
    const tasks = (await stage.registry.getSingleMetric('riskpipe_index_task_duration_seconds')!.get()).values.filter((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'));
    console.log(`  task time (s, summed over batches): ${tasks.map((v) => `${v.labels.task} ${Number(v.value).toFixed(2)}`).join(', ')}; wall ${seconds.toFixed(2)}`);
    const counts = await store.statusCounts();
    if (counts.indexed !== EVENTS) throw new Error(`expected ${EVENTS} indexed, got ${JSON.stringify(counts)}`);
    return EVENTS / seconds;
  } finally {
    await index.close();
    await bus.close();
    await store.close();
    await deleteKeysByPrefix(admin, prefix);
    admin.disconnect();
    await dropSchema(args['database-url']!, schema);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function searchLatency(): Promise<{ size: number; p50: number; p99: number; p50f: number; p99f: number; idx50: number; idx99: number; recall: number }[]> {
  const schema = `rpbench_search_${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'rp-bench-search-'));
  const store = await openStore({ url: args['database-url']!, schema });
  const embedder = new HashEmbedder(); // as openIndexBackends builds it: unbatched
  const index = new DiskEventIndex({ dir: join(dir, 'events'), dim: embedder.dim });
  await index.open();
  const search = new SearchService(embedder, index, store);
  const out = [];
  try {
    let filled = 0;
    for (const size of SIZES) {
      for (; filled < size; filled += 1000) {
        const items = Array.from({ length: Math.min(1000, size - filled) }, (_, j) => make(filled + j));
        await store.recordEvents(items);
        await store.completeIndexed(items.map((it, j) => ({ eventId: it.event.event_id, entryId: `${filled + j}-0`, delivery: 1, incidents: rulesIncidents(it), provider: 'rules' })));
        const vectors = await embedder.embed(items.map((it) => it.event.content));
        await index.upsert(items.map((it, j) => ({ vector: vectors[j], payload: payloadOf(it.event, it.prediction) })));
      }
      const queries = ['threats against moderators', 'free nitro scam links', 'someone wants to hurt themselves', 'harassing a streamer', 'insults in ranked chat'];
      const plain: number[] = [];
      const filtered: number[] = [];
      const idx: number[] = [];
      let found = 0;
      let wanted = 0;
      for (let q = 0; q < QUERIES; q++) {
        const query = `${queries[q % queries.length]} ${WORDS[q % WORDS.length]}`;
        const body = q % 2 === 0 ? { query, k: 10 } : { query, k: 10, filters: { platform: PLATFORMS[q % PLATFORMS.length] } };
        const t0 = performance.now();
        const r = await search.search(body);
        (q % 2 === 0 ? plain : filtered).push(performance.now() - t0);
        if (r.results.length === 0) throw new Error(`no results for ${query}`);
        const [v] = await embedder.embed([query]);
        const t1 = performance.now();
        const got = await index.search(v, { k: 10 });
        idx.push(performance.now() - t1);
        if (q < 100) {
          // recall@10 of the int8 scan + float32 re-rank against an exact float32 scan
          // (templated messages tie a lot: a hit counts when it scores at least the 10th exact score)
          const truth = index.searchExact(v, 10);
          const bar = truth[truth.length - 1].score - 1e-6;
          found += got.filter((h) => h.score >= bar).length;
          wanted += truth.length;
        }
      }
      out.push({ size, p50: pct(plain, 50), p99: pct(plain, 99), p50f: pct(filtered, 50), p99f: pct(filtered, 99), idx50: pct(idx, 50), idx99: pct(idx, 99), recall: found / wanted });
    }
  } finally {
    await index.close();
    await store.close();
    await dropSchema(args['database-url']!, schema);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

console.log(`bench:index on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
const eps = await throughput();
console.log(`\nthroughput: ${EVENTS} escalated events through one index worker (batch ${args['batch-size']}, concurrency ${args.concurrency}): ${Math.round(eps)} events/s (aim >= 2000)`);
const rows = await searchLatency();
console.log('\n| indexed events | search p50 ms | search p99 ms | with platform filter p50 / p99 ms | index alone p50 / p99 ms | recall@10 vs exact f32 |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.size.toLocaleString('en')} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.p50f)} / ${ms(r.p99f)} | ${ms(r.idx50)} / ${ms(r.idx99)} | ${r.recall.toFixed(3)} |`);
console.log('\naim: search p99 < 20 ms at 100k');
