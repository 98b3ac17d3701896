import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { RiskpipeError } from '../../common/errors.js';
import { createLogger, type Logger } from '../../common/logger.js';
import type { Event, FieldError, RiskPrediction } from '../../models/index.js';
import { streamNames } from '../../stream/keys.js';
import type { StreamNames } from '../../stream/types.js';
import type { OwnedScreener } from '../../screen/service.js';
import type { Embedder } from '../../screen/types.js';
import { RecentVectorsEmbedder, eventFromInput, routeFor, routeStream, type ScreenFn } from '../../screen/worker.js';
import { resolveSettings, scoringSettings, screenSettings, type Resolved } from '../settings.js';

// Declared once, in ../settings.ts (flags, env, defaults, help).
export { scoringSettings, screenSettings };

export type ScoringConfig = Resolved<typeof scoringSettings>;

/**
 * The embedder and Screener of the scoring settings, with the threshold override applied to the
 * policy so that predictions and routing agree. Loaded lazily: `riskpipe send` never pays for it.
 * `embedderIn` (the benchmark's) replaces the one the settings describe; the Screener owns it.
 */
export async function loadScreener(cfg: ScoringConfig, log: Logger, embedderIn?: Embedder): Promise<OwnedScreener> {
  const [{ createEmbedder }, { Screener }, { policyFromJson }] = await Promise.all([
    import('../../embed/index.js'),
    import('../../screen/screener.js'),
    import('../../screen/policy.js'),
  ]);
  const embedder = new RecentVectorsEmbedder(embedderIn ?? (await createEmbedder({ kind: cfg.embedder, modelDir: cfg.modelDir })));
  const policy = cfg.threshold === undefined ? undefined : policyFromJson({ thresholds: { screening: cfg.threshold } });
  const screener = await Screener.create({ embedder, policy, log, neighbors: cfg.neighbors });
  // A neighbour at the policy's full-vote similarity already speaks for copies of a message:
  // the worker does not index those again.
  return { screener, threshold: screener.policy.thresholds.screening, learnMaxSimilarity: screener.policy.similarity.fullSimilarity };
}

/** One input line's outcome, in input order. */
export type LineResult =
  | { line: number; ok: true; event: Event; prediction: RiskPrediction; routedTo: string }
  | { line: number; ok: false; eventId: string | null; error: string; errors: FieldError[] };

/** The fields `riskpipe screen` prints per event. */
export function summary(r: Extract<LineResult, { ok: true }>) {
  const p = r.prediction;
  return {
    line: r.line,
    event_id: p.event_id,
    risk_score: p.risk_score,
    risk_level: p.risk_level,
    risk_category: p.risk_category,
    flags: p.flags,
    routed_to: r.routedTo,
    reason: p.details.reason,
  };
}

/**
 * Scores JSON Lines offline: full events or `{"event_id", "content"}` (ids generated when
 * missing). Calls `emit` once per non-blank line, in input order; a line that is not JSON or not a
 * valid event gives an error result and the others are still scored. Scoring goes in chunks of
 * `chunkSize` lines.
 */
export async function screenLines(
  lines: AsyncIterable<string> | Iterable<string>,
  screener: ScreenFn,
  opts: { threshold: number; streams: StreamNames; chunkSize?: number; emit: (r: LineResult) => void },
): Promise<{ scored: number; failed: number }> {
  const chunkSize = opts.chunkSize ?? 256;
  let lineNo = 0;
  let scored = 0;
  let failed = 0;
  let chunk: ({ line: number; event: Event } | Extract<LineResult, { ok: false }>)[] = [];
  let idSeq = 0;
  const stamp = Date.now().toString(36);

  const flush = async () => {
    const todo = chunk.filter((c): c is { line: number; event: Event } => 'event' in c);
    let preds: (RiskPrediction | Error)[] = [];
    if (todo.length > 0) {
      try {
        preds = await screener.screenBatch(todo.map((t) => ({ event: t.event })));
      } catch {
        // Score one by one (in sequence: a batching embedder would regroup concurrent calls) so
        // that one failing event does not take the others down.
        preds = [];
        for (const t of todo) preds.push(await screener.screenBatch([{ event: t.event }]).then((p) => p[0], (e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
      }
    }
    let k = 0;
    for (const c of chunk) {
      if (!('event' in c)) {
        failed++;
        opts.emit(c);
        continue;
      }
      const p = preds[k++];
      if (p instanceof Error) {
        failed++;
        opts.emit({ line: c.line, ok: false, eventId: c.event.event_id, error: `scoring failed: ${p.message}`, errors: [] });
      } else {
        scored++;
        opts.emit({ line: c.line, ok: true, event: c.event, prediction: p, routedTo: routeStream(routeFor(p.risk_score, opts.threshold), opts.streams) });
      }
    }
    chunk = [];
  };

  for await (const text of lines) {
    lineNo++;
    if (text.trim() === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      chunk.push({ line: lineNo, ok: false, eventId: null, error: `not valid JSON: ${(err as Error).message}`, errors: [] });
      if (chunk.length >= chunkSize) await flush();
      continue;
    }
    const parsed = eventFromInput(raw, () => `line-${lineNo}-${stamp}-${idSeq++}`);
    if (parsed.ok) chunk.push({ line: lineNo, event: parsed.event });
    else {
      const id = raw && typeof raw === 'object' && typeof (raw as { event_id?: unknown }).event_id === 'string' ? (raw as { event_id: string }).event_id : null;
      chunk.push({ line: lineNo, ok: false, eventId: id, error: parsed.detail, errors: parsed.errors });
    }
    if (chunk.length >= chunkSize) await flush();
  }
  await flush();
  return { scored, failed };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** A readable table: one row per line and its reason underneath. */
export function tableWriter(write: (s: string) => void) {
  let header = false;
  return (r: LineResult) => {
    if (!header) {
      write(`${pad('LINE', 6)}${pad('EVENT_ID', 26)}${pad('SCORE', 7)}${pad('LEVEL', 8)}${pad('CATEGORY', 21)}ROUTED_TO\n`);
      header = true;
    }
    if (!r.ok) {
      write(`${pad(String(r.line), 6)}${pad(cut(r.eventId ?? '-', 25), 26)}${pad('ERROR', 36)}\n      ${cut(r.error, 200)}\n`);
      return;
    }
    const p = r.prediction;
    write(
      `${pad(String(r.line), 6)}${pad(cut(p.event_id, 25), 26)}${pad(p.risk_score.toFixed(3), 7)}${pad(p.risk_level, 8)}${pad(p.risk_category, 21)}${r.routedTo}\n` +
        `      ${cut(p.details.reason.replace(/\s+/g, ' '), 200)}${p.flags.length > 0 ? `  [${p.flags.join(', ')}]` : ''}\n`,
    );
  };
}

async function* inputLines(file: string): AsyncIterable<string> {
  const stream = file === '-' ? process.stdin : createReadStream(file, { encoding: 'utf8' });
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } catch (err) {
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`, { cause: err });
  }
}

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(screenSettings, flags, env);
  const file = flags.file;
  if (typeof file !== 'string' || file === '') throw new RiskpipeError('RP_ERR_CLI_INPUT', 'screen needs --file <path> (JSON Lines; - for stdin)');
  const log = createLogger({ level: cfg.logLevel });
  const { screener, threshold } = await loadScreener(cfg, log);
  const json = flags.json === true;
  const out = (s: string) => process.stdout.write(s);
  const table = tableWriter(out);
  const routed = { reasoning: 0, low: 0 };
  const streams = streamNames(cfg.prefix);
  try {
    const { scored, failed } = await screenLines(inputLines(file), screener, {
      threshold,
      streams,
      emit: (r) => {
        if (!r.ok) process.stderr.write(`riskpipe: line ${r.line}: ${r.error}\n`);
        else if (r.routedTo === streams.reasoning) routed.reasoning++;
        else routed.low++;
        if (json) out(`${JSON.stringify(r.ok ? summary(r) : { line: r.line, event_id: r.eventId, error: r.error, errors: r.errors })}\n`);
        else table(r);
      },
    });
    if (!json) out(`\n${scored} scored (${routed.reasoning} to ${streams.reasoning}, ${routed.low} to ${streams.lowRisk}), ${failed} failed; threshold ${threshold}\n`);
    if (failed > 0) process.exitCode = 1;
  } finally {
    await screener.close();
  }
}
