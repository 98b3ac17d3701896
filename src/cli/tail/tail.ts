// Following a stream without a consumer group is a Redis-bus tool: it lives in src/stream/redis/.
// What is left here is presentation.
import type { StreamEntry } from '../../stream/redis/tail.js';

export { tailStream, type StreamEntry, type TailOptions } from '../../stream/redis/tail.js';

/** Fields that hold JSON: the event and verdict of raw/routed entries, the original fields of a dead letter. */
const JSON_FIELDS = ['event', 'prediction', 'fields'];

function parseJsonFields(fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (JSON_FIELDS.includes(k)) {
      try {
        out[k] = JSON.parse(v);
        continue;
      } catch {
        /* keep the raw text: a poison entry is shown as it is */
      }
    }
    out[k] = v;
  }
  return out;
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

/** The event id of any entry kind: its own field, its event's, or (dead letters) the original entry's. */
function eventIdOf(parsed: Record<string, unknown>): string {
  if (typeof parsed.event_id === 'string') return parsed.event_id;
  const ev = parsed.event as { event_id?: unknown } | undefined;
  if (ev && typeof ev === 'object' && typeof ev.event_id === 'string') return ev.event_id;
  const orig = parsed.fields as { event_id?: unknown } | undefined;
  if (orig && typeof orig === 'object' && typeof orig.event_id === 'string') return orig.event_id;
  return '-';
}

/** HH:MM:SS.mmm (UTC) of the entry id's millisecond part: when Redis added it. */
function entryTime(id: string): string {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : '';
}

/**
 * One line per entry: JSON (`--json`, JSON-valued fields parsed) or a readable summary for a
 * terminal that adapts its content width to `columns`.
 */
export function formatEntry(e: StreamEntry, json: boolean, columns = 120): string {
  const parsed = parseJsonFields(e.fields);
  if (json) return JSON.stringify({ stream: e.stream, id: e.id, fields: parsed });
  const head = `${entryTime(e.id)} ${e.id} ${eventIdOf(parsed)}`;
  const width = Math.max(40, columns - 60);
  const ev = parsed.event as { platform?: string; author_id?: string; content?: string } | undefined;
  const pred = parsed.prediction as { risk_score?: number; risk_level?: string; risk_category?: string; flags?: string[] } | undefined;
  if (pred && typeof pred === 'object' && ev && typeof ev === 'object') {
    const flags = pred.flags?.length ? ` [${pred.flags.join(',')}]` : '';
    const score = typeof pred.risk_score === 'number' ? pred.risk_score.toFixed(2) : '?';
    return `${head} ${pred.risk_level ?? '?'} ${score} ${pred.risk_category ?? '?'}${flags} "${clip(ev.content ?? '', width)}"`;
  }
  if (e.fields.stage !== undefined && e.fields.error !== undefined) {
    return `${head} DEADLETTER stage=${e.fields.stage} deliveries=${e.fields.deliveries ?? '?'} source=${e.fields.source_id ?? '?'} error="${clip(e.fields.error, width)}"`;
  }
  if (ev && typeof ev === 'object') {
    return `${head} ${ev.platform ?? '?'}/${ev.author_id ?? '?'} "${clip(ev.content ?? '', width)}"`;
  }
  // Not an entry riskpipe wrote (or a poison one): show its fields as they are.
  return `${head} ${clip(JSON.stringify(parsed), width + 40)}`;
}
