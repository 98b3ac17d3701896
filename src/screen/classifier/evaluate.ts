/*
 * Measuring screening on labelled messages (`riskpipe eval`, scripts, tests): escalate
 * precision / recall / F1, the false-alarm rate on benign rows, category accuracy, per-category
 * and per-kind tables, a confusion matrix, and the misses and false alarms with their reasons.
 *
 * A row: {"content", "should_escalate", "category"?, "kind"?, "id"?}. should_escalate is required;
 * category defaults to "low_risk" for benign rows and is then not checked for escalated ones.
 */
import { readFileSync } from 'node:fs';
import { RiskpipeError } from '../../common/errors.js';
import type { RiskPrediction } from '../../models/index.js';

export interface LabelledMessage {
  id: string;
  content: string;
  should_escalate: boolean;
  category?: string;
  kind?: string;
}

export interface Rates {
  n: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  precision: number;
  recall: number;
  f1: number;
  falseAlarmRate: number;
}

export interface EvalResult {
  threshold: number;
  overall: Rates & { categoryAccuracy: number; categoryChecked: number };
  /** By labelled category: recall (escalated / n) and how many were given that category. */
  byCategory: Record<string, { n: number; escalated: number; recall: number; categoryCorrect: number; precision: number; predicted: number }>;
  /** By kind: recall for escalate rows, false-alarm rate for benign ones. */
  byKind: Record<string, { n: number; shouldEscalate: boolean; escalated: number; rate: number; categoryCorrect: number }>;
  /** confusion[labelled][predicted]; below the threshold counts as low_risk. */
  confusion: Record<string, Record<string, number>>;
  misses: { id: string; kind?: string; category?: string; score: number; predicted: string; content: string; reason: string }[];
  falseAlarms: { id: string; kind?: string; score: number; predicted: string; content: string; reason: string }[];
}

/** Reads labelled JSON Lines; every problem names its line. */
export function loadLabelledMessages(path: string): LabelledMessage[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `cannot read ${path}: ${(err as Error).message}`);
  }
  const out: LabelledMessage[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let r: Record<string, unknown>;
      try {
        r = JSON.parse(line) as Record<string, unknown>;
      } catch (err) {
        throw new RiskpipeError('RP_ERR_CLI_INPUT', `${path}:${i + 1}: not JSON (${(err as Error).message})`);
      }
      const content = r.content ?? r.text;
      if (typeof content !== 'string' || content.trim() === '') throw new RiskpipeError('RP_ERR_CLI_INPUT', `${path}:${i + 1}: content must be a non-empty string`);
      if (typeof r.should_escalate !== 'boolean') throw new RiskpipeError('RP_ERR_CLI_INPUT', `${path}:${i + 1}: should_escalate must be true or false`);
      const category = typeof r.category === 'string' ? r.category : typeof r.label === 'string' ? r.label : undefined;
      out.push({ id: typeof r.id === 'string' || typeof r.id === 'number' ? String(r.id) : `line-${i + 1}`, content, should_escalate: r.should_escalate, category, kind: typeof r.kind === 'string' ? r.kind : undefined });
    });
  return out;
}

export function rates(tp: number, fp: number, fn: number, tn: number): Rates {
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return { n: tp + fp + fn + tn, tp, fp, fn, tn, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, falseAlarmRate: fp + tn ? fp / (fp + tn) : 0 };
}

export function evaluatePredictions(rows: readonly LabelledMessage[], preds: readonly Pick<RiskPrediction, 'risk_score' | 'risk_category' | 'details'>[], threshold: number): EvalResult {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let catOk = 0;
  let catChecked = 0;
  const byCategory: EvalResult['byCategory'] = {};
  const byKind: EvalResult['byKind'] = {};
  const confusion: EvalResult['confusion'] = {};
  const misses: EvalResult['misses'] = [];
  const falseAlarms: EvalResult['falseAlarms'] = [];
  const predictedCount: Record<string, { n: number; ok: number }> = {};
  rows.forEach((r, i) => {
    const p = preds[i];
    const escalated = p.risk_score >= threshold;
    const predicted = escalated ? p.risk_category : 'low_risk';
    const label = r.category ?? (r.should_escalate ? 'unlabelled' : 'low_risk');
    (confusion[label] ??= {})[predicted] = (confusion[label][predicted] ?? 0) + 1;
    const kind = r.kind ?? label;
    const k = (byKind[kind] ??= { n: 0, shouldEscalate: r.should_escalate, escalated: 0, rate: 0, categoryCorrect: 0 });
    k.n++;
    if (escalated) {
      k.escalated++;
      const pc = (predictedCount[predicted] ??= { n: 0, ok: 0 });
      pc.n++;
      if (predicted === label) pc.ok++;
    }
    const reason = String(p.details?.reason ?? '');
    if (r.should_escalate) {
      const c = (byCategory[label] ??= { n: 0, escalated: 0, recall: 0, categoryCorrect: 0, precision: 0, predicted: 0 });
      c.n++;
      if (escalated) {
        tp++;
        c.escalated++;
        if (r.category) {
          catChecked++;
          if (p.risk_category === r.category) {
            catOk++;
            c.categoryCorrect++;
            k.categoryCorrect++;
          }
        }
      } else {
        fn++;
        misses.push({ id: r.id, kind: r.kind, category: r.category, score: p.risk_score, predicted, content: r.content, reason });
      }
    } else if (escalated) {
      fp++;
      falseAlarms.push({ id: r.id, kind: r.kind, score: p.risk_score, predicted, content: r.content, reason });
    } else tn++;
  });
  for (const k of Object.values(byKind)) k.rate = k.n ? k.escalated / k.n : 0;
  for (const [c, v] of Object.entries(byCategory)) {
    v.recall = v.n ? v.escalated / v.n : 0;
    v.predicted = predictedCount[c]?.n ?? 0;
    v.precision = v.predicted ? (predictedCount[c]?.ok ?? 0) / v.predicted : 0;
  }
  misses.sort((a, b) => b.score - a.score);
  falseAlarms.sort((a, b) => b.score - a.score);
  return { threshold, overall: { ...rates(tp, fp, fn, tn), categoryAccuracy: catChecked ? catOk / catChecked : 0, categoryChecked: catChecked }, byCategory, byKind, confusion, misses, falseAlarms };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** The report as text (what `riskpipe eval` prints). */
export function formatEval(r: EvalResult, opts: { maxListed?: number; title?: string } = {}): string {
  const L: string[] = [];
  const o = r.overall;
  L.push(`${opts.title ?? 'screening eval'}: ${o.n} messages (${o.tp + o.fn} should escalate, ${o.fp + o.tn} benign), threshold ${r.threshold}`);
  L.push(`precision ${pct(o.precision)}   recall ${pct(o.recall)}   F1 ${o.f1.toFixed(3)}   false alarms ${pct(o.falseAlarmRate)} (${o.fp}/${o.fp + o.tn})   category accuracy ${pct(o.categoryAccuracy)} (of ${o.categoryChecked} escalated)`);
  L.push('', 'by category (labelled):           recall   escalated/n   right category   precision as predicted');
  for (const [c, v] of Object.entries(r.byCategory).sort()) L.push(`  ${c.padEnd(30)} ${pct(v.recall).padStart(7)}   ${`${v.escalated}/${v.n}`.padStart(11)}   ${String(v.categoryCorrect).padStart(14)}   ${v.predicted ? `${pct(v.precision)} of ${v.predicted}` : '-'}`);
  L.push('', 'by kind:  (+) should escalate: recall   (−) benign: false-alarm rate');
  for (const [k, v] of Object.entries(r.byKind).sort((a, b) => Number(b[1].shouldEscalate) - Number(a[1].shouldEscalate) || a[0].localeCompare(b[0]))) {
    L.push(`  ${v.shouldEscalate ? '+' : '−'} ${k.padEnd(30)} ${pct(v.rate).padStart(7)}  ${v.escalated}/${v.n}`);
  }
  const cols = ['low_risk', 'threat', 'targeted_harassment', 'hate_speech', 'self_harm', 'sexual_content', 'spam', 'toxic'];
  const short: Record<string, string> = { low_risk: 'low', threat: 'thr', targeted_harassment: 'har', hate_speech: 'hate', self_harm: 'self', sexual_content: 'sex', spam: 'spam', toxic: 'tox' };
  L.push('', 'confusion (rows: labelled, columns: predicted; below the threshold = low):');
  L.push(`  ${''.padEnd(22)}${cols.map((c) => short[c].padStart(6)).join('')}`);
  for (const row of Object.keys(r.confusion).sort((a, b) => cols.indexOf(a) - cols.indexOf(b))) L.push(`  ${row.padEnd(22)}${cols.map((c) => String(r.confusion[row][c] ?? 0).padStart(6)).join('')}`);
  const max = opts.maxListed ?? 30;
  if (r.misses.length) {
    L.push('', `misses (${r.misses.length}${r.misses.length > max ? `, first ${max}` : ''}), highest score first:`);
    for (const m of r.misses.slice(0, max)) L.push(`  ${m.id} [${m.kind ?? m.category ?? '?'}] ${m.score.toFixed(2)} ${JSON.stringify(m.content.slice(0, 120))}\n      ${m.reason}`);
  }
  if (r.falseAlarms.length) {
    L.push('', `false alarms (${r.falseAlarms.length}${r.falseAlarms.length > max ? `, first ${max}` : ''}):`);
    for (const m of r.falseAlarms.slice(0, max)) L.push(`  ${m.id} [${m.kind ?? '?'}] ${m.score.toFixed(2)} → ${m.predicted} ${JSON.stringify(m.content.slice(0, 120))}\n      ${m.reason}`);
  }
  return L.join('\n');
}
