/**
 * bench:knn — kNN latency of the usearch index at N vectors (default 100000, 384-dim, cosine),
 * with recall@10 against exact search on a sample, and hash-embedder throughput.
 *
 *   npm run bench:knn [-- --n 100000 --queries 2000]
 *
 * Aim (issue 3): p99 < 5 ms at 100k vectors.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { hashEmbed } from '../src/screen/embed/hash.js';
import { UsearchIndex } from '../src/screen/vector/usearch-index.js';

const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, queries: { type: 'string', default: '2000' } } });
const N = Number(values.n);
const Q = Number(values.queries);
const DIM = 384;

function randomUnit(): Float32Array {
  const v = new Float32Array(DIM);
  let norm = 0;
  for (let i = 0; i < DIM; i++) {
    v[i] = Math.random() - 0.5;
    norm += v[i] * v[i];
  }
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < DIM; i++) v[i] *= inv;
  return v;
}

const vectors: Float32Array[] = [];
const index = new UsearchIndex(DIM, { initialCapacity: N });
let t = performance.now();
for (let i = 0; i < N; i++) {
  const v = randomUnit();
  vectors.push(v);
  index.add(`v${i}`, v, { label: 'low_risk', source: 'exemplar' });
}
const buildS = (performance.now() - t) / 1000;

const latencies: number[] = [];
const queries = Array.from({ length: Q }, randomUnit);
for (const q of queries) {
  const s = performance.now();
  index.search(q, 10);
  latencies.push(performance.now() - s);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];

// Recall@10 on 20 queries against an exact scan.
let hits = 0;
for (const q of queries.slice(0, 20)) {
  const exact = vectors
    .map((v, i) => {
      let d = 0;
      for (let j = 0; j < DIM; j++) d += v[j] * q[j];
      return { i, d };
    })
    .sort((a, b) => b.d - a.d)
    .slice(0, 10)
    .map((x) => `v${x.i}`);
  const got = new Set(index.search(q, 10).map((n) => n.id));
  hits += exact.filter((id) => got.has(id)).length;
}

t = performance.now();
const M = 20000;
for (let i = 0; i < M; i++) hashEmbed(`hey everyone, anyone up for ranked tonight? message ${i}`);
const hashPerS = M / ((performance.now() - t) / 1000);

console.log(`\nbench:knn on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}\n`);
console.log('| vectors | build s | queries | p50 ms | p99 ms | recall@10 | hash embedder msg/s |');
console.log('|---:|---:|---:|---:|---:|---:|---:|');
console.log(`| ${N} | ${buildS.toFixed(1)} | ${Q} | ${pct(0.5).toFixed(3)} | ${pct(0.99).toFixed(3)} | ${(hits / 200).toFixed(2)} | ${Math.round(hashPerS)} |`);
console.log(`\nkNN p99 at ${N} vectors: ${pct(0.99).toFixed(2)} ms (aim < 5 ms)`);
