/**
 * screen-golden — every prediction's full JSON (screening_time_ms left out) for a fixed set of
 * events, written to a file, so that a performance change can be checked to leave the verdict
 * JSON byte for byte unchanged (the verdict snapshot test pins score, category, level and
 * neighbour ids; this pins everything else too: flags, details, evidence, similarities).
 *
 *   npx tsx bench/screen-golden.ts out.jsonl      # then: cmp before.jsonl after.jsonl
 *
 * Events: the training corpus texts (data/labelled/corpus), the exemplar texts and bench
 * messages, with varied metadata and author stats; a static pass (batches of 64 on the exemplar
 * bank) and a learning pass (batches of 16, escalations added as the worker's learn step does).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Event, RiskPrediction } from '../src/models/index.js';
import { Screener } from '../src/screen/screener.js';
import type { AuthorStats } from '../src/screen/types.js';
import { message } from './screen-events.js';

const out = process.argv[2] ?? '/tmp/screen-golden.jsonl';
const corpusDir = new URL('../data/labelled/corpus/', import.meta.url);
const texts: string[] = [];
for (const f of readdirSync(corpusDir).sort()) {
  for (const line of readFileSync(new URL(f, corpusDir), 'utf8').split('\n')) if (line.trim()) texts.push((JSON.parse(line) as { content: string }).content);
}
for (const line of readFileSync(new URL('../data/exemplars.jsonl', import.meta.url), 'utf8').split('\n')) if (line.trim()) texts.push((JSON.parse(line) as { text: string }).text);
for (let n = 0; n < 3000; n++) texts.push(message(n));

const PLATFORMS = ['discord', 'slack', 'twitch', 'telegram', 'web_chat', 'twitter', 'reddit'] as const;
const events: Event[] = texts.map((content, n) => ({
  event_id: `golden-${n}`,
  event_type: 'message_created',
  platform: PLATFORMS[n % PLATFORMS.length],
  channel_id: `chan-${n % 50}`,
  user_id: `user-${n % 3000}`,
  author_id: `author-${n % 3000}`,
  content,
  created_at: '2026-01-01T00:00:00.000Z',
  metadata: { user_reputation: (n % 10) / 10, account_age_days: n % 400, previous_violations: n % 17 === 0 ? 2 : 0, ...(n % 9 === 0 ? { is_reply_to: `m-${n - 1}` } : {}) },
}));
const author = (n: number): AuthorStats | undefined => (n % 4 === 0 ? undefined : { messagesInWindow: 1 + (n % 23), windowS: 60, sameContentChannels: 1 + (n % 7 === 0 ? n % 5 : 0) });
const line = (p: RiskPrediction) => {
  const { screening_time_ms: _, ...rest } = p;
  return JSON.stringify(rest);
};

const lines: string[] = [];
const s1 = await Screener.create();
for (let i = 0; i < events.length; i += 64) {
  const ps = await s1.screenBatch(events.slice(i, i + 64).map((event, j) => ({ event, author: author(i + j) })));
  for (const p of ps) lines.push(line(p));
}
await s1.close();

const s2 = await Screener.create();
const full = s2.policy.similarity.fullSimilarity;
for (let i = 0; i < events.length; i += 16) {
  const batch = events.slice(i, i + 16);
  const ps = await s2.screenBatch(batch.map((event, j) => ({ event, author: author(i + j) })));
  ps.forEach((p, j) => {
    lines.push(line(p));
    const known = p.details.neighbors.some((n) => n.similarity >= full && n.label === p.risk_category);
    if (p.risk_score >= s2.policy.thresholds.screening && !known) s2.addEscalated(batch[j], p);
  });
}
console.log(`escalated in the index at the end: ${s2.escalatedCount()}`);
await s2.close();
writeFileSync(out, lines.join('\n') + '\n');
console.log(`wrote ${lines.length} predictions to ${out}`);
