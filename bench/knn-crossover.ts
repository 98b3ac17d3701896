/**
 * bench:knn-crossover — where exact search (usearch's SIMD exactSearch over a flat Float32 matrix,
 * what UsearchIndex does up to `exactMaxVectors`) stops beating the HNSW graph, on hash embeddings
 * of chat-like messages (the screener's bank: 447 exemplars + up to 10,000 recent escalations).
 * Per size: µs per query (k = 8) exact vs graph in alternating rounds (medians), recall@8 of the
 * graph against exact, and the cost of adding one vector to the graph at that size (what every
 * escalation pays while the graph is kept up to date).
 *
 *   npx tsx bench/knn-crossover.ts [-- --sizes 250,500,1000,2000,4000,8000,16000 --queries 300 --rounds 3]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { hashEmbed } from '../src/embed/hash.js';
import { UsearchIndex } from '../src/vector/usearch-index.js';

const { values: a } = parseArgs({ options: { sizes: { type: 'string', default: '250,500,1000,2000,4000,8000,16000' }, queries: { type: 'string', default: '300' }, rounds: { type: 'string', default: '3' } } });
const sizes = a.sizes!.split(',').map(Number);
const Q = Number(a.queries);
const rounds = Number(a.rounds);
const K = 8;
const DIM = 384;
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

let s = 42;
const rand = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff), s / 0x7fffffff);
const base = ['../data/exemplars.jsonl', '../data/labelled/screening-eval.jsonl'].flatMap((f) =>
  readFileSync(new URL(f, import.meta.url), 'utf8').split('\n').filter((l) => l.trim()).map((l) => ((o) => o.text ?? o.content ?? '')(JSON.parse(l) as { text?: string; content?: string })),
);
const variant = () => {
  const w = base[Math.floor(rand() * base.length)]!.split(' ').filter(() => rand() > 0.15);
  return `${w.join(' ')} ${Math.floor(rand() * 10000)}`;
};
const embed = (t: string) => hashEmbed(t, { dim: DIM });
const maxN = Math.max(...sizes);
const vectors = Array.from({ length: maxN }, () => embed(variant()));
const queries = Array.from({ length: Q }, () => embed(variant()));

console.log(`bench:knn-crossover: ${DIM}-dim hash embeddings, k = ${K}, ${Q} queries, ${rounds} alternating rounds (medians)\n`);
console.log('| vectors | exact µs/query | graph µs/query | exact / graph | graph recall@8 | graph add µs/vector |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const n of sizes) {
  const exact = new UsearchIndex(DIM, { exactMaxVectors: Number.MAX_SAFE_INTEGER });
  // exact never builds its graph (lazy): its add cost is a row copy.
  const graph = new UsearchIndex(DIM, { exactMaxVectors: 0 });
  const items = vectors.slice(0, n).map((v, i) => ({ id: `v${i}`, vector: v, meta: { label: 'spam' as const, source: 'exemplar' as const } }));
  exact.addBatch(items);
  graph.addBatch(items.slice(0, n - 200 > 0 ? n - 200 : n));
  // The add cost: the last 200 one at a time, as escalations arrive.
  const t0 = performance.now();
  for (const it of items.slice(n - 200 > 0 ? n - 200 : n)) graph.add(it.id, it.vector, it.meta);
  const addUs = n > 200 ? ((performance.now() - t0) * 1000) / 200 : NaN;
  const te: number[] = [];
  const tg: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [idx, out] of r % 2 ? ([[graph, tg], [exact, te]] as const) : ([[exact, te], [graph, tg]] as const)) {
      const t = performance.now();
      for (const q of queries) idx.search(q, K);
      out.push(((performance.now() - t) * 1000) / Q);
    }
  }
  let hit = 0;
  for (const q of queries) {
    const want = new Set(exact.search(q, K).map((x) => x.id));
    hit += graph.search(q, K).filter((x) => want.has(x.id)).length;
  }
  const e = median(te);
  const g = median(tg);
  console.log(`| ${n.toLocaleString('en-US')} | ${e.toFixed(0)} | ${g.toFixed(0)} | ${(e / g).toFixed(2)} | ${(hit / (Q * K)).toFixed(3)} | ${Number.isNaN(addUs) ? '–' : addUs.toFixed(0)} |`);
}
