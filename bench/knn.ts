/**
 * bench:knn — the screening stage's vector layer on this machine:
 *   1. kNN: a usearch index (HNSW, cosine) of N 384-dim vectors, built with addBatch on every
 *      core; Q queries one at a time, k = 10: p50/p99 latency and recall@10 against exact search.
 *      Two data sets: random unit vectors (the worst case for a graph: every point is nearly
 *      equidistant) and hash embeddings of chat messages (clustered, full of near-duplicates, as
 *      the real bank is).
 *   2. the hash embedder: messages/s on one core.
 *   3. ONNX: raw inference of batches of 32 short messages through OnnxEmbedder, on the model in
 *      --model-dir, or else on an e5-small-v2-SHAPED model with random weights that
 *      scripts/make-tiny-model.ts generates into a temporary folder (same matmul cost per token).
 *
 *   npm run bench:knn [-- --n 100000 --queries 2000 --data random,messages --expansion 64 --model-dir DIR --no-onnx]
 *
 * Aim: kNN p99 < 5 ms at 100k vectors.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MetricKind, exactSearch } from 'usearch';
import { hashEmbed } from '../src/embed/hash.js';
import { UsearchIndex } from '../src/vector/usearch-index.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    queries: { type: 'string', default: '2000' },
    k: { type: 'string', default: '10' },
    expansion: { type: 'string', default: '64' },
    data: { type: 'string', default: 'random,messages' },
    'recall-queries': { type: 'string', default: '200' },
    'model-dir': { type: 'string' },
    'no-onnx': { type: 'boolean', default: false },
    'onnx-seconds': { type: 'string', default: '15' },
  },
});
const N = Number(values.n);
const Q = Number(values.queries);
const K = Number(values.k);
const DIM = 384;

// --- data ----------------------------------------------------------------------------------------

function randomUnit(rand: () => number): Float32Array {
  const v = new Float32Array(DIM);
  let norm = 0;
  for (let i = 0; i < DIM; i++) {
    v[i] = rand() - 0.5;
    norm += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < DIM; i++) v[i] *= inv;
  return v;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** Every labelled message shipped in data/. */
function labelledTexts(): string[] {
  const files = ['../data/exemplars.jsonl', '../data/labelled/screening-eval.jsonl', '../data/labelled/screening-holdout-independent.jsonl'];
  return files.flatMap((f) =>
    readFileSync(new URL(f, import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const o = JSON.parse(l) as { text?: string; content?: string };
        return o.text ?? o.content ?? '';
      }),
  );
}

/** Chat-like variants of the labelled messages: words dropped, repeated, swapped, numbered. */
function messageVariants(base: string[], count: number, rand: () => number): string[] {
  const out: string[] = [];
  while (out.length < count) {
    const words = base[Math.floor(rand() * base.length)].split(' ');
    const kept = words.filter(() => rand() > 0.15);
    if (rand() < 0.3 && kept.length > 1) kept.push(kept[Math.floor(rand() * kept.length)]);
    if (rand() < 0.3) kept.push(base[Math.floor(rand() * base.length)].split(' ')[0] ?? '');
    out.push(`${kept.join(' ')} ${Math.floor(rand() * 10_000)}`);
  }
  return out;
}

// --- kNN -----------------------------------------------------------------------------------------

interface KnnRow {
  data: string;
  vectors: number;
  buildS: number;
  p50: number;
  p99: number;
  recall: number;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

function benchKnn(data: string, vectors: Float32Array[], queries: Float32Array[]): KnnRow {
  // Graph search only (exactMaxVectors 0): at 100k the index would use it anyway.
  const index = new UsearchIndex(DIM, { expansionSearch: Number(values.expansion), exactMaxVectors: 0 });
  let t = performance.now();
  const B = 4096;
  for (let i = 0; i < vectors.length; i += B) {
    index.addBatch(vectors.slice(i, i + B).map((vector, j) => ({ id: `v${i + j}`, vector, meta: { label: 'low_risk', source: 'exemplar' } })));
  }
  const buildS = (performance.now() - t) / 1000;

  for (const q of queries.slice(0, 100)) index.search(q, K); // warm-up
  const latencies = queries.map((q) => {
    const s = performance.now();
    index.search(q, K);
    return performance.now() - s;
  });
  latencies.sort((a, b) => a - b);

  // Recall@K against exact search (usearch's SIMD brute force, on both cores).
  const flat = new Float32Array(vectors.length * DIM);
  vectors.forEach((v, i) => flat.set(v, i * DIM));
  let hits = 0;
  const sample = queries.slice(0, Number(values['recall-queries']));
  for (const q of sample) {
    const exact = new Set(Array.from(exactSearch(flat, q, DIM, K, MetricKind.Cos, 0).keys, (row) => `v${row}`));
    hits += index.search(q, K).filter((n) => exact.has(n.id)).length;
  }
  return { data, vectors: vectors.length, buildS, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), recall: hits / (sample.length * K) };
}

// --- embedders -----------------------------------------------------------------------------------

function benchHash(texts: string[]): number {
  for (const t of texts.slice(0, 500)) hashEmbed(t); // warm-up
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < 3000) for (const t of texts) (hashEmbed(t), n++);
  return n / ((performance.now() - started) / 1000);
}

interface OnnxRow {
  model: string;
  msgsPerS: number;
  msPerBatch: number;
  tokensPerMsg: number;
}

async function benchOnnx(texts: string[]): Promise<OnnxRow | string> {
  const { OnnxEmbedder } = await import('../src/embed/onnx.js');
  let dir = values['model-dir'];
  let generated: string | undefined;
  if (!dir) {
    const { makeTinyModel } = await import('../scripts/make-tiny-model.js');
    generated = mkdtempSync(join(tmpdir(), 'rp-bench-e5-'));
    dir = makeTinyModel(join(generated, 'e5-small-v2-shaped'), 'e5-small');
  }
  try {
    const embedder = await OnnxEmbedder.load({ modelDir: dir });
    const batches: string[][] = [];
    for (let i = 0; i + 32 <= texts.length; i += 32) batches.push(texts.slice(i, i + 32));
    await embedder.embed(batches[0]); // warm-up (session and allocator)
    let msgs = 0;
    let tokens = 0;
    let runs = 0;
    const started = performance.now();
    while (performance.now() - started < Number(values['onnx-seconds']) * 1000) {
      const batch = batches[runs % batches.length];
      const mask = embedder.tokenize(batch).attention_mask.data as BigInt64Array;
      tokens += mask.reduce((s, x) => s + Number(x), 0);
      await embedder.embed(batch);
      msgs += batch.length;
      runs++;
    }
    const seconds = (performance.now() - started) / 1000;
    await embedder.close();
    return { model: generated ? 'e5-small-v2-shaped, random weights (generated)' : dir, msgsPerS: msgs / seconds, msPerBatch: (seconds * 1000) / runs, tokensPerMsg: tokens / msgs };
  } finally {
    if (generated) rmSync(generated, { recursive: true, force: true });
  }
}

// --- run -----------------------------------------------------------------------------------------

const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
console.log(`\nbench:knn on ${cpus().length} cores (${cpu}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`);

const texts = labelledTexts();
const sets = (values.data ?? '').split(',').filter(Boolean);
const knn: KnnRow[] = [];
if (sets.includes('random')) {
  const rand = seeded(42);
  knn.push(benchKnn('random unit vectors', Array.from({ length: N }, () => randomUnit(rand)), Array.from({ length: Q }, () => randomUnit(rand))));
}
if (sets.includes('messages')) {
  const rand = seeded(7);
  const bank = messageVariants(texts, N, rand).map((t) => hashEmbed(t));
  const queries = messageVariants(texts, Q, rand).map((t) => hashEmbed(t));
  knn.push(benchKnn('hash embeddings of chat messages', bank, queries));
}
if (knn.length > 0) {
  console.log(`kNN: usearch HNSW, cosine, connectivity 16, expansion ${values.expansion}, ${DIM} dims, k = ${K}, ${Q} queries one at a time on one thread\n`);
  console.log(`| data | vectors | build s (2 threads) | p50 ms | p99 ms | recall@${K} vs exact |`);
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of knn) console.log(`| ${r.data} | ${r.vectors} | ${r.buildS.toFixed(1)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.recall.toFixed(3)} |`);
  console.log(`\nAim p99 < 5 ms: ${knn.map((r) => `${r.data} ${r.p99 < 5 ? 'met' : 'MISSED'} (${r.p99.toFixed(2)} ms)`).join('; ')}\n`);
}

const hashPerS = benchHash(texts);
const onnx = values['no-onnx'] ? 'skipped (--no-onnx)' : await benchOnnx(texts);
console.log('| embedder | batch | messages/s | ms per batch | tokens per message |');
console.log('|---|---:|---:|---:|---:|');
console.log(`| hash (riskpipe/hash-ngram-384-v1), one core | 1 | ${Math.round(hashPerS)} | — | — |`);
if (typeof onnx === 'string') console.log(`| onnx | 32 | ${onnx} | | |`);
else console.log(`| onnx: ${onnx.model} | 32 | ${onnx.msgsPerS.toFixed(1)} | ${onnx.msPerBatch.toFixed(0)} | ${onnx.tokensPerMsg.toFixed(1)} |`);
console.log(`\n(${texts.length} labelled messages from data/, avg ${Math.round(texts.reduce((s, t) => s + t.length, 0) / texts.length)} characters.)`);
