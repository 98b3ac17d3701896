import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Redis } from 'ioredis';
import { fieldsToObject } from '../models/stream.js';
import type { StreamNames } from '../stream/types.js';

/*
 * `riskpipe bench`: the pipeline measured from outside, as a user sees it. The phases, in order:
 *   1. ingest single   --connections clients POST one event each, as fast as answers come, --duration s
 *   2. ingest batch    the same with --batch-size events per request
 *   3. screening       the backlog of 1+2 drained by the screening group: events/s from the first
 *                      to the last routed entry (the routed streams' entry ids are Redis times)
 *   4. indexing        the same for the indexing group, when one reads the reasoning queue
 *   5. end to end      single events paced at --rate for --duration; each event's latency from
 *                      queued (its events:raw id) to routed (its routed entry id), both Redis
 *                      clock; and to indexed (Postgres indexed_at) when a store is given
 * Every event id starts with the run's id, so a run's events can be told apart in shared streams.
 */

export interface BenchOptions {
  ingestUrl: string;
  apiKey?: string;
  redis: Redis;
  names: StreamNames;
  runId: string;
  rate: number;
  durationS: number;
  connections: number;
  batchSize: number;
  drainTimeoutMs: number;
  /** Indexed timestamps of the run's events, from the store (event_id → ms); none = not measured. */
  indexedAt?: (eventIdPrefix: string) => Promise<Map<string, number>>;
  /** Whether an indexing group exists to wait for (default: looked up). */
  progress?: (p: BenchProgress) => void;
}

export interface BenchProgress {
  phase: string;
  /** 0–1 */
  fraction: number;
  detail: string;
}

export interface LatencySummary {
  n: number;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
  max_ms: number;
}

export interface BenchResult {
  run_id: string;
  settings: { rate: number; duration_s: number; connections: number; batch_size: number };
  ingest_single: { requests: number; errors: number; req_per_s: number; p50_ms: number; p99_ms: number };
  ingest_batch: { requests: number; events: number; errors: number; req_per_s: number; events_per_s: number; p50_ms: number; p99_ms: number };
  screening: { events: number; observed: number; events_per_s: number; seconds: number } | null;
  indexing: { events: number; events_per_s: number; seconds: number } | null;
  end_to_end: {
    sent: number;
    achieved_rate: number;
    queued_to_routed: LatencySummary | null;
    queued_to_indexed: LatencySummary | null;
  };
  notes: string[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(values: number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { n: s.length, p50_ms: r(percentile(s, 50)), p95_ms: r(percentile(s, 95)), p99_ms: r(percentile(s, 99)), max_ms: r(s[s.length - 1]) };
}

const idMs = (id: string) => Number(id.slice(0, id.indexOf('-')));

// ---- the HTTP load generator ----------------------------------------------------------------

interface Poster {
  post(path: string, body: string): Promise<{ status: number; ms: number }>;
  close(): void;
}

/**
 * The smallest (sign -1) or largest (sign 1) of f over xs, in a loop: Math.min(...xs) overflows
 * the call stack past ~100,000 items, which a quiet machine's ingest phases produce.
 */
export function extreme<T>(xs: readonly T[], f: (x: T) => number, sign: 1 | -1): number {
  let best = sign === 1 ? -Infinity : Infinity;
  for (const x of xs) {
    const v = f(x);
    if (sign === 1 ? v > best : v < best) best = v;
  }
  return best;
}

/** Keep-alive POSTs over at most `connections` sockets (node:http, no client library overhead). */
function poster(baseUrl: string, connections: number, apiKey?: string): Poster {
  const u = new URL(baseUrl);
  const https = u.protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: connections }) : new Agent({ keepAlive: true, maxSockets: connections });
  const req = https ? httpsRequest : request;
  return {
    post(path, body) {
      const t0 = performance.now();
      return new Promise((resolve) => {
        const r = req(
          { agent, host: u.hostname, port: u.port || (https ? 443 : 80), path: u.pathname.replace(/\/$/, '') + path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(apiKey ? { 'api-key': apiKey } : {}) } },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
          },
        );
        r.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
        r.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

const TEXTS = [
  'hey everyone, the raid starts at 9 tonight',
  'gg that was a close match, rematch tomorrow?',
  'can someone share the notes from the meeting',
  'lol this patch broke my build again',
  'free nitro at discord-gift.xyz claim now!!!',
  'you are worthless, nobody wants you here',
  'i know where you live and i will find you',
  'thanks for the help yesterday, really appreciated',
];

/** A realistic event: mostly everyday chat, some spam and abuse; unique ids and contents. */
export function benchEvent(runId: string, n: number): Record<string, unknown> {
  const author = `bench-user-${n % 500}`;
  return {
    event_id: `${runId}-${n}`,
    event_type: 'message_created',
    platform: ['discord', 'slack', 'twitch', 'web_chat'][n % 4],
    channel_id: `bench-${n % 20}`,
    user_id: author,
    author_id: author,
    content: `${TEXTS[n % TEXTS.length]} #${n}`,
    metadata: { user_reputation: 0.8, account_age_days: 200 },
  };
}

/** Closed loop: `connections` clients, each sending its next request when the last one answered. */
async function closedLoop(p: Poster, connections: number, durationMs: number, next: () => { path: string; body: string; events: number }, onTick: (f: number, done: number) => void) {
  const lat: number[] = [];
  let errors = 0;
  let events = 0;
  const end = performance.now() + durationMs;
  const t0 = performance.now();
  const tick = setInterval(() => onTick(Math.min(1, (performance.now() - t0) / durationMs), lat.length), 250);
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) {
        const r = next();
        const res = await p.post(r.path, r.body);
        if (res.status === 200) {
          lat.push(res.ms);
          events += r.events;
        } else errors++;
        if (res.status === 0 || res.status === 503) await new Promise((s) => setTimeout(s, 20));
      }
    }),
  );
  clearInterval(tick);
  const seconds = (performance.now() - t0) / 1000;
  const s = lat.sort((a, b) => a - b);
  return { requests: lat.length, errors, events, seconds, p50: percentile(s, 50), p99: percentile(s, 99) };
}

const r2 = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : NaN);

/** Counts of a group: entries-read and pending, for draining. */
/** Lag (null when Redis does not know it) and pending count of a consumer group; null while the stream or group does not exist. */
export async function groupState(redis: Redis, stream: string, group: string): Promise<{ lag: number | null; pending: number } | null> {
  try {
    const groups = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
    for (const g of groups) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
      if (o.name === group) return { lag: o.lag === null ? null : Number(o.lag), pending: Number(o.pending) };
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Follows the routed streams while the run goes on (XREAD from the run's start): the reasoning
 * queue's entries are deleted once stored by stage 3, so they are read as they come.
 */
function followRouted(redis: Redis, names: StreamNames, runId: string) {
  const routed = new Map<string, { routedMs: number; queuedMs: number }>();
  const ids = { [names.reasoning]: '$', [names.lowRisk]: '$' } as Record<string, string>;
  let stopped = false;
  const reader = redis.duplicate();
  reader.on('error', () => {});
  const loop = (async () => {
    while (!stopped) {
      const res = (await reader.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', names.reasoning, names.lowRisk, ids[names.reasoning], ids[names.lowRisk]).catch(() => null)) as [string, [string, string[]][]][] | null;
      if (!res) continue;
      for (const [stream, entries] of res) {
        for (const [id, flat] of entries) {
          ids[stream] = id;
          const f = fieldsToObject(flat);
          if (!f.event_id?.startsWith(runId)) continue;
          routed.set(f.event_id, { routedMs: idMs(id), queuedMs: f.source_id ? idMs(f.source_id) : NaN });
        }
      }
    }
  })();
  return {
    routed,
    async stop() {
      stopped = true;
      await loop;
      reader.disconnect();
    },
  };
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const notes: string[] = [];
  const progress = o.progress ?? (() => {});
  const durationMs = o.durationS * 1000;
  const p = poster(o.ingestUrl, o.connections, o.apiKey);
  const follower = followRouted(o.redis, o.names, o.runId);
  await new Promise((r) => setTimeout(r, 50)); // the first XREAD is in place
  let n = 0;
  try {
    // 1. ingest single
    const single = await closedLoop(p, o.connections, durationMs, () => ({ path: '/v1/events/ingest', body: JSON.stringify(benchEvent(o.runId, n++)), events: 1 }), (f, done) =>
      progress({ phase: 'ingest single', fraction: f, detail: `${done.toLocaleString('en-US')} requests` }),
    );
    // 2. ingest batch
    const batch = await closedLoop(
      p,
      Math.max(1, Math.min(o.connections, 8)),
      durationMs,
      () => {
        const events = Array.from({ length: o.batchSize }, () => benchEvent(o.runId, n++));
        return { path: '/v1/events/ingest-batch', body: JSON.stringify({ events }), events: events.length };
      },
      (f, done) => progress({ phase: 'ingest batch', fraction: f, detail: `${done.toLocaleString('en-US')} requests` }),
    );
    const backlog = single.requests + batch.events;

    // 3./4. drain: screening (and indexing) of the backlog
    const drainStart = Date.now();
    const drained = async (group: string, stream: string) => {
      for (;;) {
        const g = await groupState(o.redis, stream, group);
        if (g && g.pending === 0 && (g.lag ?? 0) === 0) return true;
        if (Date.now() - drainStart > o.drainTimeoutMs) return false;
        progress({ phase: `draining (${group})`, fraction: Math.min(1, follower.routed.size / Math.max(1, backlog)), detail: `${follower.routed.size.toLocaleString('en-US')} of ${backlog.toLocaleString('en-US')} routed` });
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    const screenedAll = await drained('risk-screening', o.names.raw);
    if (!screenedAll) notes.push(`screening had not drained the backlog after ${o.drainTimeoutMs / 1000}s`);
    const backlogRouted = [...follower.routed.values()];
    let screening: BenchResult['screening'] = null;
    if (backlogRouted.length > 1) {
      const first = extreme(backlogRouted, (r) => r.queuedMs, -1);
      const last = extreme(backlogRouted, (r) => r.routedMs, 1);
      const seconds = Math.max(0.001, (last - first) / 1000);
      // A drained group screened the whole backlog. The follower may not have seen every routed
      // entry: the index worker deletes escalations it has stored, sometimes before XREAD reads them.
      const events = screenedAll ? backlog : backlogRouted.length;
      screening = { events, observed: backlogRouted.length, seconds: r2(seconds), events_per_s: Math.round(events / seconds) };
      notes.push('screening events/s: the ingest phases\' events from the first queued to the last routed (the worker competes with the load generator for the CPU)');
    }
    let indexing: BenchResult['indexing'] = null;
    if (await groupState(o.redis, o.names.reasoning, 'indexing')) {
      const t0 = Date.now();
      const ok = await drained('indexing', o.names.reasoning);
      if (!ok) notes.push('indexing had not drained within the drain timeout');
      const escalated = backlogRouted.filter((r) => r).length;
      if (o.indexedAt) {
        const at = [...(await o.indexedAt(o.runId)).values()];
        if (at.length > 1) {
          const first = extreme(backlogRouted, (r) => r.queuedMs, -1);
          const seconds = Math.max(0.001, (extreme(at, (t) => t, 1) - first) / 1000);
          indexing = { events: at.length, seconds: r2(seconds), events_per_s: Math.round(at.length / seconds) };
        }
      } else {
        indexing = { events: escalated, seconds: r2((Date.now() - t0) / 1000), events_per_s: NaN };
        notes.push('indexing events/s needs --database-url (indexed_at of each event)');
      }
    } else notes.push('no indexing group on the reasoning queue: indexing not measured (no index-worker)');

    // 5. end to end at --rate
    const e2eStart = n;
    const sentIds: string[] = [];
    const intervalMs = 1000 / o.rate;
    const t0 = performance.now();
    const inflight: Promise<unknown>[] = [];
    let k = 0;
    while (performance.now() - t0 < durationMs) {
      const due = t0 + k * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const ev = benchEvent(o.runId, n++);
      sentIds.push(ev.event_id as string);
      inflight.push(p.post('/v1/events/ingest', JSON.stringify(ev)));
      if (inflight.length > 4 * o.connections) await inflight.shift();
      k++;
      if (k % 50 === 0) progress({ phase: `end to end at ${o.rate}/s`, fraction: (performance.now() - t0) / durationMs, detail: `${k.toLocaleString('en-US')} sent` });
    }
    await Promise.all(inflight);
    const achieved = k / ((performance.now() - t0) / 1000);
    if (achieved < o.rate * 0.9) notes.push(`the load generator reached ${Math.round(achieved)} events/s of the ${o.rate} asked`);
    const e2eDeadline = Date.now() + o.drainTimeoutMs;
    while (Date.now() < e2eDeadline && sentIds.some((id) => !follower.routed.has(id))) {
      progress({ phase: 'end to end: waiting for routing', fraction: sentIds.filter((id) => follower.routed.has(id)).length / sentIds.length, detail: '' });
      await new Promise((r) => setTimeout(r, 200));
    }
    const routedLat = sentIds.map((id) => follower.routed.get(id)).filter((r): r is { routedMs: number; queuedMs: number } => !!r).map((r) => r.routedMs - r.queuedMs);
    if (routedLat.length < sentIds.length) notes.push(`${sentIds.length - routedLat.length} of ${sentIds.length} end-to-end events were not routed in time`);
    let indexedLat: number[] = [];
    if (o.indexedAt && indexing) {
      await drained('indexing', o.names.reasoning);
      const at = await o.indexedAt(o.runId);
      indexedLat = sentIds.flatMap((id) => {
        const r = follower.routed.get(id);
        const i = at.get(id);
        return r && i !== undefined ? [i - r.queuedMs] : [];
      });
    }
    void e2eStart;
    return {
      run_id: o.runId,
      settings: { rate: o.rate, duration_s: o.durationS, connections: o.connections, batch_size: o.batchSize },
      ingest_single: { requests: single.requests, errors: single.errors, req_per_s: Math.round(single.requests / single.seconds), p50_ms: r2(single.p50), p99_ms: r2(single.p99) },
      ingest_batch: {
        requests: batch.requests,
        events: batch.events,
        errors: batch.errors,
        req_per_s: r2(batch.requests / batch.seconds),
        events_per_s: Math.round(batch.events / batch.seconds),
        p50_ms: r2(batch.p50),
        p99_ms: r2(batch.p99),
      },
      screening,
      indexing,
      end_to_end: { sent: sentIds.length, achieved_rate: Math.round(achieved), queued_to_routed: summarize(routedLat), queued_to_indexed: summarize(indexedLat) },
      notes,
    };
  } finally {
    p.close();
    await follower.stop();
  }
}

const fmt = (x: number | undefined | null, d = 0) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }));

/** The result as the table the README shows. */
export function formatBench(r: BenchResult): string {
  const rows: string[][] = [
    ['measure', 'value', 'p50 ms', 'p95 ms', 'p99 ms'],
    ['ingest, single event', `${fmt(r.ingest_single.req_per_s)} req/s`, fmt(r.ingest_single.p50_ms, 1), '', fmt(r.ingest_single.p99_ms, 1)],
    [`ingest, batch of ${r.settings.batch_size}`, `${fmt(r.ingest_batch.req_per_s, 1)} req/s = ${fmt(r.ingest_batch.events_per_s)} events/s`, fmt(r.ingest_batch.p50_ms, 1), '', fmt(r.ingest_batch.p99_ms, 1)],
    ['screening', r.screening ? `${fmt(r.screening.events_per_s)} events/s (${fmt(r.screening.events)} events)` : '—', '', '', ''],
    ['indexing', r.indexing ? `${fmt(r.indexing.events_per_s)} events/s (${fmt(r.indexing.events)} events)` : 'not measured', '', '', ''],
    [`queued → routed at ${fmt(r.end_to_end.achieved_rate)}/s`, `${fmt(r.end_to_end.queued_to_routed?.n)} events`, fmt(r.end_to_end.queued_to_routed?.p50_ms, 1), fmt(r.end_to_end.queued_to_routed?.p95_ms, 1), fmt(r.end_to_end.queued_to_routed?.p99_ms, 1)],
    [`queued → indexed (escalated)`, r.end_to_end.queued_to_indexed ? `${fmt(r.end_to_end.queued_to_indexed.n)} events` : 'not measured', fmt(r.end_to_end.queued_to_indexed?.p50_ms, 1), fmt(r.end_to_end.queued_to_indexed?.p95_ms, 1), fmt(r.end_to_end.queued_to_indexed?.p99_ms, 1)],
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i === 0 || i === 1 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  const out = [line(rows[0]), w.map((x) => '─'.repeat(x)).join('  '), ...rows.slice(1).map(line)];
  out.push('', `run ${r.run_id}: --duration ${r.settings.duration_s}s per phase, --connections ${r.settings.connections}, --rate ${r.settings.rate}`);
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n');
}

/** A one-line progress bar for stderr. */
export function progressLine(p: BenchProgress, width = 30): string {
  const f = Math.max(0, Math.min(1, p.fraction));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${p.phase.padEnd(34)} ${p.detail}`;
}
