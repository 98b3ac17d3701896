import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { detectKeys, readPipelineStatus, type GroupStatus } from './top-source.js';

/**
 * `riskpipe doctor`: every check an operator runs before trusting the pipeline, as data. Each
 * check says ok / warn / fail, what it saw, and for anything not ok how to fix it. The CLI builds
 * DoctorOptions from the settings (nothing here reads the environment) and prints the result as a
 * table or JSON; any `fail` makes the exit code 1.
 */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** stable id, e.g. "redis.maxmemory-policy", "stream.raw", "group.raw.risk-screening" */
  id: string;
  status: CheckStatus;
  /** what was seen */
  detail: string;
  /** what to do about it (for warn / fail) */
  hint?: string;
  /** machine-readable figures (depths, versions, …) */
  data?: Record<string, unknown>;
}

export interface DoctorReport {
  ok: boolean;
  summary: Record<CheckStatus, number>;
  checks: CheckResult[];
}

export interface DoctorOptions {
  nodeVersion: string;
  redis?: { url: string; prefix: string; hashTag?: string; connect: (url: string) => Redis };
  /** ingest's --max-queue-depth: lag near it means 503s soon */
  maxQueueDepth?: number;
  /** a consumer idle this long while holding entries is reported (default 10 min) */
  stuckIdleMs?: number;
  postgres?: { url: string; schema?: string };
  /** migrations this build knows (src/store MIGRATIONS), with checksums */
  migrations?: { version: number; name: string; checksum: string }[];
  vector?: { kind: 'qdrant'; url: string; collection: string; apiKey?: string } | { kind: 'embedded'; dir: string };
  embedder?: { kind: 'hash'; dim: number } | { kind: 'onnx'; modelDir: string; modelId?: string; load?: () => Promise<{ dim: number }> };
  /** word vectors the screening stage loads (their module resolves and loads) */
  wordVectors?: () => Promise<{ words: number; dim: number; source: string }>;
  ports?: { name: string; host: string; port: number }[];
  /** problems found resolving every command's settings from the environment */
  settings?: { command: string; problems: { path: string; message: string }[] }[];
  /** per check group (default 5000 ms) */
  timeoutMs?: number;
}

const MIN_NODE = [20, 11];
const MIN_REDIS = [7, 0];

function atLeast(version: string, min: number[]): boolean {
  const v = version.replace(/^v/, '').split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) > min[i]) return true;
    if ((v[i] ?? 0) < min[i]) return false;
  }
  return true;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

const fmtMs = (ms: number) => (ms < 1000 ? `${Math.round(ms)}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`);

export function checkNode(version: string): CheckResult {
  return atLeast(version, MIN_NODE)
    ? { id: 'node', status: 'ok', detail: `${version} (needs ≥ ${MIN_NODE.join('.')})`, data: { version } }
    : { id: 'node', status: 'fail', detail: `${version} is older than ${MIN_NODE.join('.')}`, hint: 'install Node.js 20.11 or newer (e.g. from nodejs.org or your distribution)', data: { version } };
}

/** CONFIG GET, or undefined where the server forbids it (managed Redis). */
async function configGet(redis: Redis, name: string): Promise<string | undefined> {
  try {
    const r = (await redis.call('CONFIG', 'GET', name)) as string[];
    return r[1];
  } catch {
    return undefined;
  }
}

function infoField(info: string, field: string): string | undefined {
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return m?.[1].trim();
}

export async function checkRedis(o: NonNullable<DoctorOptions['redis']>, extra: Pick<DoctorOptions, 'maxQueueDepth' | 'stuckIdleMs'>): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const redis = o.connect(o.url);
  try {
    const t0 = performance.now();
    try {
      await redis.ping();
    } catch (err) {
      out.push({ id: 'redis.reachable', status: 'fail', detail: `${o.url}: ${(err as Error).message}`, hint: 'start Redis (redis-server, or docker compose up redis) or point --redis-url / REDIS_URL at it' });
      return out;
    }
    out.push({ id: 'redis.reachable', status: 'ok', detail: `${o.url} answers PING in ${(performance.now() - t0).toFixed(1)}ms` });

    const server = await redis.info('server');
    const version = infoField(server, 'redis_version') ?? '?';
    out.push(
      atLeast(version, MIN_REDIS)
        ? { id: 'redis.version', status: 'ok', detail: `Redis ${version} (needs ≥ 7.0)`, data: { version } }
        : { id: 'redis.version', status: 'fail', detail: `Redis ${version}: consumer-group lag (backpressure, doctor, top) needs 7.0`, hint: 'upgrade Redis to 7.0 or newer', data: { version } },
    );

    out.push(await probeFeatures(redis, o));

    const policy = await configGet(redis, 'maxmemory-policy');
    const maxmemory = await configGet(redis, 'maxmemory');
    if (policy === undefined) out.push({ id: 'redis.maxmemory-policy', status: 'warn', detail: 'CONFIG GET is not allowed here; cannot tell', hint: 'make sure the server runs with maxmemory-policy noeviction' });
    else if (policy === 'noeviction') out.push({ id: 'redis.maxmemory-policy', status: 'ok', detail: `noeviction (maxmemory ${maxmemory === '0' ? 'unlimited' : `${maxmemory} bytes`})`, data: { policy, maxmemory } });
    else
      out.push({
        id: 'redis.maxmemory-policy',
        status: 'warn',
        detail: `${policy}${maxmemory === '0' ? ' (no maxmemory set yet)' : ` with maxmemory ${maxmemory} bytes`}: under memory pressure Redis silently evicts keys, queued events included`,
        hint: 'redis-cli CONFIG SET maxmemory-policy noeviction (and put "maxmemory-policy noeviction" in redis.conf); writes then fail loudly instead',
        data: { policy, maxmemory },
      });

    const persistence = await redis.info('persistence');
    const aof = infoField(persistence, 'aof_enabled') === '1';
    const save = await configGet(redis, 'save');
    const rdb = save !== undefined ? save.trim() !== '' : undefined;
    const lastBgsave = infoField(persistence, 'rdb_last_bgsave_status');
    const aofWrite = infoField(persistence, 'aof_last_write_status');
    if (aof || rdb) {
      const broken = (aof && aofWrite && aofWrite !== 'ok') || (rdb && lastBgsave && lastBgsave !== 'ok');
      out.push({
        id: 'redis.persistence',
        status: broken ? 'warn' : 'ok',
        detail: [aof ? `AOF on (last write ${aofWrite ?? '?'})` : 'AOF off', rdb ? `RDB snapshots "${save}" (last ${lastBgsave ?? '?'})` : 'RDB off'].join(', '),
        hint: broken ? 'the last persistence write failed: check the Redis log and free disk space' : undefined,
        data: { aof, rdb, save },
      });
    } else {
      out.push({
        id: 'redis.persistence',
        status: 'warn',
        detail: `neither AOF nor RDB${rdb === undefined ? ' (CONFIG GET not allowed; AOF off)' : ''}: a Redis restart loses every queued event`,
        hint: 'redis-cli CONFIG SET appendonly yes (and appendonly yes in redis.conf)',
        data: { aof, rdb, save },
      });
    }

    out.push(...(await checkStreams(redis, o, extra)));
  } finally {
    redis.disconnect();
  }
  return out;
}

/** Consumer groups, XAUTOCLAIM and lag in XINFO GROUPS, tried on a throw-away stream under the prefix. */
async function probeFeatures(redis: Redis, o: NonNullable<DoctorOptions['redis']>): Promise<CheckResult> {
  const keys = await detectKeys(redis, o.prefix, o.hashTag);
  const probe = `${keys.base}doctor:probe:${process.pid}:${Date.now()}`;
  const tried: string[] = [];
  try {
    await redis.xadd(probe, '*', 'probe', '1');
    await redis.xgroup('CREATE', probe, 'doctor', '0');
    tried.push('consumer groups');
    await redis.xreadgroup('GROUP', 'doctor', 'c1', 'COUNT', 1, 'STREAMS', probe, '>');
    await redis.call('XAUTOCLAIM', probe, 'doctor', 'c2', 0, '0-0', 'COUNT', 1);
    tried.push('XAUTOCLAIM');
    const groups = (await redis.call('XINFO', 'GROUPS', probe)) as unknown[][];
    if (!groups[0]?.includes('lag')) throw new Error('XINFO GROUPS has no lag field');
    tried.push('lag in XINFO GROUPS');
    return { id: 'redis.features', status: 'ok', detail: tried.join(', ') };
  } catch (err) {
    return {
      id: 'redis.features',
      status: 'fail',
      detail: `${tried.length ? `${tried.join(', ')} work; ` : ''}then: ${(err as Error).message}`,
      hint: /OOM|maxmemory/i.test((err as Error).message) ? 'Redis is out of memory: raise maxmemory or drain the streams' : 'riskpipe needs Redis ≥ 7.0 with stream commands enabled (not renamed or ACL-denied)',
    };
  } finally {
    await redis.del(probe).catch(() => {});
  }
}

const ROLE_LABEL = { raw: 'events:raw', reasoning: 'events:reasoning_queue', lowRisk: 'events:low_risk', deadletter: 'events:deadletter' } as const;
const EXPECTED_GROUPS: Record<string, { group: string; worker: string }> = { raw: { group: 'risk-screening', worker: 'riskpipe screen-worker' }, reasoning: { group: 'indexing', worker: 'riskpipe index-worker' } };

async function checkStreams(redis: Redis, o: NonNullable<DoctorOptions['redis']>, extra: Pick<DoctorOptions, 'maxQueueDepth' | 'stuckIdleMs'>): Promise<CheckResult[]> {
  const keys = await detectKeys(redis, o.prefix, o.hashTag);
  const st = await readPipelineStatus(redis, keys.streams);
  const out: CheckResult[] = [];
  const maxDepth = extra.maxQueueDepth ?? 100_000;
  const stuckMs = extra.stuckIdleMs ?? 600_000;
  for (const s of st.streams) {
    const label = ROLE_LABEL[s.role];
    const data = { name: s.name, length: s.length, entries_added: s.entriesAdded, newest_age_ms: s.lastEntryAgeMs };
    if (s.role === 'deadletter') {
      out.push(
        s.length === 0
          ? { id: 'stream.deadletter', status: 'ok', detail: `${s.name}: no dead letters`, data }
          : {
              id: 'stream.deadletter',
              status: 'warn',
              detail: `${s.name}: ${s.length} dead letter(s), newest ${fmtMs(s.lastEntryAgeMs ?? 0)} ago`,
              hint: 'riskpipe dlq list to see why; riskpipe dlq replay once the cause is fixed',
              data,
            },
      );
      continue;
    }
    out.push({
      id: `stream.${s.role}`,
      status: 'ok',
      detail: s.exists ? `${s.name}: ${s.length.toLocaleString('en-US')} entries${s.entriesAdded !== null ? `, ${s.entriesAdded.toLocaleString('en-US')} ever added` : ''}${s.lastEntryAgeMs !== null ? `, newest ${fmtMs(s.lastEntryAgeMs)} ago` : ''}` : `${s.name}: not created yet (the first write creates it)`,
      data,
    });
    const expected = EXPECTED_GROUPS[s.role];
    if (!expected) continue;
    const g = st.groups.find((x) => x.stream === s.name && x.group === expected.group);
    if (!g) {
      out.push(
        s.exists && s.length > 0
          ? { id: `group.${s.role}.${expected.group}`, status: 'warn', detail: `${label} has ${s.length} entries but no group ${expected.group}: no ${expected.worker} has started`, hint: `start ${expected.worker}` }
          : { id: `group.${s.role}.${expected.group}`, status: 'ok', detail: `group ${expected.group} not created yet (${expected.worker} creates it)` },
      );
      continue;
    }
    out.push(groupCheck(s.role, label, g, expected.worker, maxDepth, stuckMs));
  }
  // Groups nobody expects (old deployments, typos) are listed so that they can be removed.
  for (const g of st.groups.filter((x) => !Object.values(EXPECTED_GROUPS).some((e) => e.group === x.group))) {
    out.push({ id: `group.other.${g.group}`, status: 'warn', detail: `unexpected group ${g.group} on ${g.stream}: lag ${g.lag ?? '?'}, pending ${g.pending}`, hint: `XGROUP DESTROY ${g.stream} ${g.group} if nothing uses it (its pending entries keep the stream from being trimmed)` });
  }
  return out;
}

function groupCheck(role: string, label: string, g: GroupStatus, worker: string, maxDepth: number, stuckMs: number): CheckResult {
  const consumers = g.consumers.map((c) => `${c.name} (pending ${c.pending}, idle ${fmtMs(c.idleMs)})`);
  const data = { stream: g.stream, group: g.group, lag: g.lag, pending: g.pending, consumers: g.consumers };
  const base = `${g.group} ← ${label}: lag ${g.lag ?? 'unknown'}, pending ${g.pending}, ${g.consumers.length} consumer(s)${consumers.length ? `: ${consumers.slice(0, 4).join(', ')}${consumers.length > 4 ? ', …' : ''}` : ''}`;
  const id = `group.${role}.${g.group}`;
  const live = g.consumers.filter((c) => c.idleMs < stuckMs);
  const stuck = g.consumers.filter((c) => c.idleMs >= stuckMs && c.pending > 0);
  if ((g.lag ?? 0) > 0 && live.length === 0)
    return { id, status: 'warn', detail: `${base} — entries wait and no consumer has read for ${fmtMs(stuckMs)}`, hint: `start ${worker} (or check why it stopped reading)`, data };
  if (role === 'raw' && g.lag !== null && g.lag >= maxDepth * 0.8)
    return { id, status: 'warn', detail: `${base} — lag is ${Math.round((g.lag / maxDepth) * 100)}% of --max-queue-depth ${maxDepth}: ingest answers 503 at 100%`, hint: `add ${worker}s (the group shares the work)`, data };
  if (stuck.length > 0)
    return {
      id,
      status: 'warn',
      detail: `${base} — ${stuck.map((c) => c.name).join(', ')} hold${stuck.length === 1 ? 's' : ''} ${stuck.reduce((n, c) => n + c.pending, 0)} entries and ha${stuck.length === 1 ? 's' : 've'} been idle ≥ ${fmtMs(stuckMs)}`,
      hint: `a live ${worker} claims them after --claim-idle-ms; remove dead consumers with XGROUP DELCONSUMER once their entries are claimed`,
      data,
    };
  return { id, status: 'ok', detail: base, data };
}

export async function checkPostgres(pgOpts: NonNullable<DoctorOptions['postgres']>, migrations: NonNullable<DoctorOptions['migrations']>): Promise<CheckResult[]> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: pgOpts.url, connectionTimeoutMillis: 3000, ...(pgOpts.schema ? { options: `-c search_path=${pgOpts.schema}` } : {}) });
  client.on('error', () => {});
  const safeUrl = pgOpts.url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  try {
    try {
      await client.connect();
    } catch (err) {
      return [{ id: 'postgres.reachable', status: 'fail', detail: `${safeUrl}: ${(err as Error).message}`, hint: 'start PostgreSQL or fix --database-url / DATABASE_URL' }];
    }
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    const out: CheckResult[] = [{ id: 'postgres.reachable', status: 'ok', detail: `${safeUrl}: PostgreSQL ${rows[0].v}${pgOpts.schema ? `, schema ${pgOpts.schema}` : ''}`, data: { version: rows[0].v } }];
    const known = [...migrations].sort((a, b) => a.version - b.version);
    const latest = known.at(-1)?.version ?? 0;
    let applied: { version: number; checksum: string }[];
    try {
      applied = (await client.query<{ version: number; checksum: string }>('SELECT version, checksum FROM riskpipe_migrations ORDER BY version')).rows;
    } catch (err) {
      if ((err as { code?: string }).code !== '42P01') throw err;
      out.push({ id: 'postgres.migrations', status: 'fail', detail: `no riskpipe tables yet (schema version 0 of ${latest})`, hint: 'riskpipe migrate (index-worker also migrates when it starts)' });
      return out;
    }
    const mismatched = applied.filter((a) => {
      const k = known.find((m) => m.version === a.version);
      return k && k.checksum !== a.checksum;
    });
    const current = Math.max(0, ...applied.map((a) => a.version));
    const pending = known.filter((m) => !applied.some((a) => a.version === m.version));
    if (mismatched.length > 0)
      out.push({ id: 'postgres.migrations', status: 'fail', detail: `migration(s) ${mismatched.map((m) => m.version).join(', ')} were applied by a different riskpipe version (checksums differ)`, hint: 'run the riskpipe version that migrated this database, or restore it', data: { current, latest } });
    else if (current > latest) out.push({ id: 'postgres.migrations', status: 'fail', detail: `schema version ${current} is newer than this build knows (${latest})`, hint: 'upgrade riskpipe', data: { current, latest } });
    else if (pending.length > 0)
      out.push({ id: 'postgres.migrations', status: 'warn', detail: `schema version ${current}, ${pending.length} migration(s) pending: ${pending.map((m) => `${m.version} ${m.name}`).join('; ')}`, hint: 'riskpipe migrate (index-worker also migrates when it starts)', data: { current, latest } });
    else out.push({ id: 'postgres.migrations', status: 'ok', detail: `current (schema version ${current})`, data: { current, latest } });
    return out;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function checkVector(v: NonNullable<DoctorOptions['vector']>, dim: number | undefined): Promise<CheckResult[]> {
  if (v.kind === 'embedded') {
    const meta = join(v.dir, 'meta.json');
    if (!existsSync(meta)) return [{ id: 'vector.index', status: 'ok', detail: `embedded index in ${v.dir}: not created yet (index-worker creates it)` }];
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { dim: number };
    const size = ['vectors.f32', 'vectors.bin'].map((f) => join(v.dir, f)).filter(existsSync).map((f) => statSync(f).size)[0];
    if (dim !== undefined && m.dim !== dim)
      return [{ id: 'vector.index', status: 'fail', detail: `embedded index in ${v.dir} holds ${m.dim}-dim vectors, the embedder makes ${dim}`, hint: 'use the embedder the index was built with, or move the directory away to rebuild it from the store' }];
    return [{ id: 'vector.index', status: 'ok', detail: `embedded index in ${v.dir}: ${m.dim}-dim${size !== undefined ? `, ${(size / 1e6).toFixed(1)} MB of vectors` : ''}` }];
  }
  const base = v.url.replace(/\/+$/, '');
  const headers: Record<string, string> = v.apiKey ? { 'api-key': v.apiKey } : {};
  try {
    const ready = await fetch(`${base}/readyz`, { headers, signal: AbortSignal.timeout(3000) });
    if (!ready.ok && ready.status !== 404) throw new Error(`/readyz answered ${ready.status}`);
  } catch (err) {
    return [{ id: 'vector.index', status: 'fail', detail: `Qdrant at ${base}: ${(err as Error).message}`, hint: 'start Qdrant (docker compose up qdrant) or fix --qdrant-url / QDRANT_URL' }];
  }
  const r = await fetch(`${base}/collections/${encodeURIComponent(v.collection)}`, { headers, signal: AbortSignal.timeout(3000) });
  if (r.status === 404) return [{ id: 'vector.index', status: 'ok', detail: `Qdrant at ${base} is up; collection ${v.collection} not created yet (index-worker creates it)` }];
  if (!r.ok) return [{ id: 'vector.index', status: 'fail', detail: `Qdrant at ${base}: GET collection answered ${r.status}`, hint: 'check the Qdrant API key (QDRANT_API_KEY)' }];
  const body = (await r.json()) as { result?: { points_count?: number; config?: { params?: { vectors?: { size?: number; distance?: string } } } } };
  const vectors = body.result?.config?.params?.vectors;
  if (!vectors?.size) return [{ id: 'vector.index', status: 'fail', detail: `collection ${v.collection} uses named vectors`, hint: 'choose another --collection: riskpipe needs one unnamed cosine vector per point' }];
  if (dim !== undefined && vectors.size !== dim)
    return [{ id: 'vector.index', status: 'fail', detail: `collection ${v.collection} holds ${vectors.size}-dim vectors, the embedder makes ${dim}`, hint: 'use the embedder it was built with, or another --collection' }];
  return [{ id: 'vector.index', status: 'ok', detail: `Qdrant collection ${v.collection}: ${vectors.size}-dim ${vectors.distance}, ${body.result?.points_count ?? '?'} points` }];
}

export async function checkEmbedder(e: NonNullable<DoctorOptions['embedder']>): Promise<{ result: CheckResult; dim?: number }> {
  if (e.kind === 'hash') return { result: { id: 'embedder', status: 'ok', detail: `hash n-gram embedder, ${e.dim}-dim (built in, no weights)` }, dim: e.dim };
  const dir = e.modelId && existsSync(join(e.modelDir, e.modelId, 'config.json')) ? join(e.modelDir, e.modelId) : e.modelDir;
  const missing = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'].filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) return { result: { id: 'embedder', status: 'fail', detail: `ONNX model in ${dir}: missing ${missing.join(', ')}`, hint: 'put the model files there (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx) or use --embedder hash' } };
  if (!e.load) {
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { hidden_size?: number };
    return { result: { id: 'embedder', status: 'ok', detail: `ONNX model files present in ${dir} (${cfg.hidden_size ?? '?'}-dim; --deep loads it)` }, dim: cfg.hidden_size };
  }
  try {
    const t0 = performance.now();
    const { dim } = await e.load();
    return { result: { id: 'embedder', status: 'ok', detail: `ONNX model in ${dir} loads (${dim}-dim, ${Math.round(performance.now() - t0)} ms)` }, dim };
  } catch (err) {
    return { result: { id: 'embedder', status: 'fail', detail: `ONNX model in ${dir} does not load: ${(err as Error).message}`, hint: 'the files may be truncated or of another architecture; fetch them again' } };
  }
}

/** Free, or held by a riskpipe stage that answers /health (then it is already running: fine). */
export async function checkPort(p: { name: string; host: string; port: number }): Promise<CheckResult> {
  const id = `port.${p.name}`;
  const err = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    const srv = createServer();
    srv.once('error', (e) => resolve(e as NodeJS.ErrnoException));
    srv.listen(p.port, p.host, () => srv.close(() => resolve(null)));
  });
  if (!err) return { id, status: 'ok', detail: `${p.host}:${p.port} is free for ${p.name}` };
  if (err.code !== 'EADDRINUSE') return { id, status: 'fail', detail: `${p.host}:${p.port}: ${err.message}`, hint: err.code === 'EACCES' ? 'ports below 1024 need privileges: choose another --port' : 'fix --host' };
  try {
    const r = await fetch(`http://127.0.0.1:${p.port}/health`, { signal: AbortSignal.timeout(1500) });
    const body = (await r.json()) as { service?: string; status?: string };
    if (body.service) return { id, status: 'ok', detail: `${p.port} is in use by a running riskpipe ${body.service} (status ${body.status ?? '?'})` };
  } catch {
    /* not ours */
  }
  return { id, status: 'warn', detail: `${p.host}:${p.port} is in use by another program: ${p.name} cannot start there`, hint: `stop it (ss -ltnp 'sport = :${p.port}') or start ${p.name} with another --port` };
}

export function checkSettings(settings: NonNullable<DoctorOptions['settings']>): CheckResult[] {
  return settings.map((s) =>
    s.problems.length === 0
      ? { id: `settings.${s.command}`, status: 'ok' as const, detail: 'valid' }
      : { id: `settings.${s.command}`, status: 'fail' as const, detail: s.problems.map((p) => `${p.path}: ${p.message}`).join('; '), hint: 'fix the flag or environment variable named' },
  );
}

/** Runs every configured check (groups in parallel, each under a deadline) and summarises them. */
export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const ms = o.timeoutMs ?? 5000;
  const guard = (id: string, p: Promise<CheckResult[]>) =>
    withTimeout(p, ms, id).catch((err: Error): CheckResult[] => [{ id, status: 'fail', detail: err.message, hint: 'see the message; rerun with --json for details' }]);
  const skip = (id: string, detail: string): CheckResult[] => [{ id, status: 'skip', detail }];
  const embedder = o.embedder ? withTimeout(checkEmbedder(o.embedder), Math.max(ms, 60_000), 'embedder').catch((err: Error) => ({ result: { id: 'embedder', status: 'fail' as const, detail: err.message }, dim: undefined })) : undefined;
  const groups = await Promise.all([
    Promise.resolve([checkNode(o.nodeVersion)]),
    o.settings ? Promise.resolve(checkSettings(o.settings)) : Promise.resolve(skip('settings', 'not checked')),
    o.redis ? guard('redis', checkRedis(o.redis, o)) : Promise.resolve(skip('redis', 'not configured')),
    o.postgres ? guard('postgres', checkPostgres(o.postgres, o.migrations ?? [])) : Promise.resolve(skip('postgres', 'skipped (--skip-postgres)')),
    embedder ? embedder.then((e) => [e.result]) : Promise.resolve(skip('embedder', 'not checked')),
    o.vector ? embedder?.then((e) => guard('vector.index', checkVector(o.vector!, e.dim))) ?? guard('vector.index', checkVector(o.vector, undefined)) : Promise.resolve(skip('vector.index', 'not configured')),
    o.wordVectors
      ? o
          .wordVectors()
          .then((w): CheckResult[] => [{ id: 'word-vectors', status: 'ok', detail: Number.isFinite(w.words) ? `${w.words.toLocaleString('en-US')} words × ${w.dim} dims from ${w.source}` : `${w.dim}-dim word vectors present: ${w.source}` }])
          .catch((err: Error): CheckResult[] => [{ id: 'word-vectors', status: 'fail', detail: err.message, hint: 'npm ci installs the word vectors package; check node_modules' }])
      : Promise.resolve(skip('word-vectors', 'not checked')),
    o.ports ? Promise.all(o.ports.map(checkPort)) : Promise.resolve(skip('ports', 'skipped')),
  ]);
  const checks = groups.flat();
  const summary = { ok: 0, warn: 0, fail: 0, skip: 0 } as Record<CheckStatus, number>;
  for (const c of checks) summary[c.status]++;
  return { ok: summary.fail === 0, summary, checks };
}

const MARK: Record<CheckStatus, string> = { ok: '✓', warn: '⚠', fail: '✗', skip: '–' };

/** The report as a table: one line per check, and the fix under anything not ok. */
export function formatDoctor(r: DoctorReport, color = false): string {
  const paint = (s: CheckStatus, t: string) => (!color ? t : s === 'ok' ? `\x1b[32m${t}\x1b[0m` : s === 'warn' ? `\x1b[33m${t}\x1b[0m` : s === 'fail' ? `\x1b[31m${t}\x1b[0m` : `\x1b[2m${t}\x1b[0m`);
  const w = Math.min(34, Math.max(...r.checks.map((c) => c.id.length)));
  const lines = r.checks.map((c) => {
    const head = `${paint(c.status, MARK[c.status])} ${c.id.padEnd(w)}  ${c.detail}`;
    return c.hint && c.status !== 'ok' ? `${head}\n  ${' '.repeat(w)}  → ${c.hint}` : head;
  });
  const s = r.summary;
  lines.push('', `${s.ok} ok, ${s.warn} warning${s.warn === 1 ? '' : 's'}, ${s.fail} failed${s.skip ? `, ${s.skip} skipped` : ''}${r.ok ? '' : ' — fix the ✗ lines first'}`);
  return lines.join('\n');
}
