/**
 * train:screening — trains the screening classifier on the shipped corpus (data/labelled/corpus/**,
 * the eval set's dev split, the exemplar bank) plus any --file, reports grouped cross-validation,
 * and writes the weights (default data/models/screening/).
 *
 *   npx tsx scripts/train-screening.ts [--file team.jsonl ...] [--out DIR] [--grid] [--folds 5] [--json] [--hyper '{"buckets":262144}']
 *
 * --grid tries a small grid of hyper-parameters by cross-validation (grouped by writer batch) and
 * keeps the best by out-of-fold F1 of the fused score (rules + classifier, no kNN: the exemplars
 * are training rows). Never reads data/labelled/blind/ nor the eval set's test split.
 */
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadGlove } from '../src/embed/glove-vectors.js';
import { defaultPolicy, type Policy } from '../src/screen/policy.js';
import { DEFAULT_CLASSIFIER_DIR, saveClassifier, type ClassifierOutput } from '../src/screen/classifier/model.js';
import { DEFAULT_HYPER, fusedOof, loadLabelledFile, scoresOf, shippedTrainingRows, trainClassifier, type Hyper, type Scores } from '../src/screen/classifier/train.js';

export const DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

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
      'fusion-grid': { type: 'boolean', default: false },
      hyper: { type: 'string' },
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
    ? [0, 0.3, 0.5, 0.7].flatMap((sparseDropout) => [1e-4, 1e-3].map((l2) => ({ ...DEFAULT_HYPER, sparseDropout, l2 })))
    : [{ ...DEFAULT_HYPER, ...(args.hyper ? (JSON.parse(args.hyper) as Partial<Hyper>) : {}) }];
  const tried: { hyper: Hyper; f1: number; fa: number }[] = [];
  for (const h of grid) {
    const out = evaluateHyper(h);
    tried.push({ hyper: h, f1: out.cv.fused.f1, fa: out.cv.fused.falseAlarmRate });
    log(`dropout ${h.sparseDropout} hidden ${h.hidden} lr ${h.lr} epochs ${h.epochs} l2 ${h.l2}: CV fused F1 ${f3(out.cv.fused.f1)} FA ${pct(out.cv.fused.falseAlarmRate)}; classifier alone F1 ${f3(out.cv.classifier.f1)}; rules alone F1 ${f3(out.cv.rules.f1)}`);
    if (!best || out.cv.fused.f1 > best.out.cv.fused.f1) best = { h, out };
  }
  const { res, cv } = best!.out;
  let fused = best!.out.fused;
  // The fusion's classifier settings (policy.classifier.floor, weights.classifier / classifier_benign), by the same out-of-fold outputs.
  const fusionGrid: { floor: number; w: number; benign: number; s: Scores }[] = [];
  if (args['fusion-grid']) {
    for (const floor of [0.2, 0.3, 0.4])
      for (const w of [1, 1.1, 1.2, 1.3, 1.6])
        for (const benign of [0, 0.2, 0.4, 0.6]) {
          const p: Policy = { ...policy, classifier: { floor }, weights: { ...policy.weights, classifier: w, classifier_benign: benign } };
          const s = scoresOf(rows, fusedOof(rows, res.oof, p));
          fusionGrid.push({ floor, w, benign, s });
          log(`fusion floor ${floor} w ${w} benign ${benign}: F1 ${f3(s.f1)} P ${pct(s.precision)} R ${pct(s.recall)} FA ${pct(s.falseAlarmRate)}`);
        }
    // Best F1 among the settings that keep false alarms at or under 8% of the (hard) benign rows.
    const top = [...fusionGrid].filter((t) => t.s.falseAlarmRate <= 0.08).sort((a, b) => b.s.f1 - a.s.f1).slice(0, 5);
    log(`best fusion settings: ${top.map((t) => `floor ${t.floor} w ${t.w} benign ${t.benign} F1 ${f3(t.s.f1)} FA ${pct(t.s.falseAlarmRate)}`).join(' | ')}`);
  }
  fused = fusedOof(rows, res.oof, policy);
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
