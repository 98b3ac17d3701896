import { ReplyError, type Redis } from 'ioredis';
import { RiskpipeError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { createConsumerRedis, createProducerRedis, logRedisProblems } from '../../common/redis.js';
import { redisFailure, withDeadline } from '../../common/redis-failure.js';
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
  type ConsumerInfo,
  type DeadLetterInfo,
  type DeadLetterItem,
  type DeadLetterOutcome,
  type DeadLetterTools,
  type Delivery,
  type GroupInfo,
  type GroupRef,
  type GroupStatus,
  type Readiness,
  type ReplayResult,
  type SettleItem,
  type SettleOptions,
  type SettleOutcome,
  type StreamEntry,
  type StreamId,
  type StreamNames,
} from '../types.js';
import { batchStatusFrom, deadLetterInfo, fieldsToObject, queueFullError, withTimeout } from '../util.js';
import { runScript } from './scripts.js';

export interface RedisBusOptions {
  /** Producers fail fast (no offline queue); consumers wait while Redis is away. */
  role: 'producer' | 'consumer';
  prefix?: string;
  hashTag?: string;
  /** Default 7 days. */
  batchTtlS?: number;
  log?: Logger;
}

const DEFAULT_BATCH_TTL_S = 7 * 24 * 3600;

/**
 * The bus on Redis streams. Multi-key work is one Lua script each (./lua, run through the
 * registry in scripts.ts); every key comes from one Keys object and shares one hash tag.
 * Blocking reads get a connection each (reader()), so close() can interrupt them.
 */
export class RedisBus implements Bus {
  readonly kind = 'redis' as const;
  readonly keys: Keys;
  readonly names: StreamNames;
  readonly deadLetters: DeadLetterTools;
  private readonly batchTtlS: number;
  private readonly readers = new Set<RedisReader>();
  private closing?: Promise<void>;
  /** The last Redis problem logged, shared by the bus' connections (logRedisProblems). */
  readonly problems = { last: '' };
  get consequence(): string {
    return this.opts.role === 'producer' ? 'producers answer 503 until it is back' : 'consumers wait and resume when it is back';
  }

  /** `redis`: the command connection, owned by the bus from now on (closed by close()). */
  constructor(
    readonly redis: Redis,
    private readonly url: string | undefined,
    private readonly opts: RedisBusOptions,
  ) {
    this.keys = createKeys({ prefix: opts.prefix, hashTag: opts.hashTag });
    this.names = this.keys.streams;
    this.batchTtlS = opts.batchTtlS ?? DEFAULT_BATCH_TTL_S;
    this.deadLetters = this.deadLetterTools();
  }

  /** Opens a connection of the role's kind to `url`. */
  static connect(cfg: { redisUrl: string; role: 'producer' | 'consumer'; prefix?: string; hashTag?: string; batchTtlS?: number; commandTimeoutMs?: number }, log: Logger = silentLogger): RedisBus {
    const redis = cfg.role === 'producer' ? createProducerRedis(cfg.redisUrl, cfg.commandTimeoutMs ? { commandTimeout: cfg.commandTimeoutMs } : {}) : createConsumerRedis(cfg.redisUrl);
    const bus = new RedisBus(redis, cfg.redisUrl, { ...cfg, log });
    logRedisProblems([redis], log, bus.consequence, bus.problems);
    return bus;
  }

  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  private s(id: StreamId): string {
    return this.names[id];
  }

  /**
   * Producers fail fast: a command while Redis is away, frozen (command timeout) or refusing
   * writes (OOM, READONLY, MISCONF) is a 503 with the reason (src/common/redis-failure.ts).
   */
  private unavailable(err: unknown): unknown {
    return redisFailure(err, this.redis.status, { retryAfterS: 5, commandTimeoutMs: this.redis.options.commandTimeout }) ?? err;
  }

  // --- producers ------------------------------------------------------------------------------

  async add(stream: StreamId, fields: Record<string, string>): Promise<string> {
    return (await this.redis.xadd(this.s(stream), '*', ...Object.entries(fields).flat())) as string;
  }

  async append(stream: StreamId, items: AppendItem[], opts: AppendOptions): Promise<AppendResult> {
    if (this.opts.role === 'producer' && !this.connected) throw this.unavailable(new Error(`redis status ${this.redis.status}`));
    const keys: string[] = [this.s(stream), opts.batch ? this.keys.batch(opts.batch.id) : this.s(stream)];
    const args: (string | number)[] = [opts.maxDepth, opts.dedupWindowS, opts.batch ? opts.batch.total : '', this.batchTtlS, this.keys.dedupBuckets(opts.dedupWindowS), items.length, opts.backpressure === 'item' ? '1' : '0'];
    for (const it of items) args.push(`i${it.eventId}`, `c${it.contentHash}`);
    appendTemplate(items, args);
    let reply: (string | number)[];
    try {
      const run = runScript<(string | number)[]>(this.redis, 'append', keys, args);
      // Producers with a command timeout: bounded however long the command waited to be sent.
      const timeoutMs = this.opts.role === 'producer' ? this.redis.options.commandTimeout : undefined;
      reply = await (timeoutMs ? withDeadline(run, timeoutMs) : run);
    } catch (err) {
      throw this.unavailable(err);
    }
    if (reply[0] === 'FULL') {
      throw queueFullError(reply[1], opts.maxDepth);
    }
    const outcomes: AppendOutcome[] = new Array(reply.length - 1);
    for (let i = 1; i < reply.length; i++) {
      const r = String(reply[i]);
      outcomes[i - 1] =
        r === 'D:id'
          ? { status: 'duplicate', duplicateOf: 'event_id' }
          : r === 'D:content'
            ? { status: 'duplicate', duplicateOf: 'content' }
            : r.startsWith('F:')
              ? { status: 'full', depth: Number(r.slice(2)) }
              : { status: 'queued', id: r };
    }
    return { depthBefore: Number(reply[0]), outcomes };
  }

  async depth(stream: StreamId): Promise<number> {
    const reply = await runScript<number[]>(this.redis, 'append', [this.s(stream), this.s(stream)], [Number.MAX_SAFE_INTEGER, 1, '', 1, '', 0, '0']);
    return Number(reply[0]);
  }

  async length(stream: StreamId): Promise<number> {
    return this.redis.xlen(this.s(stream));
  }

  async range(stream: StreamId, opts: { afterId?: string; count?: number } = {}): Promise<StreamEntry[]> {
    const start = opts.afterId && opts.afterId !== '0-0' ? `(${opts.afterId}` : '-';
    const reply = (await this.redis.xrange(this.s(stream), start, '+', 'COUNT', opts.count ?? 1000)) as [string, string[]][];
    return reply.map(([id, flat]) => ({ id, fields: fieldsToObject(flat) }));
  }

  async lastId(stream: StreamId): Promise<string> {
    const last = (await this.redis.xrevrange(this.s(stream), '+', '-', 'COUNT', 1)) as [string, string[]][];
    return last[0]?.[0] ?? '0-0';
  }

  // --- consumer groups ------------------------------------------------------------------------

  async ensureGroup(ref: GroupRef): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.s(ref.stream), ref.group, '0', 'MKSTREAM');
    } catch (err) {
      // BUSYGROUP is Redis' error code for "the group exists": that is what we want.
      if (!(err instanceof ReplyError && (err as Error).message.startsWith('BUSYGROUP'))) throw err;
    }
  }

  async readOwnPending(ref: GroupRef, consumer: string, afterId: string, count: number): Promise<Delivery[]> {
    const stream = this.s(ref.stream);
    const reply = (await this.redis.xreadgroup('GROUP', ref.group, consumer, 'COUNT', count, 'STREAMS', stream, afterId === '0-0' ? '0' : afterId)) as
      | [string, [string, string[] | null][]][]
      | null;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) return [];
    const first = entries[0][0];
    const last = entries[entries.length - 1][0];
    const pending = (await this.redis.xpending(stream, ref.group, first, last, entries.length, consumer)) as [string, string, number, number][];
    const deliveries = new Map(pending.map((p) => [p[0], Number(p[3])]));
    return entries.map(([id, flat]) => ({ id, fields: flat === null ? null : fieldsToObject(flat), deliveries: deliveries.get(id) ?? 1 }));
  }

  async claimIdle(ref: GroupRef, consumer: string, minIdleMs: number, cursor: string, count: number) {
    const [next, claimed, deleted] = await runScript<[string, [string, string[] | null, number][], string[]]>(
      this.redis,
      'claim',
      [this.s(ref.stream)],
      [ref.group, consumer, minIdleMs, cursor, count],
    );
    return {
      next,
      entries: claimed.map(([id, flat, d]) => ({ id, fields: flat ? fieldsToObject(flat) : null, deliveries: Number(d) })),
      deleted: deleted ?? [],
    };
  }

  reader(): BlockingReader {
    if (!this.url) throw new Error('this RedisBus was built on a connection, not a URL: it cannot open a blocking reader');
    const r = new RedisReader(this, createConsumerRedis(this.url), this.names, () => this.readers.delete(r));
    if (this.opts.log) logRedisProblems([r.conn], this.opts.log, this.consequence, this.problems);
    else r.conn.on('error', () => undefined);
    this.readers.add(r);
    return r;
  }

  async ack(ref: GroupRef, ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.redis.xack(this.s(ref.stream), ref.group, ...ids);
  }

  async settle(ref: GroupRef, items: SettleItem[], opts: SettleOptions = {}): Promise<SettleOutcome[]> {
    if (items.length === 0) return [];
    const keys: string[] = [this.s(ref.stream)];
    const at = new Map<string, number>();
    const keyIndex = (k: string) => {
      let i = at.get(k);
      if (i === undefined) {
        keys.push(k);
        at.set(k, (i = keys.length));
      }
      return i;
    };
    const args: (string | number)[] = [ref.group, opts.deleteSource ? '1' : '0', this.batchTtlS];
    // One template when every output has the same fields (the stages' do): fewer strings for Redis.
    const outputs = items.filter((it) => it.output).map((it) => it.output!.fields);
    const names = outputs.length > 0 ? Object.keys(outputs[0]) : [];
    const uniform = outputs.every((f) => {
      const k = Object.keys(f);
      return k.length === names.length && k.every((x, i) => x === names[i]);
    });
    const constant = uniform ? names.map((n) => outputs.every((f) => f[n] === outputs[0][n])) : [];
    if (uniform) {
      args.push(names.length);
      names.forEach((n, j) => args.push(n, constant[j] ? '1' : '0', constant[j] ? outputs[0][n] : ''));
    } else args.push(-1);
    for (const it of items) {
      args.push(it.id);
      if (it.output) {
        args.push(keyIndex(this.s(it.output.stream)));
        const f = it.output.fields;
        if (uniform) {
          for (let j = 0; j < names.length; j++) if (!constant[j]) args.push(f[names[j]]);
        } else {
          const entries = Object.entries(f);
          args.push(entries.length);
          for (const [k, v] of entries) args.push(k, v);
        }
      } else args.push(0);
      const counters = it.batchId && it.count && it.count.length > 0 ? it.count : [];
      args.push(counters.length > 0 ? keyIndex(this.keys.batch(it.batchId!)) : 0, counters.length, ...counters);
    }
    const reply = await runScript<(string | number)[]>(this.redis, 'settle', keys, args);
    return reply.map((r) => (r === 0 ? null : r === 1 ? 'acked' : String(r)));
  }

  async deadLetter(ref: GroupRef, stage: string, items: DeadLetterItem[]): Promise<DeadLetterOutcome[]> {
    if (items.length === 0) return [];
    const keys: string[] = [this.s(ref.stream), this.names.deadletter];
    const at = new Map<string, number>();
    const args: (string | number)[] = [ref.group, STREAM_SCHEMA_VERSION, stage, new Date().toISOString(), this.batchTtlS];
    for (const it of items) {
      let bk = 0;
      const batchId = it.fields?.batch_id;
      if (batchId) {
        const k = this.keys.batch(batchId);
        bk = at.get(k) ?? 0;
        if (bk === 0) {
          keys.push(k);
          at.set(k, (bk = keys.length));
        }
      }
      args.push(it.id, it.error, it.code, String(it.deliveries), it.fields ? JSON.stringify(it.fields) : '', it.fields?.traceparent ?? '', bk, (it.count ?? []).join(','));
    }
    const reply = await runScript<(string | number)[]>(this.redis, 'deadletter', keys, args);
    return reply.map((r) => (r === 0 ? null : r === 1 ? 'acked' : String(r)));
  }

  async leave(ref: GroupRef, consumer: string): Promise<boolean> {
    return Number(await runScript(this.redis, 'leave', [this.s(ref.stream)], [ref.group, consumer])) === 1;
  }

  async trim(stream: StreamId): Promise<number> {
    const [removed] = await runScript<[number, string]>(this.redis, 'trim', [this.s(stream)], []);
    return Number(removed);
  }

  async groupInfo(ref: GroupRef, nowMs = Date.now()): Promise<GroupInfo> {
    const stream = this.s(ref.stream);
    for (const o of await this.xinfoGroups(stream)) {
      if (o.name !== ref.group) continue;
      return this.groupFigures(stream, o, nowMs);
    }
    return { lag: (await this.redis.xlen(stream)) || 0, pending: 0, lagSeconds: 0, consumers: 0 };
  }

  private async xinfoGroups(stream: string): Promise<Record<string, unknown>[]> {
    const groups = (await this.redis.xinfo('GROUPS', stream).catch((err: unknown) => {
      // No stream yet: nothing to do, nothing pending.
      if (err instanceof ReplyError) return [];
      throw err;
    })) as unknown[][];
    return groups.map((g) => {
      const o: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) o[String(g[i])] = g[i + 1];
      return o;
    });
  }

  private async groupFigures(stream: string, o: Record<string, unknown>, nowMs: number): Promise<GroupInfo> {
    const lag = o.lag === null || o.lag === undefined ? null : Number(o.lag);
    let lagSeconds = 0;
    if (lag !== 0) {
      const next = (await this.redis.xrange(stream, `(${String(o['last-delivered-id'])}`, '+', 'COUNT', 1)) as [string, string[]][];
      if (next.length > 0) lagSeconds = Math.max(0, (nowMs - Number(next[0][0].split('-')[0])) / 1000);
    }
    return { lag, pending: Number(o.pending ?? 0), lagSeconds, consumers: Number(o.consumers ?? 0) };
  }

  // --- stage state ----------------------------------------------------------------------------

  async authorActivity(items: AuthorActivityItem[], ttlS: number): Promise<AuthorActivity[]> {
    if (items.length === 0) return [];
    const keys: string[] = new Array(items.length);
    const args: (string | number)[] = new Array(items.length * 3 + 1);
    args[0] = ttlS;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      keys[i] = this.keys.author(it.scope);
      args[3 * i + 1] = it.content;
      args[3 * i + 2] = `${it.content}|${it.channel}`;
      args[3 * i + 3] = `e${it.entryId}`;
    }
    const reply = await runScript<number[]>(this.redis, 'author', keys, args);
    const out: AuthorActivity[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) out[i] = { messages: Number(reply[2 * i]), channels: Number(reply[2 * i + 1]) };
    return out;
  }

  async batchStatus(batchId: string): Promise<BatchStatus | null> {
    const h = await this.redis.hgetall(this.keys.batch(batchId));
    if (Object.keys(h).length === 0) return null;
    return batchStatusFrom(batchId, h);
  }

  private deadLetterTools(): DeadLetterTools {
    const dl = () => this.names.deadletter;
    const info = (id: string, flat: string[]) => deadLetterInfo(id, fieldsToObject(flat), this.keys);
    return {
      list: async (opts = {}) => {
        const limit = opts.limit ?? 100;
        const out: DeadLetterInfo[] = [];
        let end = '+';
        while (out.length < limit) {
          const page = (await this.redis.xrevrange(dl(), end, '-', 'COUNT', Math.max(limit, 100))) as [string, string[]][];
          for (const [id, flat] of page) {
            const d = info(id, flat);
            if (!opts.stage || d.stage === opts.stage) out.push(d);
            if (out.length >= limit) break;
          }
          if (page.length < Math.max(limit, 100)) break;
          end = `(${page[page.length - 1][0]}`;
        }
        return out;
      },
      get: async (id) => {
        const r = (await this.redis.xrange(dl(), id, id)) as [string, string[]][];
        return r.length > 0 ? info(r[0][0], r[0][1]) : null;
      },
      replay: async (ids) => {
        const result: ReplayResult = { replayed: [], missing: [] };
        const keys: string[] = [dl()];
        const at = new Map<string, number>();
        const keyIndex = (k: string) => {
          let i = at.get(k);
          if (i === undefined) {
            keys.push(k);
            at.set(k, (i = keys.length));
          }
          return i;
        };
        const args: (string | number)[] = [this.batchTtlS];
        const sent: { id: string; stream: StreamId }[] = [];
        for (const id of ids) {
          const d = await this.deadLetters.get(id);
          if (!d || !d.fields || !d.source) {
            result.missing.push(id);
            continue;
          }
          const entries = Object.entries(d.fields);
          args.push(id, keyIndex(this.s(d.source)), d.batchId ? keyIndex(this.keys.batch(d.batchId)) : 0, entries.length);
          for (const [k, v] of entries) args.push(k, v);
          sent.push({ id, stream: d.source });
        }
        if (sent.length === 0) return result;
        const reply = await runScript<(string | number)[]>(this.redis, 'replay', keys, args);
        sent.forEach((s, i) => {
          if (reply[i] === 0) result.missing.push(s.id);
          else result.replayed.push({ id: s.id, newId: String(reply[i]), stream: s.stream });
        });
        return result;
      },
      purge: async (ids) => {
        if (ids === undefined) {
          const n = await this.redis.xlen(dl());
          await this.redis.del(dl());
          return n;
        }
        return ids.length === 0 ? 0 : this.redis.xdel(dl(), ...ids);
      },
      count: () => this.redis.xlen(dl()),
    };
  }

  // --- health ---------------------------------------------------------------------------------

  async ready(timeoutMs = 1_000): Promise<Readiness> {
    // Consumer connections queue commands while Redis is away; a probe must not wait for it.
    if (!this.connected) return { ok: false, detail: `unavailable: connection ${this.redis.status}` };
    try {
      await withTimeout(this.redis.ping(), timeoutMs, 'PING');
      return { ok: true, detail: 'ok' };
    } catch (err) {
      return { ok: false, detail: `unavailable: ${(err as Error).message}` };
    }
  }

  async status(groups: GroupRef[] = []): Promise<BusStatus> {
    const r = await this.ready();
    const base: BusStatus = { kind: 'redis', ready: r.ok, detail: r.detail, streams: [], deadLetters: 0 };
    if (!r.ok) return base;
    const now = Date.now();
    for (const id of STREAM_IDS) {
      const name = this.s(id);
      const length = await this.redis.xlen(name);
      const gs: GroupStatus[] = [];
      for (const o of await this.xinfoGroups(name)) {
        const figures = await this.groupFigures(name, o, now);
        const consumers = ((await this.redis.xinfo('CONSUMERS', name, String(o.name))) as unknown[][]).map((c) => {
          const m: Record<string, unknown> = {};
          for (let i = 0; i + 1 < c.length; i += 2) m[String(c[i])] = c[i + 1];
          return { name: String(m.name), pending: Number(m.pending ?? 0), idleMs: Number(m.idle ?? 0) } satisfies ConsumerInfo;
        });
        gs.push({ name: String(o.name), ...figures, consumerList: consumers });
      }
      for (const g of groups) {
        if (g.stream === id && !gs.some((x) => x.name === g.group)) gs.push({ name: g.group, lag: length, pending: 0, lagSeconds: 0, consumers: 0, consumerList: [] });
      }
      base.streams.push({ id, name, length, groups: gs });
    }
    base.deadLetters = base.streams.find((s) => s.id === 'deadletter')?.length ?? 0;
    return base;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all([...this.readers].map((r) => r.close()));
      if (this.redis.status === 'ready') await withTimeout(this.redis.quit(), 1_000, 'QUIT').catch(() => this.redis.disconnect());
      else this.redis.disconnect();
    })();
    return this.closing;
  }

  /** For the reader: interrupt a blocked read over the command connection. */
  async unblock(clientId: number): Promise<void> {
    await this.redis.client('UNBLOCK', clientId, 'TIMEOUT');
  }
}

/**
 * The fields of `items` as append.lua takes them: one template (name, same-for-all flag, value)
 * and then only the values that differ per entry. Every item must have the same field names in
 * the same order (the ingest pipeline's entries do); throws otherwise.
 */
function appendTemplate(items: AppendItem[], args: (string | number)[]): void {
  if (items.length === 0) {
    args.push(0);
    return;
  }
  const names = Object.keys(items[0].fields);
  const constant = names.map((n) => items.every((it) => it.fields[n] === items[0].fields[n]));
  for (const it of items) {
    const k = Object.keys(it.fields);
    if (k.length !== names.length || k.some((x, i) => x !== names[i])) throw new RiskpipeError('RP_ERR_INTERNAL', 'append: every entry of a request must have the same fields in the same order');
  }
  args.push(names.length);
  names.forEach((n, j) => args.push(n, constant[j] ? '1' : '0', constant[j] ? items[0].fields[n] : ''));
  for (const it of items) for (let j = 0; j < names.length; j++) if (!constant[j]) args.push(it.fields[names[j]]);
}

/** XREADGROUP BLOCK on a connection of its own; interrupted with CLIENT UNBLOCK over the bus' one. */
class RedisReader implements BlockingReader {
  private clientId?: number;
  private reading = false;
  private closed = false;

  constructor(
    private readonly bus: RedisBus,
    readonly conn: Redis,
    private readonly names: StreamNames,
    private readonly onClose: () => void,
  ) {
    // A reconnected connection has a new client id: forget the old one.
    conn.on('close', () => (this.clientId = undefined));
  }

  async readNew(ref: GroupRef, consumer: string, count: number, blockMs: number): Promise<Delivery[]> {
    if (this.closed) return [];
    if (this.clientId === undefined) this.clientId = Number(await this.conn.client('ID'));
    if (this.closed) return [];
    this.reading = true;
    try {
      const reply = (await this.conn.xreadgroup('GROUP', ref.group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.names[ref.stream], '>')) as
        | [string, [string, string[]][]][]
        | null;
      if (!reply) return [];
      const entries = reply[0][1];
      const out: Delivery[] = new Array(entries.length);
      for (let i = 0; i < entries.length; i++) out[i] = { id: entries[i][0], fields: fieldsToObject(entries[i][1]), deliveries: 1 };
      return out;
    } catch (err) {
      if (this.closed) return [];
      throw err;
    } finally {
      this.reading = false;
    }
  }

  async interrupt(): Promise<void> {
    // The UNBLOCK goes over the other connection and can overtake the XREADGROUP it is meant
    // for: repeat it until the read has returned (bounded).
    const deadline = Date.now() + 1_000;
    while (this.reading && Date.now() < deadline) {
      // Redis away: nothing can unblock the read; close() drops the connection instead.
      if (!this.bus.connected || this.conn.status !== 'ready') return;
      if (this.clientId !== undefined) await this.bus.unblock(this.clientId).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.interrupt();
    // Still blocked (Redis away, or the UNBLOCK never reached it): drop the connection. Anything
    // that read had been given stays pending and is claimed later.
    if (this.reading || this.conn.status !== 'ready') this.conn.disconnect();
    else await withTimeout(this.conn.quit(), 500, 'QUIT').catch(() => this.conn.disconnect());
    this.onClose();
  }
}
