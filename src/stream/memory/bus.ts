import { RiskpipeError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { STREAM_SCHEMA_VERSION } from '../../models/index.js';
import { createKeys, type Keys } from '../keys.js';
import {
  STREAM_IDS,
  type AppendItem,
  type AppendOptions,
  type AppendOutcome,
  type AppendResult,
  type AuthorActivity,
  type AuthorActivityItem,
  type BatchStatus,
  type BlockingReader,
  type Bus,
  type BusStatus,
  type DeadLetterInfo,
  type DeadLetterItem,
  type DeadLetterOutcome,
  type DeadLetterTools,
  type Delivery,
  type GroupInfo,
  type GroupRef,
  type Readiness,
  type ReplayResult,
  type SettleItem,
  type SettleOptions,
  type SettleOutcome,
  type StreamEntry,
  type StreamId,
  type StreamNames,
} from '../types.js';
import { batchStatusFrom, deadLetterInfo, queueFullError } from '../util.js';
import { Journal, type JournalRecord } from './journal.js';

/*
 * The in-process bus: the same contract as the Redis bus (consumer groups, pending entries with
 * delivery counts, ack, claim after an idle time, lag, dedup window, backpressure, batch
 * counters, dead-letter tools), for `riskpipe up` and fast tests. Every operation runs to the end
 * in one turn of the event loop, which makes it atomic the way a Lua script is in Redis.
 *
 * With a data directory it journals what it accepts before it answers (journal.ts: one line per
 * operation, so a settle — ack + downstream entry + batch counters — is one record and a crash
 * applies all of it or none). On open it replays the journal: entries a group had not acked are
 * delivered again (to whichever consumer reads first), acked ones never are; what every group is
 * done with is compacted away.
 */

export interface MemoryBusOptions {
  prefix?: string;
  /** Journal directory; none = memory only. */
  dataDir?: string;
  /** Default 7 days. */
  batchTtlS?: number;
  /** Entries every group has acked are dropped once a stream holds more than this. Default 10000. */
  retainDone?: number;
  /** A stream nobody consumes (low risk) keeps the newest this many entries; the dead-letter stream keeps all. Default 100000. */
  retainUnconsumed?: number;
  /** Compact the journal when it grows past this. Default 64 MiB. */
  compactBytes?: number;
  /** fsync every journal write (survives power loss, not only kill -9). Default false. */
  fsync?: boolean;
  log?: Logger;
}

interface Entry {
  id: string;
  fields: Record<string, string> | null;
}

interface PendingEntry {
  consumer: string;
  deliveries: number;
  deliveredAt: number;
}

interface Group {
  name: string;
  /** Absolute index of the next entry never delivered. */
  next: number;
  pending: Map<string, PendingEntry>;
  consumers: Map<string, number>;
  /** Entries at or after `next` already acked (only after a journal replay): skipped when read. */
  skip: Set<string>;
  /** Deleted entries at or after `next` (so lag stays O(1)). */
  deletedAhead: number;
}

class MemStream {
  log: Entry[] = [];
  /** Absolute index of log[0]. */
  base = 0;
  live = 0;
  lastMs = 0;
  lastSeq = 0;
  readonly at = new Map<string, number>();
  readonly groups = new Map<string, Group>();
  readonly waiters = new Set<() => void>();

  nextId(): string {
    const ms = Date.now();
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.lastSeq = 0;
    } else this.lastSeq++;
    return `${this.lastMs}-${this.lastSeq}`;
  }

  /** Keeps ids monotonic when entries come from the journal. */
  observeId(id: string): void {
    const [ms, seq] = id.split('-').map(Number);
    if (ms > this.lastMs || (ms === this.lastMs && seq > this.lastSeq)) {
      this.lastMs = ms;
      this.lastSeq = seq;
    }
  }

  push(id: string, fields: Record<string, string>): void {
    this.at.set(id, this.base + this.log.length);
    this.log.push({ id, fields });
    this.live++;
    for (const w of this.waiters) w();
  }

  get(id: string): Entry | undefined {
    const i = this.at.get(id);
    return i === undefined ? undefined : this.log[i - this.base];
  }

  del(id: string): boolean {
    const i = this.at.get(id);
    if (i === undefined) return false;
    const e = this.log[i - this.base];
    if (!e.fields) return false;
    e.fields = null;
    this.at.delete(id);
    this.live--;
    for (const g of this.groups.values()) {
      if (i >= g.next) {
        if (g.skip.delete(id)) continue;
        g.deletedAhead++;
      }
    }
    return true;
  }

  end(): number {
    return this.base + this.log.length;
  }

  lag(g: Group): number {
    return Math.max(0, this.end() - g.next - g.deletedAhead - g.skip.size);
  }

  /** Drops entries before absolute index `upto` (all of them must be done). */
  dropBefore(upto: number): number {
    const n = Math.min(upto, this.end()) - this.base;
    if (n <= 0) return 0;
    let removed = 0;
    for (let k = 0; k < n; k++) {
      const e = this.log[k];
      if (e.fields) {
        this.at.delete(e.id);
        this.live--;
        removed++;
      }
    }
    this.log = this.log.slice(n);
    this.base += n;
    return removed;
  }

  /** First absolute index some group still needs (its oldest pending entry, else its next). */
  neededFrom(): number | undefined {
    if (this.groups.size === 0) return undefined;
    let min = Infinity;
    for (const g of this.groups.values()) {
      let m = g.next;
      for (const id of g.pending.keys()) {
        const i = this.at.get(id);
        if (i !== undefined && i < m) m = i;
      }
      if (m < min) min = m;
    }
    return min;
  }
}

const DEFAULT_BATCH_TTL_S = 7 * 24 * 3600;

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  readonly keys: Keys;
  readonly names: StreamNames;
  readonly deadLetters: DeadLetterTools;
  private readonly streams = new Map<StreamId, MemStream>();
  private readonly dedup = new Map<string, number>();
  private readonly batches = new Map<string, { c: Record<string, number>; exp: number }>();
  private readonly authors = new Map<string, { n: number; ch: Map<string, number>; markers: Set<string>; entries: Set<string>; exp: number }>();
  private readonly batchTtlS: number;
  private readonly retainDone: number;
  private readonly retainUnconsumed: number;
  private readonly log: Logger;
  private journal?: Journal;
  private readonly readers = new Set<MemoryReader>();
  private closed = false;
  private appendsSinceSweep = 0;

  constructor(private readonly opts: MemoryBusOptions = {}) {
    this.keys = createKeys({ prefix: opts.prefix });
    this.names = this.keys.streams;
    this.batchTtlS = opts.batchTtlS ?? DEFAULT_BATCH_TTL_S;
    this.retainDone = opts.retainDone ?? 10_000;
    this.retainUnconsumed = opts.retainUnconsumed ?? 100_000;
    this.log = (opts.log ?? silentLogger).child({ component: 'memory-bus' });
    for (const id of STREAM_IDS) this.streams.set(id, new MemStream());
    this.deadLetters = this.deadLetterTools();
  }

  /** A bus, replaying (then compacting) the journal in `dataDir` when given. */
  static open(opts: MemoryBusOptions = {}, log?: Logger): MemoryBus {
    const bus = new MemoryBus({ ...opts, log: opts.log ?? log });
    if (opts.dataDir) {
      const j = Journal.open(opts.dataDir, { fsync: opts.fsync, compactBytes: opts.compactBytes });
      let n = 0;
      for (const rec of j.replay()) {
        bus.apply(rec);
        n++;
      }
      bus.afterReplay();
      bus.journal = j;
      bus.compact();
      if (n > 0) bus.log.info({ records: n, dataDir: opts.dataDir }, 'journal replayed');
    }
    return bus;
  }

  get connected(): boolean {
    return !this.closed;
  }

  private s(id: StreamId): MemStream {
    return this.streams.get(id)!;
  }

  private open(): void {
    if (this.closed) throw new RiskpipeError('RP_ERR_REDIS_UNAVAILABLE', 'the bus is closed', { headers: { 'retry-after': '5' } });
  }

  /** Writes a record to the journal (before the caller answers), then applies it. */
  private commit(rec: JournalRecord): void {
    this.journal?.write(rec);
    this.apply(rec);
    if (this.journal?.wantsCompaction()) this.compact();
  }

  // --- applying records (live and on replay) --------------------------------------------------

  private apply(rec: JournalRecord): void {
    const now = Date.now();
    switch (rec.t) {
      case 'add':
        for (const [sid, id, fields] of rec.e) this.addEntry(sid, id, fields);
        for (const [k, exp] of rec.dd ?? []) if (exp > now) this.dedup.set(k, exp);
        for (const [b, counter, n] of rec.b ?? []) this.count(b, counter, n, now, true);
        break;
      case 'group':
        this.group(rec.s, rec.g, true);
        break;
      case 'ack': {
        // ack (+ adds, deletes, counters) as one record: a settle or a dead-letter.
        const st = this.s(rec.s);
        const g = this.group(rec.s, rec.g, true);
        for (const id of rec.ids) {
          if (!g.pending.delete(id)) {
            const i = st.at.get(id);
            if (i !== undefined && i >= g.next) g.skip.add(id);
          }
        }
        for (const [sid, id, fields] of rec.e ?? []) this.addEntry(sid, id, fields);
        for (const id of rec.del ?? []) st.del(id);
        for (const [b, counter, n] of rec.b ?? []) this.count(b, counter, n, now);
        break;
      }
      case 'del':
        for (const id of rec.ids) this.s(rec.s).del(id);
        for (const [sid, id, fields] of rec.e ?? []) this.addEntry(sid, id, fields);
        for (const [b, counter, n] of rec.b ?? []) this.count(b, counter, n, now);
        break;
      case 'trim': {
        const st = this.s(rec.s);
        const i = st.at.get(rec.before);
        if (i !== undefined) st.dropBefore(i);
        else if (rec.before === '+') st.dropBefore(st.end());
        break;
      }
      case 'batch':
        this.batches.set(rec.id, { c: rec.c, exp: rec.exp });
        break;
    }
  }

  private addEntry(sid: StreamId, id: string, fields: Record<string, string>): void {
    const st = this.s(sid);
    st.observeId(id);
    st.push(id, fields);
  }

  /** Adds to a batch counter; only ingest (`create`) makes a batch: single events have none. */
  private count(batchId: string, counter: string, n: number, now: number, create = false): void {
    let b = this.batches.get(batchId);
    if (!b || b.exp <= now) {
      if (!create) return;
      this.batches.set(batchId, (b = { c: {}, exp: 0 }));
    }
    b.c[counter] = (b.c[counter] ?? 0) + n;
    b.exp = now + this.batchTtlS * 1000;
  }

  private group(sid: StreamId, name: string, create: boolean): Group {
    const st = this.s(sid);
    let g = st.groups.get(name);
    if (!g && create) {
      g = { name, next: st.base, pending: new Map(), consumers: new Map(), skip: new Set(), deletedAhead: 0 };
      // Created from the start of the stream; deleted entries in it are not lag.
      for (const e of st.log) if (!e.fields) g.deletedAhead++;
      st.groups.set(name, g);
    }
    if (!g) throw new RiskpipeError('RP_ERR_INTERNAL', `NOGROUP no consumer group ${name} on ${this.names[sid]}`);
    return g;
  }

  /** After a replay nothing is delivered: every group starts again at its first unacked entry. */
  private afterReplay(): void {
    for (const st of this.streams.values()) {
      for (const g of st.groups.values()) {
        // Entries before next that were delivered but never acked are pending in the journal's
        // past: deliver them again by moving next back to the oldest of them.
        let first = g.next;
        for (const id of g.pending.keys()) {
          const i = st.at.get(id);
          if (i !== undefined && i < first) first = i;
        }
        g.pending.clear();
        g.next = first;
      }
    }
  }

  // --- producers ------------------------------------------------------------------------------

  async add(stream: StreamId, fields: Record<string, string>): Promise<string> {
    this.open();
    const id = this.s(stream).nextId();
    this.commit({ t: 'add', e: [[stream, id, { ...fields }]] });
    this.retain(stream);
    return id;
  }

  async append(stream: StreamId, items: AppendItem[], opts: AppendOptions): Promise<AppendResult> {
    this.open();
    const st = this.s(stream);
    const depthBefore = st.live;
    const d = this.depthOf(stream);
    if (items.length > 0 && d >= opts.maxDepth && opts.backpressure !== 'item') {
      throw queueFullError(d, opts.maxDepth);
    }
    const now = Date.now();
    const exp = now + opts.dedupWindowS * 1000;
    const outcomes: AppendOutcome[] = [];
    const entries: [StreamId, string, Record<string, string>][] = [];
    const dd: [string, number][] = [];
    const seen = new Set<string>();
    const isSeen = (k: string) => seen.has(k) || (this.dedup.get(k) ?? 0) > now;
    const perItem = opts.backpressure === 'item';
    for (const it of items) {
      const idKey = this.keys.dedupEventId(it.eventId);
      const contentKey = this.keys.dedupContent(it.contentHash);
      // Per item: the depth as this item's own request would have found it.
      if (perItem && d + entries.length >= opts.maxDepth) outcomes.push({ status: 'full', depth: d + entries.length });
      else if (isSeen(idKey)) outcomes.push({ status: 'duplicate', duplicateOf: 'event_id' });
      else if (isSeen(contentKey)) outcomes.push({ status: 'duplicate', duplicateOf: 'content' });
      else {
        seen.add(idKey).add(contentKey);
        dd.push([idKey, exp], [contentKey, exp]);
        const id = st.nextId();
        entries.push([stream, id, { ...it.fields }]);
        outcomes.push({ status: 'queued', id });
      }
    }
    const b: [string, string, number][] = [];
    if (opts.batch) {
      b.push([opts.batch.id, 'total', opts.batch.total]);
      if (entries.length > 0) b.push([opts.batch.id, 'queued', entries.length]);
    }
    if (entries.length > 0 || b.length > 0) this.commit({ t: 'add', e: entries, dd, b });
    if (++this.appendsSinceSweep >= 1000) this.sweep(now);
    return { depthBefore, outcomes };
  }

  private sweep(now: number): void {
    this.appendsSinceSweep = 0;
    for (const [k, exp] of this.dedup) if (exp <= now) this.dedup.delete(k);
    for (const [k, b] of this.batches) if (b.exp <= now) this.batches.delete(k);
    for (const [k, a] of this.authors) if (a.exp <= now) this.authors.delete(k);
  }

  private depthOf(stream: StreamId): number {
    const st = this.s(stream);
    if (st.groups.size === 0) return st.live;
    let worst = 0;
    for (const g of st.groups.values()) worst = Math.max(worst, st.lag(g));
    return worst;
  }

  async depth(stream: StreamId): Promise<number> {
    return this.depthOf(stream);
  }

  async length(stream: StreamId): Promise<number> {
    return this.s(stream).live;
  }

  async range(stream: StreamId, opts: { afterId?: string; count?: number } = {}): Promise<StreamEntry[]> {
    const st = this.s(stream);
    const count = opts.count ?? 1000;
    const out: StreamEntry[] = [];
    const after = opts.afterId && opts.afterId !== '0-0' ? opts.afterId : undefined;
    for (const e of st.log) {
      if (!e.fields) continue;
      if (after && compareIds(e.id, after) <= 0) continue;
      out.push({ id: e.id, fields: { ...e.fields } });
      if (out.length >= count) break;
    }
    return out;
  }

  async lastId(stream: StreamId): Promise<string> {
    const st = this.s(stream);
    for (let i = st.log.length - 1; i >= 0; i--) if (st.log[i].fields) return st.log[i].id;
    return '0-0';
  }

  // --- consumer groups ------------------------------------------------------------------------

  async ensureGroup(ref: GroupRef): Promise<void> {
    this.open();
    if (!this.s(ref.stream).groups.has(ref.group)) this.commit({ t: 'group', s: ref.stream, g: ref.group });
  }

  /** Delivers up to `count` new entries to `consumer` (sync: the reader calls it). */
  deliverNew(ref: GroupRef, consumer: string, count: number): Delivery[] {
    const st = this.s(ref.stream);
    const g = this.group(ref.stream, ref.group, false);
    const now = Date.now();
    g.consumers.set(consumer, now);
    const out: Delivery[] = [];
    while (g.next < st.end() && out.length < count) {
      const e = st.log[g.next - st.base];
      g.next++;
      if (!e.fields) {
        g.deletedAhead = Math.max(0, g.deletedAhead - 1);
        continue;
      }
      if (g.skip.delete(e.id)) continue;
      g.pending.set(e.id, { consumer, deliveries: 1, deliveredAt: now });
      out.push({ id: e.id, fields: { ...e.fields }, deliveries: 1 });
    }
    return out;
  }

  async readOwnPending(ref: GroupRef, consumer: string, afterId: string, count: number): Promise<Delivery[]> {
    this.open();
    const st = this.s(ref.stream);
    const g = this.group(ref.stream, ref.group, false);
    const now = Date.now();
    g.consumers.set(consumer, now);
    const mine = [...g.pending.entries()].filter(([id, p]) => p.consumer === consumer && (afterId === '0-0' || compareIds(id, afterId) > 0));
    mine.sort((a, b) => compareIds(a[0], b[0]));
    return mine.slice(0, count).map(([id, p]) => {
      p.deliveries++;
      p.deliveredAt = now;
      const e = st.get(id);
      return { id, fields: e?.fields ? { ...e.fields } : null, deliveries: p.deliveries };
    });
  }

  async claimIdle(ref: GroupRef, consumer: string, minIdleMs: number, cursor: string, count: number) {
    this.open();
    const st = this.s(ref.stream);
    const g = this.group(ref.stream, ref.group, false);
    const now = Date.now();
    g.consumers.set(consumer, now);
    const ids = [...g.pending.keys()].filter((id) => cursor === '0-0' || compareIds(id, cursor) >= 0).sort(compareIds);
    const entries: Delivery[] = [];
    const deleted: string[] = [];
    let k = 0;
    for (; k < ids.length && entries.length + deleted.length < count; k++) {
      const id = ids[k];
      const p = g.pending.get(id)!;
      if (now - p.deliveredAt < minIdleMs) continue;
      const e = st.get(id);
      if (!e?.fields) {
        g.pending.delete(id);
        deleted.push(id);
        continue;
      }
      p.consumer = consumer;
      p.deliveries++;
      p.deliveredAt = now;
      entries.push({ id, fields: { ...e.fields }, deliveries: p.deliveries });
    }
    return { next: k < ids.length ? ids[k] : '0-0', entries, deleted };
  }

  reader(): BlockingReader {
    const r = new MemoryReader(this, this.s.bind(this), () => this.readers.delete(r));
    this.readers.add(r);
    return r;
  }

  async ack(ref: GroupRef, ids: string[]): Promise<number> {
    this.open();
    const g = this.group(ref.stream, ref.group, false);
    const acked = [...new Set(ids)].filter((id) => g.pending.has(id));
    if (acked.length > 0) this.commit({ t: 'ack', s: ref.stream, g: ref.group, ids: acked });
    this.retain(ref.stream);
    return acked.length;
  }

  async settle(ref: GroupRef, items: SettleItem[], opts: SettleOptions = {}): Promise<SettleOutcome[]> {
    this.open();
    const g = this.group(ref.stream, ref.group, false);
    const out: SettleOutcome[] = [];
    const ids: string[] = [];
    const e: [StreamId, string, Record<string, string>][] = [];
    const b: [string, string, number][] = [];
    const taken = new Set<string>();
    for (const it of items) {
      if (!g.pending.has(it.id) || taken.has(it.id)) {
        out.push(null);
        continue;
      }
      taken.add(it.id);
      ids.push(it.id);
      if (it.output) {
        const id = this.s(it.output.stream).nextId();
        e.push([it.output.stream, id, { ...it.output.fields }]);
        out.push(id);
      } else out.push('acked');
      if (it.batchId) for (const c of it.count ?? []) b.push([it.batchId, c, 1]);
    }
    if (ids.length > 0) this.commit({ t: 'ack', s: ref.stream, g: ref.group, ids, e, b, del: opts.deleteSource ? ids : undefined });
    this.retain(ref.stream);
    for (const [sid] of e) this.retain(sid);
    return out;
  }

  async deadLetter(ref: GroupRef, stage: string, items: DeadLetterItem[]): Promise<DeadLetterOutcome[]> {
    this.open();
    const g = this.group(ref.stream, ref.group, false);
    const failedAt = new Date().toISOString();
    const out: DeadLetterOutcome[] = [];
    const ids: string[] = [];
    const e: [StreamId, string, Record<string, string>][] = [];
    const b: [string, string, number][] = [];
    for (const it of items) {
      if (!g.pending.has(it.id) || ids.includes(it.id)) {
        out.push(null);
        continue;
      }
      ids.push(it.id);
      if (!it.fields) {
        out.push('acked');
        continue;
      }
      const fields: Record<string, string> = {
        v: STREAM_SCHEMA_VERSION,
        stage,
        source_stream: this.names[ref.stream],
        source_id: it.id,
        error: it.error,
        error_code: it.code,
        deliveries: String(it.deliveries),
        fields: JSON.stringify(it.fields),
        failed_at: failedAt,
      };
      if (it.fields.traceparent) fields.traceparent = it.fields.traceparent;
      const id = this.s('deadletter').nextId();
      e.push(['deadletter', id, fields]);
      if (it.fields.batch_id) for (const c of ['dead_lettered', ...(it.count ?? [])]) b.push([it.fields.batch_id, c, 1]);
      out.push(id);
    }
    if (ids.length > 0) this.commit({ t: 'ack', s: ref.stream, g: ref.group, ids, e, b });
    this.retain(ref.stream);
    return out;
  }

  async leave(ref: GroupRef, consumer: string): Promise<boolean> {
    const g = this.s(ref.stream).groups.get(ref.group);
    if (!g || !g.consumers.has(consumer)) return false;
    for (const p of g.pending.values()) if (p.consumer === consumer) return false;
    g.consumers.delete(consumer);
    return true;
  }

  async trim(stream: StreamId): Promise<number> {
    const st = this.s(stream);
    const upto = st.neededFrom();
    if (upto === undefined || upto <= st.base) return 0;
    const e = upto < st.end() ? st.log[upto - st.base].id : '+';
    const before = st.live;
    this.commit({ t: 'trim', s: stream, before: e });
    return before - st.live;
  }

  /** Keeps memory bounded: done entries beyond retainDone, unconsumed low-risk beyond retainUnconsumed. */
  private retain(stream: StreamId): void {
    const st = this.s(stream);
    if (st.log.length <= this.retainDone) return;
    if (st.groups.size > 0) {
      const upto = st.neededFrom()!;
      if (upto - st.base > this.retainDone) {
        const cut = upto - Math.floor(this.retainDone / 2);
        this.commit({ t: 'trim', s: stream, before: st.log[cut - st.base].id });
      }
    } else if (stream !== 'deadletter' && st.log.length > this.retainUnconsumed) {
      const cut = st.end() - Math.floor(this.retainUnconsumed * 0.9);
      this.commit({ t: 'trim', s: stream, before: st.log[cut - st.base].id });
    }
  }

  async groupInfo(ref: GroupRef): Promise<GroupInfo> {
    const st = this.s(ref.stream);
    const g = st.groups.get(ref.group);
    if (!g) return { lag: st.live, pending: 0, lagSeconds: 0, consumers: 0 };
    let lagSeconds = 0;
    for (let i = g.next; i < st.end(); i++) {
      const e = st.log[i - st.base];
      if (e.fields && !g.skip.has(e.id)) {
        lagSeconds = Math.max(0, (Date.now() - Number(e.id.split('-')[0])) / 1000);
        break;
      }
    }
    return { lag: st.lag(g), pending: g.pending.size, lagSeconds, consumers: g.consumers.size };
  }

  // --- stage state ----------------------------------------------------------------------------

  async authorActivity(items: AuthorActivityItem[], ttlS: number): Promise<AuthorActivity[]> {
    const now = Date.now();
    return items.map((it) => {
      let a = this.authors.get(it.scope);
      if (!a || a.exp <= now) this.authors.set(it.scope, (a = { n: 0, ch: new Map(), markers: new Set(), entries: new Set(), exp: now + ttlS * 1000 }));
      if (!a.entries.has(it.entryId)) {
        a.entries.add(it.entryId);
        a.n++;
        const marker = `${it.content}|${it.channel}`;
        if (!a.markers.has(marker)) {
          a.markers.add(marker);
          a.ch.set(it.content, (a.ch.get(it.content) ?? 0) + 1);
        }
      }
      return { messages: a.n, channels: a.ch.get(it.content) ?? 1 };
    });
  }

  async batchStatus(batchId: string): Promise<BatchStatus | null> {
    const b = this.batches.get(batchId);
    if (!b || b.exp <= Date.now()) return null;
    return batchStatusFrom(batchId, b.c);
  }

  private deadLetterTools(): DeadLetterTools {
    const dl = () => this.s('deadletter');
    const info = (e: Entry): DeadLetterInfo => deadLetterInfo(e.id, e.fields!, this.keys);
    return {
      list: async (opts = {}) => {
        const out: DeadLetterInfo[] = [];
        const log = dl().log;
        for (let i = log.length - 1; i >= 0 && out.length < (opts.limit ?? 100); i--) {
          if (!log[i].fields) continue;
          const d = info(log[i]);
          if (!opts.stage || d.stage === opts.stage) out.push(d);
        }
        return out;
      },
      get: async (id) => {
        const e = dl().get(id);
        return e?.fields ? info(e) : null;
      },
      replay: async (ids) => {
        this.open();
        const result: ReplayResult = { replayed: [], missing: [] };
        const del: string[] = [];
        const e: [StreamId, string, Record<string, string>][] = [];
        const b: [string, string, number][] = [];
        for (const id of ids) {
          const entry = dl().get(id);
          const d = entry?.fields && !del.includes(id) ? info(entry) : null;
          if (!d || !d.fields || !d.source) {
            result.missing.push(id);
            continue;
          }
          del.push(id);
          const newId = this.s(d.source).nextId();
          e.push([d.source, newId, { ...d.fields }]);
          const batch = d.batchId ? this.batches.get(d.batchId) : undefined;
          if (d.batchId && batch) b.push([d.batchId, 'dead_lettered', -1]);
          result.replayed.push({ id, newId, stream: d.source });
        }
        if (del.length > 0) this.commit({ t: 'del', s: 'deadletter', ids: del, e, b });
        return result;
      },
      purge: async (ids) => {
        this.open();
        const st = dl();
        const targets = ids ?? st.log.filter((x) => x.fields).map((x) => x.id);
        const present = targets.filter((id) => st.get(id)?.fields);
        if (present.length > 0) this.commit({ t: 'del', s: 'deadletter', ids: present });
        return present.length;
      },
      count: async () => dl().live,
    };
  }

  // --- health ---------------------------------------------------------------------------------

  async ready(): Promise<Readiness> {
    return this.closed ? { ok: false, detail: 'closed' } : { ok: true, detail: 'ok' };
  }

  async status(groups: GroupRef[] = []): Promise<BusStatus> {
    const now = Date.now();
    const streams = await Promise.all(
      STREAM_IDS.map(async (id) => {
        const st = this.s(id);
        const gs = await Promise.all(
          [...st.groups.values()].map(async (g) => {
            const pendingBy = new Map<string, number>();
            for (const p of g.pending.values()) pendingBy.set(p.consumer, (pendingBy.get(p.consumer) ?? 0) + 1);
            return {
              name: g.name,
              ...(await this.groupInfo({ stream: id, group: g.name })),
              consumerList: [...g.consumers.entries()].map(([name, seen]) => ({ name, pending: pendingBy.get(name) ?? 0, idleMs: now - seen })),
            };
          }),
        );
        for (const g of groups) if (g.stream === id && !st.groups.has(g.group)) gs.push({ name: g.group, lag: st.live, pending: 0, lagSeconds: 0, consumers: 0, consumerList: [] });
        return { id, name: this.names[id], length: st.live, groups: gs };
      }),
    );
    return { kind: 'memory', ready: !this.closed, detail: this.closed ? 'closed' : 'ok', streams, deadLetters: this.s('deadletter').live };
  }

  /** Rewrites the journal as a snapshot of what is not done yet. */
  compact(): void {
    if (!this.journal) return;
    for (const id of STREAM_IDS) {
      const st = this.s(id);
      const upto = st.neededFrom();
      if (upto !== undefined && upto > st.base) st.dropBefore(upto);
    }
    const now = Date.now();
    const records: JournalRecord[] = [];
    for (const id of STREAM_IDS) {
      const st = this.s(id);
      const live = st.log.filter((e) => e.fields).map((e) => [id, e.id, e.fields!] as [StreamId, string, Record<string, string>]);
      if (live.length > 0) records.push({ t: 'add', e: live });
      for (const g of st.groups.values()) {
        records.push({ t: 'group', s: id, g: g.name });
        // Acked = delivered (before next) and not pending, or skipped ahead.
        const acked: string[] = [...g.skip];
        for (let i = st.base; i < g.next; i++) {
          const e = st.log[i - st.base];
          if (e.fields && !g.pending.has(e.id)) acked.push(e.id);
        }
        if (acked.length > 0) records.push({ t: 'ack', s: id, g: g.name, ids: acked });
      }
    }
    const dd = [...this.dedup.entries()].filter(([, exp]) => exp > now);
    if (dd.length > 0) records.push({ t: 'add', e: [], dd });
    for (const [bid, b] of this.batches) if (b.exp > now) records.push({ t: 'batch', id: bid, c: b.c, exp: b.exp });
    this.journal.rewrite(records);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.readers].map((r) => r.close()));
    if (this.journal) {
      this.compact();
      this.journal.close();
    }
  }
}

/** Compares stream ids "ms-seq" numerically. */
export function compareIds(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ma = Number(a.slice(0, da));
  const mb = Number(b.slice(0, db));
  if (ma !== mb) return ma < mb ? -1 : 1;
  const sa = Number(a.slice(da + 1));
  const sb = Number(b.slice(db + 1));
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

class MemoryReader implements BlockingReader {
  private wake?: () => void;
  private closed = false;

  constructor(
    private readonly bus: MemoryBus,
    private readonly stream: (id: StreamId) => MemStream,
    private readonly onClose: () => void,
  ) {}

  async readNew(ref: GroupRef, consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    if (this.closed || !this.bus.connected) return [];
    const now = this.bus.deliverNew(ref, consumer, count);
    if (now.length > 0) return now;
    const st = this.stream(ref.stream);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        st.waiters.delete(done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, blockMs);
      st.waiters.add(done);
      this.wake = done;
    });
    if (this.closed || !this.bus.connected) return [];
    return this.bus.deliverNew(ref, consumer, count);
  }

  async interrupt(): Promise<void> {
    this.wake?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.onClose();
  }
}

