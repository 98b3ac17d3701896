/**
 * screen-steps — what each step of screening costs, in µs per event, on bench:screen's messages:
 * the per-step breakdown behind docs/performance.md ("Screening hot path").
 *
 *   npx tsx bench/screen-steps.ts [-- --events 4000 --rounds 5 --escalated 2000]
 *
 * Each step runs over all events in a loop of its own (inputs prepared beforehand), rounds
 * alternate, medians of the process's CPU time are reported (wall time on a shared machine
 * includes the time the process was descheduled). kNN is timed on the exemplar bank alone and with
 * `--escalated` bench messages added as escalations (the worker's bank grows that way).
 * Redis work (author stats, settle) is not here: bench:screen shows the pipeline against the
 * Screener alone.
 */
import { parseArgs } from 'node:util';
import { traceparentFor } from '../src/common/trace.js';
import { HashEmbedder, hashEmbed } from '../src/embed/hash.js';
import { STREAM_SCHEMA_VERSION } from '../src/models/index.js';
import { loadClassifier } from '../src/screen/classifier/index.js';
import { DEFAULT_EXEMPLARS_PATH, indexExemplars, loadExemplars } from '../src/screen/exemplars.js';
import { ruleSignals, ruleView, scoreEvent } from '../src/screen/fusion.js';
import { defaultPolicy, policyForEmbedder } from '../src/screen/policy.js';
import { normalizeText } from '../src/screen/text.js';
import { parseRawEntry } from '../src/screen/worker.js';
import { createVectorIndex } from '../src/vector/index.js';
import type { VectorIndex } from '../src/vector/types.js';
import { event } from './screen-events.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '4000' }, rounds: { type: 'string', default: '5' }, escalated: { type: 'string', default: '2000' } } });
const n = Number(args.events);
const rounds = Number(args.rounds);

const embedder = new HashEmbedder();
const policy = policyForEmbedder(defaultPolicy, embedder.id);
const classifier = await loadClassifier();
const bank = createVectorIndex(embedder.dim);
await indexExemplars(embedder, bank, loadExemplars(DEFAULT_EXEMPLARS_PATH));
const grown = createVectorIndex(embedder.dim);
await indexExemplars(embedder, grown, loadExemplars(DEFAULT_EXEMPLARS_PATH));
for (let i = 0; i < Number(args.escalated); i++) grown.add(`escalated:e${i}`, (await embedder.embed([event(1_000_000 + i).content]))[0], { label: 'toxic', source: 'escalated' });

const events = Array.from({ length: n }, (_, i) => event(i));
const entries = events.map((e) => ({ v: STREAM_SCHEMA_VERSION, event_id: e.event_id, event: JSON.stringify(e), ingested_at: e.created_at, batch_id: 'bench', traceparent: traceparentFor() }));
const texts = events.map((e) => e.content);
const vectors = await embedder.embed(texts);
const rules = events.map((e) => ruleSignals(e, policy));
const features = rules.map((r) => classifier.features(r.t, ruleView(r)));
const neighbors = vectors.map((v) => bank.search(v, 8));
const stats = events.map((_, i) => ({ messagesInWindow: 1 + (i % 5), windowS: 60, sameContentChannels: 1 }));
const preds = events.map((e, i) => ({ ...scoreEvent({ event: e, author: stats[i], neighbors: neighbors[i] }, policy, classifier), screening_time_ms: 0.1, model_version: embedder.id, policy_fingerprint: 'x' }));

let sink = 0;
const knn = (index: VectorIndex) => {
  for (let i = 0; i < n; i += 64) {
    const batch = vectors.slice(i, i + 64);
    const found = index.searchMany ? index.searchMany(batch, 8) : batch.map((v) => index.search(v, 8));
    sink += found.length;
  }
};
const steps: [string, () => void][] = [
  ['decode (JSON.parse + Event model)', () => entries.forEach((f) => (sink += parseRawEntry(f).event.content.length))],
  ['normalise (normalizeText)', () => texts.forEach((t) => (sink += normalizeText(t).norm.length))],
  ['rules incl. normalise (ruleSignals)', () => events.forEach((e) => (sink += ruleSignals(e, policy).results.threat.value))],
  ['embed (hash n-grams)', () => texts.forEach((t) => (sink += hashEmbed(t)[0]))],
  // As the Screener searches: a batch of 64 at once where the index can (searchMany), else one by one.
  ['kNN, exemplar bank', () => knn(bank)],
  [`kNN, bank + ${args.escalated} escalated`, () => knn(grown)],
  ['classifier features', () => rules.forEach((r) => (sink += classifier.features(r.t, ruleView(r)).idx.length))],
  ['classifier forward', () => features.forEach((f) => (sink += classifier.predictFeatures(f).escalate))],
  ['scoreEvent incl. features + forward (rules given)', () => events.forEach((e, i) => (sink += scoreEvent({ event: e, author: stats[i], neighbors: neighbors[i] }, policy, classifier, rules[i]).risk_score))],
  ['JSON.stringify(prediction)', () => preds.forEach((p) => (sink += JSON.stringify(p).length))],
];
const times = new Map<string, number[]>(steps.map(([name]) => [name, []]));
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, run] of steps) {
    // CPU time, not wall time: on a shared machine the process is descheduled now and then.
    const cpu0 = process.cpuUsage();
    run();
    const cpu = process.cpuUsage(cpu0);
    if (r > 0) times.get(name)!.push((cpu.user + cpu.system) / n); // round 0 warms up
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`\nscreen-steps: ${n} bench messages, median of ${rounds} rounds, µs per event\n`);
console.log('| step | µs/event |');
console.log('|---|---:|');
for (const [name] of steps) console.log(`| ${name} | ${median(times.get(name)!).toFixed(1)} |`);
if (sink === 42) console.log('');
