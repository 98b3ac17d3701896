import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RiskpipeError } from '../../common/errors.js';
import { loadGlove } from '../../embed/glove-vectors.js';
import { saveClassifier } from '../../screen/classifier/model.js';
import { DEFAULT_HYPER, fusedOof, loadLabelledFile, scoresOf, shippedTrainingRows, trainClassifier } from '../../screen/classifier/train.js';
import { defaultPolicy } from '../../screen/policy.js';
import { resolveSettings } from '../settings.js';

/** The data folder shipped with riskpipe (corpus, eval set, exemplar bank); the same path from src/ and dist/. */
const DATA_DIR = fileURLToPath(new URL('../../../data/', import.meta.url));

export const trainSettings = {
  file: { flag: 'file', schema: z.array(z.string().min(1)).default([]) },
  out: { flag: 'out', schema: z.string().min(1).default('riskpipe-classifier') },
  shipped: { flag: 'shipped', schema: z.boolean().default(true) },
  folds: { flag: 'folds', schema: z.coerce.number().int().min(2).max(20).default(5) },
};

/**
 * `riskpipe train --file team.jsonl [--out DIR] [--no-shipped]`: retrains the screening classifier
 * on the shipped corpus plus the team's labelled rows, reports grouped cross-validation (each
 * file one writer batch) and writes the classifier (model.json with its fingerprint, sparse.bin)
 * to DIR, for `--classifier DIR`.
 */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const files = typeof flags.file === 'string' ? [flags.file] : flags.file;
  const cfg = resolveSettings(trainSettings, { ...flags, file: files }, env);
  const rows = cfg.shipped ? shippedTrainingRows(DATA_DIR) : [];
  for (const f of cfg.file) for (const r of loadLabelledFile(resolve(f))) rows.push(r);
  if (rows.length < 50) throw new RiskpipeError('RP_ERR_CLI_INPUT', `only ${rows.length} labelled rows: pass --file with more (or keep the shipped corpus)`);
  if (!rows.some((r) => r.should_escalate) || rows.every((r) => r.should_escalate)) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'the rows need both escalated and benign examples');
  const glove = loadGlove();
  const log = (m: string) => process.stderr.write(`train: ${m}\n`);
  const res = trainClassifier(rows, glove, `${glove.source} ${glove.size}x${glove.dim} int8`, defaultPolicy, DEFAULT_HYPER, { folds: cfg.folds, log });
  const fused = scoresOf(rows, fusedOof(rows, res.oof, defaultPolicy));
  const alone = scoresOf(rows, res.oof.map((o) => ({ escalate: o.escalate >= defaultPolicy.thresholds.screening, category: o.category })));
  res.weights.meta.cv = { folds: cfg.folds, grouping: 'writer batch (input file)', fused, classifierAlone: alone };
  const out = resolve(cfg.out);
  saveClassifier(res.weights, out);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  process.stdout.write(
    [
      `classifier ${res.weights.meta.id} written to ${out}`,
      `trained on ${rows.length} rows (${Object.entries(res.weights.meta.sources).map(([k, v]) => `${k} ${v}`).join(', ')}), corpus ${res.weights.meta.corpusHash}`,
      `${cfg.folds}-fold cross-validation, grouped by file (rules + classifier, no kNN): P ${pct(fused.precision)} R ${pct(fused.recall)} F1 ${fused.f1.toFixed(3)} false alarms ${pct(fused.falseAlarmRate)} category accuracy ${pct(fused.categoryAccuracy)}`,
      `use it: riskpipe screen-worker --classifier ${out}   (or screen / explain / eval --classifier ${out})`,
    ].join('\n') + '\n',
  );
}
