import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SNAPSHOT_PATH, computeVerdicts, type Verdicts } from '../../scripts/snapshot-verdicts.js';

// The screener's verdicts on the labelled evaluation set, pinned bit for bit (risk_score,
// category, level, nearest neighbour ids): a performance change must not move any of them. A
// change MEANT to move verdicts (a new model, signals, exemplars) regenerates the snapshot with
// `npm run snapshot:verdicts` and says so in its commit.
describe('verdicts on data/labelled/screening-eval.jsonl', () => {
  it('are the snapshot, bit for bit (static bank and learning from escalations)', async () => {
    const want = JSON.parse(readFileSync(SNAPSHOT_PATH, 'utf8')) as { static: Verdicts; learning: Verdicts };
    const got = await computeVerdicts();
    for (const pass of ['static', 'learning'] as const) {
      const moved = Object.keys(want[pass]).filter((id) => JSON.stringify(got[pass][id]) !== JSON.stringify(want[pass][id]));
      expect(moved.slice(0, 10).map((id) => ({ id, want: want[pass][id], got: got[pass][id] })), `${pass}: ${moved.length} verdicts moved (npm run snapshot:verdicts if that is intended)`).toEqual([]);
      expect(Object.keys(got[pass]).length).toBe(Object.keys(want[pass]).length);
    }
  }, 120_000);
});
