import type { FieldError } from '../../models/index.js';

/** One event the server (or the JSON parser) refused. */
export interface Rejection {
  /** 1-based line (JSON Lines) or item (JSON array) number. */
  line: number;
  /** "line 7" / "item 7". */
  at: string;
  event_id: string | null;
  /** The server's message (or "not valid JSON"); rejections are grouped by it. */
  error: string;
  /** The JSON parser's message for a line that is not JSON. */
  detail?: string;
  /** The server's per-field problems. */
  errors?: FieldError[];
}

/** Rejections with the same message, with a few places to look at. */
export interface RejectionGroup {
  error: string;
  count: number;
  examples: { line: number; at: string; event_id: string | null }[];
}

/** What `riskpipe send` did; `--json` prints exactly this. */
export interface SendSummary {
  /** Events read from the input, lines that are not JSON included. */
  total: number;
  /** Events the server answered for: queued + duplicates + rejected by the server. */
  sent: number;
  queued: number;
  duplicates: number;
  /** Refused by the server or not JSON. */
  rejected: number;
  /** Never answered: retries exhausted, a fatal answer, or interrupted. */
  failed: number;
  /** Batch requests made, retries not counted (a 413 split makes more). */
  batches: number;
  /** Requests retried after 503/429/502/504, a timeout or a connection failure. */
  retries: number;
  /** Why requests were retried, most frequent first, e.g. "503 RP_ERR_QUEUE_FULL", "ECONNREFUSED". */
  retry_causes: { cause: string; count: number }[];
  /** Rejections grouped by message, most frequent first. */
  rejection_reasons: RejectionGroup[];
  /** Every rejection, in input order. */
  rejections: Rejection[];
  /** Why events failed, one message per distinct reason. */
  failures: string[];
  /** The answer that stopped the run (e.g. API key rejected), or null. */
  fatal: string | null;
  /** True when the run was stopped by a signal before everything was sent. */
  interrupted: boolean;
  elapsed_ms: number;
  /** The server's batch_id of each answered batch request: follow one with `riskpipe batch <id> --wait`. */
  batch_ids: string[];
}

/** Running counts while sending; turned into a SendSummary at the end. */
export interface Tally {
  total: number;
  sent: number;
  queued: number;
  duplicates: number;
  failed: number;
  batches: number;
  rejections: Rejection[];
  retryCauses: Map<string, number>;
  failures: Map<string, number>;
  fatal: string | null;
  interrupted: boolean;
  /** batch_id of every answered batch request, in the order answered. */
  batchIds?: string[];
}

/** Places shown per rejection reason: enough to find the pattern, short enough to read. */
export const EXAMPLES_PER_REASON = 3;

export function summarize(t: Tally, elapsedMs: number): SendSummary {
  const rejections = [...t.rejections].sort((a, b) => a.line - b.line);
  const groups = new Map<string, RejectionGroup>();
  for (const r of rejections) {
    let g = groups.get(r.error);
    if (!g) groups.set(r.error, (g = { error: r.error, count: 0, examples: [] }));
    g.count++;
    if (g.examples.length < EXAMPLES_PER_REASON) g.examples.push({ line: r.line, at: r.at, event_id: r.event_id });
  }
  const retryCauses = [...t.retryCauses].map(([cause, count]) => ({ cause, count })).sort((a, b) => b.count - a.count);
  const failures = [...t.failures].sort((a, b) => b[1] - a[1]).map(([msg]) => msg);
  // The fatal answer first: it is why everything after it failed.
  if (t.fatal !== null) failures.sort((a, b) => Number(b === t.fatal) - Number(a === t.fatal));
  return {
    total: t.total,
    sent: t.sent,
    queued: t.queued,
    duplicates: t.duplicates,
    rejected: rejections.length,
    failed: t.failed,
    batches: t.batches,
    retries: retryCauses.reduce((n, c) => n + c.count, 0),
    retry_causes: retryCauses,
    rejection_reasons: [...groups.values()].sort((a, b) => b.count - a.count || a.examples[0].line - b.examples[0].line),
    rejections,
    failures,
    fatal: t.fatal,
    interrupted: t.interrupted,
    elapsed_ms: elapsedMs,
    batch_ids: t.batchIds ?? [],
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The summary as a person reads it, several lines, no trailing newline. */
export function formatSummary(s: SendSummary): string {
  const lines = [
    `sent ${s.sent} of ${plural(s.total, 'event')} in ${plural(s.batches, 'batch', 'batches')} (${(s.elapsed_ms / 1000).toFixed(1)} s): ` +
      `${s.queued} queued, ${s.duplicates} duplicates, ${s.rejected} rejected, ${s.failed} failed`,
  ];
  if (s.retries > 0) lines.push(`retried ${plural(s.retries, 'request')}: ${s.retry_causes.map((c) => `${c.count}× ${c.cause}`).join(', ')}`);
  if (s.rejection_reasons.length > 0) lines.push('rejected:');
  for (const g of s.rejection_reasons) {
    const where = g.examples.map((e) => `${e.at}${e.event_id ? ` (${e.event_id})` : ''}`).join(', ');
    const more = g.count > g.examples.length ? ` and ${g.count - g.examples.length} more` : '';
    lines.push(`  ${g.count}× ${g.error}: ${where}${more}`);
  }
  for (const f of s.failures) lines.push(`failed: ${f}`);
  if (s.interrupted) lines.push('interrupted: events not sent yet are counted as failed');
  const ids = s.batch_ids ?? [];
  if (ids.length > 0) {
    const shown = ids.length > 3 ? `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more` : ids.join(', ');
    lines.push(`${ids.length === 1 ? 'batch' : 'batches'} ${shown}: follow with \`riskpipe batch ${ids[0]} --wait\``);
  }
  return lines.join('\n');
}
