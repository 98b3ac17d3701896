import type { Redis } from 'ioredis';
import { fieldsToObject, GROUPS, STREAMS } from '../models/stream.js';
import { createKeys, type Keys } from '../stream/keys.js';
import type { StreamNames } from '../stream/types.js';
import { RISK_CATEGORIES, RISK_LEVELS } from '../models/risk.js';

/**
 * What `riskpipe top` shows, as data: the TUI (src/tui/) only presents a TopSnapshot, and the
 * plain / --json outputs print one. `createTopSource` builds snapshots from Redis; tests hand the
 * TUI a scripted source.
 */
export interface TopSnapshot {
  at: string; // ISO time of the snapshot
  prefix: string;
  /** what every stream name starts with: prefix + hash tag, e.g. "t1:{rp}:" */
  base: string;
  streams: StreamStatus[];
  groups: GroupStatus[];
  deadletters: { total: number; latest: DeadletterLine[] };
  routing: {
    /** routes: all time (entries-added); categories and levels: since top started (a minute back); and the last 60 s */
    total: RoutingCounts;
    lastMinute: RoutingCounts;
    /** events per second over the last refresh, per route */
    ratePerSec: Record<string, number>;
    /** true when more entries arrived in one refresh than top reads: categories/levels are then a sample */
    sampled: boolean;
  };
  /** per-second rates, oldest first (at most 60 points): sparklines */
  throughput: { ingested: number[]; screened: number[]; escalated: number[] };
  escalations: EscalationLine[];
  /** problems reading (Redis away, …): shown instead of failing */
  errors: string[];
}

export interface StreamStatus {
  name: string; // full key, prefix included
  role: 'raw' | 'reasoning' | 'lowRisk' | 'deadletter';
  exists: boolean;
  length: number;
  /** entries ever added (XINFO STREAM entries-added, Redis ≥ 7.0) */
  entriesAdded: number | null;
  /** age in ms of the newest entry, null when empty */
  lastEntryAgeMs: number | null;
}

export interface ConsumerStatus {
  name: string;
  pending: number;
  idleMs: number;
  /** ms since its last successful read (Redis ≥ 7.2), else null */
  inactiveMs: number | null;
}

export interface GroupStatus {
  stream: string;
  group: string;
  /** entries not yet delivered to the group (null when Redis cannot tell, e.g. after XDEL) */
  lag: number | null;
  pending: number;
  consumers: ConsumerStatus[];
  lastDeliveredId: string;
}

export interface RoutingCounts {
  route: Record<string, number>;
  category: Record<string, number>;
  level: Record<string, number>;
}

export interface EscalationLine {
  id: string;
  at: string;
  event_id: string;
  category: string;
  level: string;
  score: number;
  reason: string;
}

export interface DeadletterLine {
  id: string;
  at: string;
  stage: string;
  source_stream: string;
  error_code: string;
  error: string;
  deliveries: number;
}

export interface TopSource {
  snapshot(): Promise<TopSnapshot>;
  close(): Promise<void>;
}

// ---- reading Redis -----------------------------------------------------------------------

/** XINFO replies are flat [k, v, k, v] arrays. */
function kv(flat: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}
const num = (v: unknown): number | null => (v === null || v === undefined || v === '' ? null : Number(v));
const idMs = (id: string | null | undefined): number | null => (id ? Number(id.split('-')[0]) : null);

export const STREAM_ROLES = ['raw', 'reasoning', 'lowRisk', 'deadletter'] as const;
/** Which group reads which stream (the pipeline's defaults). */
export const GROUPS_OF: Partial<Record<(typeof STREAM_ROLES)[number], string[]>> = { raw: [GROUPS.screening], reasoning: [GROUPS.indexing] };

/** Length, entries-added and newest entry age of one stream; exists=false when absent. */
export async function readStream(redis: Redis, name: string, role: StreamStatus['role'], nowMs = Date.now()): Promise<StreamStatus> {
  try {
    const info = kv((await redis.call('XINFO', 'STREAM', name)) as unknown[]);
    const last = info['last-generated-id'] as string | undefined;
    const length = Number(info.length);
    return { name, role, exists: true, length, entriesAdded: num(info['entries-added']), lastEntryAgeMs: length > 0 && last ? Math.max(0, nowMs - idMs(last)!) : null };
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return { name, role, exists: false, length: 0, entriesAdded: 0, lastEntryAgeMs: null };
    throw err;
  }
}

/** Every consumer group of a stream with its consumers (empty when the stream is absent). */
export async function readGroups(redis: Redis, stream: string): Promise<GroupStatus[]> {
  let groups: unknown[];
  try {
    groups = (await redis.call('XINFO', 'GROUPS', stream)) as unknown[];
  } catch (err) {
    if (/no such key/i.test((err as Error).message)) return [];
    throw err;
  }
  return Promise.all(
    groups.map(async (g) => {
      const gi = kv(g as unknown[]);
      const name = String(gi.name);
      const consumers = ((await redis.call('XINFO', 'CONSUMERS', stream, name)) as unknown[]).map((c) => {
        const ci = kv(c as unknown[]);
        return { name: String(ci.name), pending: Number(ci.pending), idleMs: Number(ci.idle), inactiveMs: num(ci.inactive) };
      });
      return { stream, group: name, lag: num(gi.lag), pending: Number(gi.pending), consumers, lastDeliveredId: String(gi['last-delivered-id']) };
    }),
  );
}

export interface PipelineStatus {
  streams: StreamStatus[];
  groups: GroupStatus[];
}

/**
 * Which key layout the pipeline under `prefix` uses: the hash-tagged one (`{rp}:events:raw`, the
 * default) or riskpipe 0.1's (`events:raw`). An explicit `hashTag` wins; otherwise the layout whose
 * raw stream exists, the tagged one when neither does. Two EXISTS, never a SCAN.
 */
export async function detectKeys(redis: Redis, prefix: string, hashTag?: string): Promise<Keys> {
  if (hashTag !== undefined) return createKeys({ prefix, hashTag });
  const tagged = createKeys({ prefix });
  const legacy = createKeys({ prefix, hashTag: '' });
  if (tagged.base === legacy.base) return tagged;
  const [t, l] = await Promise.all([redis.exists(tagged.streams.raw), redis.exists(legacy.streams.raw)]);
  return !t && l ? legacy : tagged;
}

/** Streams and groups of the pipeline, in XINFO calls only (never SCAN). */
export async function readPipelineStatus(redis: Redis, names: StreamNames): Promise<PipelineStatus> {
  const now = Date.now();
  const streams = await Promise.all(STREAM_ROLES.map((role) => readStream(redis, names[role], role, now)));
  const groups = (await Promise.all(STREAM_ROLES.map((role) => readGroups(redis, names[role])))).flat();
  return { streams, groups };
}

function emptyCounts(): RoutingCounts {
  return {
    route: { reasoning_queue: 0, low_risk: 0 },
    category: Object.fromEntries(RISK_CATEGORIES.map((c) => [c, 0])),
    level: Object.fromEntries(RISK_LEVELS.map((l) => [l, 0])),
  };
}

export interface TopSourceOptions {
  redis: Redis;
  /** the configured prefix (shown) */
  prefix: string;
  /** the physical stream names (detectKeys) */
  names: StreamNames;
  /** most routed entries read per stream per refresh (default 2000); beyond it categories are a sample */
  readLimit?: number;
  /** escalations kept (default 10) */
  escalations?: number;
  /** dead letters listed (default 10) */
  deadletters?: number;
  /** Streams and groups; defaults to readPipelineStatus (XINFO). The bus's status() plugs in here. */
  status?: () => Promise<PipelineStatus>;
  now?: () => number;
}

const HISTORY = 60;

/**
 * Snapshots from Redis. Totals per route come from each stream's `entries-added`; categories,
 * levels and escalations from following the two routed streams (a blocking XREAD on its own
 * connection, starting one minute back): stage 3 deletes what it has stored from the reasoning
 * queue within milliseconds, so polling would miss the escalations. At most `readLimit` entries
 * per read; when the follower falls behind, categories and levels are marked as a sample.
 */
export function createTopSource(opts: TopSourceOptions): TopSource {
  const { redis, prefix, names } = opts;
  const readLimit = opts.readLimit ?? 2000;
  const now = opts.now ?? Date.now;
  const status = opts.status ?? (() => readPipelineStatus(redis, names));
  const total = emptyCounts();
  const window: { at: number; route: string; category: string; level: string }[] = [];
  const escalations: EscalationLine[] = [];
  const history = { ingested: [] as number[], screened: [] as number[], escalated: [] as number[] };
  let prevAdded: { at: number; raw: number; reasoning: number; lowRisk: number } | undefined;
  let sampled = false;
  let rate: Record<string, number> = { reasoning_queue: 0, low_risk: 0 };

  function consume(route: 'reasoning_queue' | 'low_risk', id: string, f: Record<string, string>) {
    const p = parsePrediction(f.prediction);
    total.route[route] = (total.route[route] ?? 0) + 1;
    total.category[p.category] = (total.category[p.category] ?? 0) + 1;
    total.level[p.level] = (total.level[p.level] ?? 0) + 1;
    window.push({ at: idMs(id) ?? now(), route, category: p.category, level: p.level });
    if (route === 'reasoning_queue') pushEscalation(id, f, p);
  }

  // The follower: one blocking XREAD over both routed streams, from a minute ago.
  let stopped = false;
  const reader = redis.duplicate({ lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null });
  reader.on('error', () => {}); // snapshots report Redis problems
  const since = `${now() - 60_000}-0`;
  const ids: Record<string, string> = { [names.reasoning]: since, [names.lowRisk]: since };
  let markRead!: () => void;
  const firstRead = new Promise<void>((r) => (markRead = r));
  const follow = (async () => {
    while (!stopped) {
      type Reply = [string, [string, string[]][]][];
      let res: Reply | null = null;
      try {
        res = (await reader.xread('COUNT', readLimit, 'BLOCK', 500, 'STREAMS', names.reasoning, names.lowRisk, ids[names.reasoning], ids[names.lowRisk])) as Reply | null;
      } catch {
        if (!stopped) await new Promise((r) => setTimeout(r, 500));
      }
      for (const [stream, entries] of res ?? []) {
        if (entries.length >= readLimit) sampled = true;
        const route = stream === names.reasoning ? 'reasoning_queue' : 'low_risk';
        for (const [id, flat] of entries) {
          ids[stream] = id;
          consume(route, id, fieldsToObject(flat));
        }
      }
      markRead();
    }
  })();

  function pushEscalation(id: string, f: Record<string, string>, p = parsePrediction(f.prediction)) {
    escalations.unshift({ id, at: new Date(idMs(id) ?? 0).toISOString(), event_id: f.event_id ?? '?', category: p.category, level: p.level, score: p.score, reason: p.reason });
    escalations.length = Math.min(escalations.length, opts.escalations ?? 10);
  }

  async function deadletters(): Promise<DeadletterLine[]> {
    const entries = (await redis.xrevrange(names.deadletter, '+', '-', 'COUNT', opts.deadletters ?? 10)) as [string, string[]][];
    return entries.map(([id, flat]) => {
      const f = fieldsToObject(flat);
      return { id, at: new Date(idMs(id) ?? 0).toISOString(), stage: f.stage ?? '?', source_stream: f.source_stream ?? '?', error_code: f.error_code ?? '?', error: f.error ?? '', deliveries: Number(f.deliveries ?? 0) };
    });
  }

  const push = (arr: number[], v: number) => {
    arr.push(v);
    if (arr.length > HISTORY) arr.shift();
  };

  return {
    async snapshot() {
      const errors: string[] = [];
      let st: PipelineStatus = { streams: [], groups: [] };
      let dl: DeadletterLine[] = [];
      try {
        st = await status();
        // The first snapshot waits (briefly) for the follower's catch-up of the last minute.
        await Promise.race([firstRead, new Promise((r) => setTimeout(r, 2000))]);
        dl = await deadletters();
      } catch (err) {
        errors.push(`redis: ${(err as Error).message}`);
      }
      const t = now();
      while (window.length > 0 && window[0].at < t - 60_000) window.shift();
      const minute = emptyCounts();
      for (const w of window) {
        minute.route[w.route]++;
        minute.category[w.category] = (minute.category[w.category] ?? 0) + 1;
        minute.level[w.level] = (minute.level[w.level] ?? 0) + 1;
      }
      const added = (role: string) => st.streams.find((s) => s.role === role)?.entriesAdded ?? 0;
      const cur = { at: t, raw: added('raw'), reasoning: added('reasoning'), lowRisk: added('lowRisk') };
      if (prevAdded && errors.length === 0) {
        const dt = Math.max(0.001, (cur.at - prevAdded.at) / 1000);
        const d = (k: 'raw' | 'reasoning' | 'lowRisk') => Math.max(0, cur[k] - prevAdded![k]) / dt;
        rate = { reasoning_queue: d('reasoning'), low_risk: d('lowRisk') };
        push(history.ingested, d('raw'));
        push(history.screened, d('reasoning') + d('lowRisk'));
        push(history.escalated, d('reasoning'));
      }
      if (errors.length === 0) prevAdded = cur;
      // Routes' totals since the streams were created are exact (entries-added), not sampled.
      const routeTotals = { reasoning_queue: cur.reasoning, low_risk: cur.lowRisk };
      const dlStream = st.streams.find((s) => s.role === 'deadletter');
      return {
        at: new Date(t).toISOString(),
        prefix,
        base: names.raw.slice(0, names.raw.length - STREAMS.raw.length),
        streams: st.streams,
        groups: st.groups,
        deadletters: { total: dlStream?.entriesAdded ?? dlStream?.length ?? 0, latest: dl },
        routing: { total: { ...structuredClone(total), route: routeTotals }, lastMinute: minute, ratePerSec: { ...rate }, sampled },
        throughput: { ingested: [...history.ingested], screened: [...history.screened], escalated: [...history.escalated] },
        escalations: [...escalations],
        errors,
      };
    },
    async close() {
      stopped = true;
      reader.disconnect();
      await follow;
    },
  };
}

function parsePrediction(json: string | undefined): { category: string; level: string; score: number; reason: string } {
  try {
    const p = JSON.parse(json ?? '{}');
    return { category: p.risk_category ?? 'unknown', level: p.risk_level ?? 'unknown', score: Number(p.risk_score ?? 0), reason: String(p.details?.reason ?? '') };
  } catch {
    return { category: 'unknown', level: 'unknown', score: 0, reason: 'unreadable prediction' };
  }
}
