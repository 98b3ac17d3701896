/**
 * train:screening — trains the screening classifier on the shipped corpus (data/labelled/corpus/**,
 * the eval set's dev split, the exemplar bank) plus any --file, reports grouped cross-validation,
 * and writes the weights (default data/models/screening/).
 *
 *   npx tsx scripts/train-screening.ts [--file team.jsonl ...] [--out DIR] [--grid] [--folds 5] [--json]
 *
 * --grid tries a small grid of hyper-parameters by cross-validation (grouped by writer batch) and
 * keeps the best by out-of-fold F1 of the fused score (rules + classifier, no kNN: the exemplars
 * are training rows). Never reads data/labelled/blind/ nor the eval set's test split.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadGlove } from '../src/embed/glove-vectors.js';
import type { RiskCategory } from '../src/models/index.js';
import { ruleSignals, scoreEvent } from '../src/screen/fusion.js';
import { defaultPolicy, type Policy } from '../src/screen/policy.js';
import { DEFAULT_CLASSIFIER_DIR, saveClassifier, type Classify, type ClassifierOutput } from '../src/screen/classifier/model.js';
import { DEFAULT_HYPER, loadLabelledFile, shippedTrainingRows, trainClassifier, type Hyper, type LabelledRow } from '../src/screen/classifier/train.js';

export const DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

interface Scores {
  n: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  f1: number;
  falseAlarmRate: number;
  categoryAccuracy: number;
}

export function scoresOf(rows: readonly { should_escalate: boolean; category: string }[], decided: readonly { escalate: boolean; category: string }[]): Scores {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let catOk = 0;
  rows.forEach((r, i) => {
    const d = decided[i];
    if (r.should_escalate && d.escalate) {
      tp++;
      if (d.category === r.category) catOk++;
    } else if (r.should_escalate) fn++;
    else if (d.escalate) fp++;
    else tn++;
  });
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return { n: rows.length, tp, fp, fn, tn, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, falseAlarmRate: fp + tn ? fp / (fp + tn) : 0, categoryAccuracy: tp ? catOk / tp : 0 };
}

/** The fused decision per row with the out-of-fold classifier output standing in for the classifier. */
export function fusedOof(rows: readonly LabelledRow[], oof: readonly ClassifierOutput[], policy: Policy): { escalate: boolean; category: RiskCategory; score: number }[] {
  return rows.map((r, i) => {
    const stand: Classify = { id: 'oof', predict: () => oof[i] };
    const event = { event_id: r.id, event_type: 'message_created' as const, platform: 'discord' as const, channel_id: 'cv', user_id: 'u', author_id: 'u', content: r.content, created_at: '2026-01-01T00:00:00.000Z', metadata: {} };
    const s = scoreEvent({ event }, policy, stand, ruleSignals(event, policy));
    return { escalate: s.risk_score >= policy.thresholds.screening, category: s.risk_category, score: s.risk_score };
  });
}

const f3 = (x: number) => x.toFixed(3);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      file: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      grid: { type: 'boolean', default: false },
      folds: { type: 'string', default: '5' },
      json: { type: 'boolean', default: false },
    },
  });
  const log = (m: string) => console.error(`[train] ${m}`);
  const glove = loadGlove();
  const vectorsId = `${glove.source} ${glove.size}x${glove.dim} int8`;
  const rows = shippedTrainingRows(DATA_DIR);
  for (const f of args.file ?? []) rows.push(...loadLabelledFile(f));
  log(`${rows.length} rows from ${[...new Set(rows.map((r) => r.source))].length} files, ${new Set(rows.map((r) => r.group)).size} writer batches`);
  const folds = Number(args.folds);
  const policy = defaultPolicy;

  const evaluateHyper = (h: Hyper) => {
    const res = trainClassifier(rows, glove, vectorsId, policy, h, { folds, log });
    const oofOut: ClassifierOutput[] = res.oof;
    const fused = fusedOof(rows, oofOut, policy);
    const clsAlone = scoresOf(rows, res.oof.map((o) => ({ escalate: o.escalate >= policy.thresholds.screening, category: o.category })));
    const rulesAlone = scoresOf(rows, fusedOof(rows, oofOut.map((o) => ({ ...o, escalate: 0 })), { ...policy, weights: { ...policy.weights, classifier: 0, classifier_benign: 0 } }));
    return { res, fused, cv: { fused: scoresOf(rows, fused), classifier: clsAlone, rules: rulesAlone } };
  };

  let best: { h: Hyper; out: ReturnType<typeof evaluateHyper> } | undefined;
  const grid: Hyper[] = args.grid
    ? [0.1, 0.3].flatMap((lr) => [8, 16].flatMap((epochs) => [1e-6, 1e-5].map((l2) => ({ ...DEFAULT_HYPER, lr, epochs, l2 }))))
    : [DEFAULT_HYPER];
  const tried: { hyper: Hyper; f1: number; fa: number }[] = [];
  for (const h of grid) {
    const out = evaluateHyper(h);
    tried.push({ hyper: h, f1: out.cv.fused.f1, fa: out.cv.fused.falseAlarmRate });
    log(`lr ${h.lr} epochs ${h.epochs} l2 ${h.l2}: CV fused F1 ${f3(out.cv.fused.f1)} FA ${pct(out.cv.fused.falseAlarmRate)}; classifier alone F1 ${f3(out.cv.classifier.f1)}; rules alone F1 ${f3(out.cv.rules.f1)}`);
    if (!best || out.cv.fused.f1 > best.out.cv.fused.f1) best = { h, out };
  }
  const { res, fused, cv } = best!.out;
  // Per kind and per source, fused out-of-fold.
  const byKind: Record<string, Scores> = {};
  const kinds = [...new Set(rows.map((r) => `${r.should_escalate ? '+' : '-'}${r.kind ?? r.category}`))].sort();
  for (const k of kinds) {
    const idx = rows.map((r, i) => (`${r.should_escalate ? '+' : '-'}${r.kind ?? r.category}` === k ? i : -1)).filter((i) => i >= 0);
    byKind[k] = scoresOf(idx.map((i) => rows[i]), idx.map((i) => fused[i]));
  }
  res.weights.meta.cv = {
    folds,
    grouping: 'writer batch (corpus file; blocks of 40 ids in the dev split and exemplar bank)',
    fused: cv.fused,
    classifierAlone: cv.classifier,
    rulesAlone: cv.rules,
    grid: tried.map((t) => ({ lr: t.hyper.lr, epochs: t.hyper.epochs, l2: t.hyper.l2, f1: Number(f3(t.f1)), falseAlarmRate: Number(f3(t.fa)) })),
  };
  const out = args.out ?? DEFAULT_CLASSIFIER_DIR;
  saveClassifier(res.weights, out);
  if (args.json) {
    console.log(JSON.stringify({ out, meta: res.weights.meta, byKind }, null, 2));
    return;
  }
  console.log(`classifier ${res.weights.meta.id} → ${out}`);
  console.log(`corpus ${res.weights.meta.corpusHash}: ${rows.length} rows (${Object.entries(res.weights.meta.sources).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  console.log(`\n${folds}-fold grouped cross-validation (out-of-fold, no kNN):`);
  for (const [name, s] of Object.entries(cv)) console.log(`  ${name.padEnd(11)} P ${pct(s.precision)}  R ${pct(s.recall)}  F1 ${f3(s.f1)}  false alarms ${pct(s.falseAlarmRate)}  category acc ${pct(s.categoryAccuracy)}`);
  console.log('\nper kind (fused, out-of-fold): + should escalate (recall), - benign (false alarms)');
  for (const [k, s] of Object.entries(byKind)) console.log(`  ${k.padEnd(28)} n=${String(s.n).padStart(4)}  ${k.startsWith('+') ? `recall ${pct(s.recall)}` : `false alarms ${pct(s.falseAlarmRate)}`}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exitCode = 1;
  });
}
