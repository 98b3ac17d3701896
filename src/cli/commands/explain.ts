import { readFileSync } from 'node:fs';
import { RiskpipeError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Event, RiskPrediction } from '../../models/index.js';
import { streamNames } from '../../stream/keys.js';
import { eventFromInput, routeFor, routeStream } from '../../screen/worker.js';
import { explainSettings, resolveSettings } from '../settings.js';
import { loadScreener } from './screen.js';

// Declared once, in ../settings.ts.
export { explainSettings };

export interface Explanation {
  event: Event;
  prediction: RiskPrediction;
  threshold: number;
  routed_to: string;
}

function num(n: number, digits = 3): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}
function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}
function cut(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length <= n ? one : `${one.slice(0, n - 1)}…`;
}
function bar(v: number, width = 20): string {
  const n = Math.max(0, Math.min(width, Math.round(v * width)));
  return '█'.repeat(n) + '·'.repeat(width - n);
}

/** The full breakdown of one verdict as terminal text: verdict, signals, categories, neighbours, thresholds. */
export function formatExplanation(x: Explanation): string {
  const p = x.prediction;
  const d = p.details;
  const lines: string[] = [];
  lines.push(`Verdict      ${p.risk_level} ${p.risk_category}   score ${num(p.risk_score)}   confidence ${num(p.confidence, 2)}`);
  lines.push(`Routed to    ${x.routed_to}   (score ${p.risk_score >= x.threshold ? '>=' : '<'} threshold ${num(x.threshold, 2)})`);
  lines.push(`Reason       ${d.reason}`);
  lines.push(`Flags        ${p.flags.length > 0 ? p.flags.join(', ') : '(none)'}`);
  lines.push(`Event        ${x.event.event_id}  ${x.event.platform}/${x.event.channel_id ?? '-'}  author ${x.event.author_id}`);
  lines.push(`Text         "${cut(x.event.content, 160)}"`);
  lines.push('');

  const signals = Object.entries(d.signals).sort((a, b) => Math.abs(b[1].contribution) - Math.abs(a[1].contribution));
  lines.push('Signals (by contribution)');
  if (signals.length === 0) lines.push('  (none)');
  else {
    const w = Math.max(6, ...signals.map(([name]) => name.length)) + 2;
    lines.push(`  ${pad('signal', w)}${lpad('value', 8)}${lpad('weight', 8)}${lpad('contrib', 9)}  category: evidence`);
    for (const [name, s] of signals) {
      const ev = s.evidence && s.evidence.length > 0 ? s.evidence.join('; ') : '';
      const extra = [s.category, ev].filter(Boolean).join(': ');
      lines.push(`  ${pad(name, w)}${lpad(num(s.value), 8)}${lpad(num(s.weight), 8)}${lpad(num(s.contribution), 9)}  ${cut(extra, 110)}`);
    }
  }
  lines.push('');

  const cats = Object.entries(d.category_scores).sort((a, b) => b[1] - a[1]);
  lines.push('Category scores');
  if (cats.length === 0) lines.push('  (none)');
  for (const [c, v] of cats) lines.push(`  ${pad(c, 22)}${lpad(num(v), 6)}  ${bar(v)}`);
  lines.push('');

  lines.push('Nearest neighbours');
  if (d.neighbors.length === 0) lines.push('  (none)');
  for (const n of d.neighbors) {
    lines.push(`  ${lpad(num(n.similarity), 6)}  ${pad(n.label, 20)}${pad(n.source, 10)}${pad(cut(n.id, 24), 26)}${n.text ? `"${cut(n.text, 60)}"` : ''}`);
  }
  lines.push('');

  lines.push(`Thresholds   screening ${num(d.thresholds.screening, 2)}   medium ${num(d.thresholds.medium, 2)}   high ${num(d.thresholds.high, 2)}${x.threshold !== d.thresholds.screening ? `   (routing override ${num(x.threshold, 2)})` : ''}`);
  lines.push(`Model        ${p.model_version}   policy fingerprint ${p.policy_fingerprint}   screened in ${num(p.screening_time_ms, 2)} ms`);
  return `${lines.join('\n')}\n`;
}

function readEventInput(flags: Record<string, unknown>): unknown {
  const text = flags.text;
  const file = flags.file;
  if (typeof text === 'string' && typeof file === 'string') throw new RiskpipeError('RP_ERR_CLI_INPUT', 'explain takes --text or --file, not both');
  if (typeof text === 'string') return { content: text };
  if (typeof file === 'string') {
    let raw: string;
    try {
      raw = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (err) {
      throw new RiskpipeError('RP_ERR_CLI_INPUT', `cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return JSON.parse(raw);
    } catch (err) {
      throw new RiskpipeError('RP_ERR_CLI_INPUT', `${file === '-' ? 'stdin' : file} is not one JSON event: ${(err as Error).message}`, { cause: err });
    }
  }
  throw new RiskpipeError('RP_ERR_CLI_INPUT', 'explain needs --text "<message>" or --file <event.json> (- for stdin)');
}

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(explainSettings, flags, env);
  const input = readEventInput(flags);
  const parsed = eventFromInput(input);
  if (!parsed.ok) {
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `invalid event: ${parsed.detail}`, { errors: parsed.errors });
  }
  const log = createLogger({ level: cfg.logLevel });
  const { screener, threshold } = await loadScreener(cfg, log);
  try {
    const [prediction] = await screener.screenBatch([{ event: parsed.event }]);
    const x: Explanation = { event: parsed.event, prediction, threshold, routed_to: routeStream(routeFor(prediction.risk_score, threshold), streamNames(cfg.prefix)) };
    process.stdout.write(flags.json === true ? `${JSON.stringify(x, null, 2)}\n` : formatExplanation(x));
  } finally {
    await screener.close();
  }
}
