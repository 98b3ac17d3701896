import type { Redis } from 'ioredis';
import { fieldsToObject } from '../../models/index.js';

export interface StreamEntry {
  stream: string;
  id: string;
  fields: Record<string, string>;
}

export interface TailOptions {
  /** Start at the first entry instead of only new ones. Default false. */
  fromStart?: boolean;
  /** Stop after this many entries. Default: never. */
  count?: number;
  /** How long one XREAD waits for new entries. Default 5000 ms. */
  blockMs?: number;
  signal?: AbortSignal;
  onEntry: (e: StreamEntry) => void;
}

/**
 * Follows a stream with XREAD BLOCK (no consumer group: tailing never takes entries away from
 * the workers). Returns the number of entries printed.
 */
export async function tailStream(redis: Redis, stream: string, opts: TailOptions): Promise<number> {
  let lastId = opts.fromStart ? '0-0' : '$';
  let seen = 0;
  const limit = opts.count ?? Infinity;
  if (limit === 0) return 0;
  // "$" must be resolved once: re-reading with "$" after a timeout would skip entries added in between.
  if (lastId === '$') {
    const last = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0];
    lastId = last ? last[0] : '0-0';
  }
  const onAbort = () => redis.disconnect();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    while (!opts.signal?.aborted && seen < limit) {
      let reply: [string, [string, string[]][]][] | null;
      try {
        reply = (await redis.xread('COUNT', Math.min(limit - seen, 1000), 'BLOCK', opts.blockMs ?? 5000, 'STREAMS', stream, lastId)) as typeof reply;
      } catch (err) {
        if (opts.signal?.aborted) break;
        throw err;
      }
      if (!reply) continue;
      for (const [, entries] of reply) {
        for (const [id, flat] of entries) {
          lastId = id;
          opts.onEntry({ stream, id, fields: fieldsToObject(flat) });
          if (++seen >= limit) return seen;
        }
      }
    }
    return seen;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

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

/** One line per entry: JSON (`--json`) or a readable summary for a terminal. */
export function formatEntry(e: StreamEntry, json: boolean, columns = 120): string {
  const parsed = parseJsonFields(e.fields);
  if (json) return JSON.stringify({ stream: e.stream, id: e.id, fields: parsed });
  const ms = Number(e.id.split('-')[0]);
  const time = Number.isFinite(ms) ? new Date(ms).toISOString().slice(11, 23) : '';
  const ev = parsed.event as { event_id?: string; platform?: string; author_id?: string; content?: string } | undefined;
  const pred = parsed.prediction as { risk_score?: number; risk_level?: string; risk_category?: string; flags?: string[] } | undefined;
  const head = `${time} ${e.id}`;
  const width = Math.max(40, columns - 60);
  if (pred && ev) {
    const flags = pred.flags?.length ? ` [${pred.flags.join(',')}]` : '';
    return `${head} ${ev.event_id} ${pred.risk_level} ${pred.risk_score?.toFixed(2)} ${pred.risk_category}${flags} "${clip(ev.content ?? '', width)}"`;
  }
  if (e.fields.stage && e.fields.error) {
    return `${head} DEADLETTER stage=${e.fields.stage} deliveries=${e.fields.deliveries ?? '?'} source=${e.fields.source_id ?? '?'} error="${clip(e.fields.error, width)}"`;
  }
  if (ev && typeof ev === 'object') {
    return `${head} ${ev.event_id} ${ev.platform}/${ev.author_id} "${clip(ev.content ?? '', width)}"`;
  }
  return `${head} ${clip(JSON.stringify(parsed), width + 40)}`;
}
