/**
 * snapshot:verdicts — the current screener's verdict on every row of the labelled evaluation set
 * (data/labelled/screening-eval.jsonl), pinned in test/fixtures/verdicts-screening-eval.json and
 * compared bit for bit by test/unit/verdicts-snapshot.test.ts, so that a performance change cannot
 * move a verdict unnoticed.
 *
 *   npm run snapshot:verdicts            # rewrite the snapshot (after a change that is MEANT to move verdicts)
 *
 * Two passes, both on the default screener (hash embedder, the exemplar bank, default policy):
 *   - static:   every row scored on the exemplar bank alone, in batches of 64;
 *   - learning: rows scored one by one in file order, each escalation added to the bank as the screen
 *               worker's learn step does, so kNN over recent escalations is pinned too (the bank
 *               grows from 447 to ~1,000 vectors).
 * Per row: risk_score, risk_category, risk_level and the ids of the nearest neighbours.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Screener } from '../src/screen/screener.js';
import { eventFor, loadEvalSet } from './eval-screening.js';

export const SNAPSHOT_PATH = fileURLToPath(new URL('../test/fixtures/verdicts-screening-eval.json', import.meta.url));

/** event_id → [risk_score, risk_category, risk_level, neighbour ids joined by space] */
export type Verdicts = Record<string, [number, string, string, string]>;

export async function computeVerdicts(): Promise<{ static: Verdicts; learning: Verdicts }> {
  const items = loadEvalSet();
  const events = items.map(eventFor);
  const row = (p: Awaited<ReturnType<Screener['screen']>>): Verdicts[string] => [p.risk_score, p.risk_category, p.risk_level, p.details.neighbors.map((n) => n.id).join(' ')];

  const s1 = await Screener.create();
  const stat: Verdicts = {};
  try {
    for (let i = 0; i < events.length; i += 64) {
      const batch = events.slice(i, i + 64);
      const ps = await s1.screenBatch(batch.map((event) => ({ event })));
      ps.forEach((p) => (stat[p.event_id] = row(p)));
    }
  } finally {
    await s1.close();
  }

  const s2 = await Screener.create();
  const learning: Verdicts = {};
  try {
    for (const event of events) {
      const p = await s2.screen(event);
      learning[p.event_id] = row(p);
      if (p.risk_score >= s2.policy.thresholds.screening) s2.addEscalated(event, p);
    }
  } finally {
    await s2.close();
  }
  return { static: stat, learning };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const v = await computeVerdicts();
  writeFileSync(SNAPSHOT_PATH, JSON.stringify(v, null, 0).replace(/\],"/g, '],\n"') + '\n');
  console.log(`wrote ${SNAPSHOT_PATH}: ${Object.keys(v.static).length} verdicts × 2 passes`);
}
