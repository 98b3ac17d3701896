import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { CATEGORY_COMPAT_MODES } from '../screen/compat.js';
import { ConfigError, type FieldProblem } from '../common/errors.js';
import { Platform } from '../models/index.js';
import { MAX_BATCH_SIZE } from './send/send.js';

/**
 * A setting read from a flag, else an environment variable, else its default. Only the CLI layer
 * reads argv and process.env; library code is handed the typed result.
 *
 * Each setting is declared once (the catalogue below): its flag, env, default, description and
 * zod type give the commander option and its help text (addSettingOptions), the validated config
 * (resolveSettings) and the error messages (`setting (--flag / ENV): message (got …)`).
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  /** commander's camelCase option key, e.g. "maxQueueDepth" for --max-queue-depth */
  flag?: string;
  env?: string;
  schema: T;
  default?: z.input<T>;
  /** Help text, without the env and default (they are added). */
  description?: string;
  /** The value's name in the help, e.g. "ms" in `--block-ms <ms>`; none = a boolean switch. */
  arg?: string;
  /** A one-letter alias, e.g. "n" for -n. */
  short?: string;
  /** How the default reads in the help when it is not the literal value (e.g. "the policy's, 0.7"). */
  defaultHelp?: string;
}

export type SettingsSpec = Record<string, Setting>;
export type Resolved<S extends SettingsSpec> = { [K in keyof S]: z.output<S[K]['schema']> };

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Where a setting comes from, for error messages: "--port / RISKPIPE_PORT". */
export function settingSources(s: Setting): string {
  return [s.flag ? `--${kebab(s.flag)}` : null, s.env].filter(Boolean).join(' / ');
}

/** The help line of a setting: its description, then `(env X; default Y)`. */
export function settingHelp(s: Setting): string {
  const def = s.defaultHelp ?? (s.default === undefined || s.default === '' ? undefined : String(s.default));
  const tail = [s.env ? `env ${s.env}` : null, def !== undefined ? `default ${def}` : null].filter(Boolean).join('; ');
  return tail ? `${s.description ?? ''} (${tail})`.trim() : (s.description ?? '');
}

/** Adds a commander option for every setting of `spec` that has a flag. */
export function addSettingOptions(cmd: Command, spec: SettingsSpec): Command {
  for (const s of Object.values(spec)) {
    if (!s.flag) continue;
    const long = `--${kebab(s.flag)}`;
    const flags = `${s.short ? `-${s.short}, ` : ''}${long}${s.arg ? ` <${s.arg}>` : ''}`;
    cmd.option(flags, settingHelp(s));
  }
  return cmd;
}

export function resolveSettings<S extends SettingsSpec>(spec: S, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Resolved<S> {
  const out: Record<string, unknown> = {};
  const problems: FieldProblem[] = [];
  for (const [name, s] of Object.entries(spec)) {
    let raw: unknown = s.flag !== undefined ? flags[s.flag] : undefined;
    if (raw === undefined && s.env && env[s.env] !== undefined && env[s.env] !== '') raw = env[s.env];
    if (raw === undefined) raw = s.default;
    const res = s.schema.safeParse(raw);
    if (res.success) out[name] = res.data;
    else {
      const where = settingSources(s);
      for (const issue of res.error.issues) {
        problems.push({ path: where ? `${name} (${where})` : name, message: `${issue.message} (got ${JSON.stringify(raw)})` });
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Resolved<S>;
}

// Reusable setting schemas ------------------------------------------------------------------

export const port = z.coerce
  .number({ error: 'must be a number' })
  .int({ error: 'must be a whole number' })
  .min(0, { error: 'must be between 0 and 65535' })
  .max(65535, { error: 'must be between 0 and 65535' });

export const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(max, { error: `must be at most ${max}` });

export const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be 0 or more' })
    .max(max, { error: `must be at most ${max}` });

export const unitInterval = z.coerce
  .number({ error: 'must be a number' })
  .min(0, { error: 'must be between 0 and 1' })
  .max(1, { error: 'must be between 0 and 1' });

export const redisUrl = z
  .string()
  .refine((s) => /^rediss?:\/\/[^\s]+$/.test(s) || /^redis\+unix:\/\//.test(s), { error: 'must be a redis:// or rediss:// URL' });

/** Key/stream prefix: printable, no spaces; "" means none. */
export const prefix = z.string().regex(/^[A-Za-z0-9_.:{}\-]*$/, { error: 'may use only letters, digits and _ . : { } -' }).max(100);

/**
 * Comma-separated API keys; empty means authentication is off. Short keys (the original
 * deployment's `test-key,dev-key`) are accepted and warned about at start-up; only an empty key
 * between commas is refused.
 */
export const apiKeys = z
  .string()
  .transform((s) => (s.trim() === '' ? [] : s.split(',').map((k) => k.trim())))
  .refine((keys) => keys.every((k) => k.length > 0), { error: 'a key is empty (a stray comma?)' });

/** `--workers`: a count, or `auto` = one per core (os.availableParallelism()). */
export const workerCount = z
  .union([z.literal('auto'), z.coerce.number({ error: 'must be a number or auto' }).int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).max(256, { error: 'must be at most 256' })])
  .transform((v) => (v === 'auto' ? availableParallelism() : v));

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

// The catalogue: every setting, declared once -------------------------------------------------

const port_ = (env: string, def: number) => ({ flag: 'port', env, schema: port, default: def, arg: 'port', description: 'port' }) satisfies Setting;

export const SETTINGS = {
  redisUrl: { flag: 'redisUrl', env: 'REDIS_URL', schema: redisUrl, default: 'redis://127.0.0.1:6379', arg: 'url', description: 'Redis URL' },
  prefix: { flag: 'prefix', env: 'RISKPIPE_PREFIX', schema: prefix, default: '', arg: 'prefix', description: 'prefix before every Redis key and stream name', defaultHelp: 'none' },
  hashTag: {
    flag: 'hashTag',
    env: 'RISKPIPE_HASH_TAG',
    schema: z.string().regex(/^[A-Za-z0-9_.:\-]*$/, { error: 'may use only letters, digits and _ . : -' }).max(50),
    default: '',
    arg: 'tag',
    description: 'Redis Cluster hash tag put in every key ({tag}), so each script touches one slot',
    defaultHelp: 'none',
  },
  logLevel: { flag: 'logLevel', env: 'LOG_LEVEL', schema: logLevel, default: 'info', arg: 'level', description: 'fatal|error|warn|info|debug|trace|silent' },
  host: { flag: 'host', env: 'RISKPIPE_HOST', schema: z.string().min(1), default: '0.0.0.0', arg: 'host', description: 'address to listen on' },
  apiKeys: { flag: 'apiKeys', env: 'RISKPIPE_API_KEYS', schema: apiKeys, default: '', arg: 'keys', description: 'comma-separated accepted API keys', defaultHelp: 'none = auth off' },
  /** src/cli/workers.ts: N processes of one command sharing its port / consumer group. */
  workers: {
    flag: 'workers',
    env: 'RISKPIPE_WORKERS',
    schema: workerCount,
    default: 1,
    arg: 'n',
    description: 'processes of this command sharing its port and consumer group, or auto = one per core; SIGTERM stops them together, a crashed one is restarted',
  },
  // ingest
  ingestPort: port_('RISKPIPE_INGEST_PORT', 8001),
  maxQueueDepth: { flag: 'maxQueueDepth', env: 'RISKPIPE_MAX_QUEUE_DEPTH', schema: positiveInt(), default: 100_000, arg: 'n', description: 'answer 503 while events:raw has this many unconsumed entries' },
  dedupWindowS: { flag: 'dedupWindowS', env: 'RISKPIPE_DEDUP_WINDOW_S', schema: positiveInt(365 * 24 * 3600), default: 3600, arg: 's', description: 'seconds a repeated event counts as duplicate' },
  maxBatchSize: { flag: 'maxBatchSize', env: 'RISKPIPE_MAX_BATCH_SIZE', schema: positiveInt(10_000), default: 500, arg: 'n', description: 'most events per batch request' },
  bodyLimitBytes: { flag: 'bodyLimitBytes', env: 'RISKPIPE_BODY_LIMIT_BYTES', schema: positiveInt(1024 * 1024 * 1024), default: 16 * 1024 * 1024, arg: 'n', description: 'largest request body' },
  // input limits and timeouts of the HTTP server (src/common/limits.ts, src/common/http-hardening.ts say why)
  maxJsonDepth: { flag: 'maxJsonDepth', env: 'RISKPIPE_MAX_JSON_DEPTH', schema: positiveInt(1000), default: 32, arg: 'n', description: 'deepest nesting of one event, the event object being level 1' },
  maxMetadataBytes: { flag: 'maxMetadataBytes', env: 'RISKPIPE_MAX_METADATA_BYTES', schema: positiveInt(16 * 1024 * 1024), default: 16 * 1024, arg: 'n', description: 'largest metadata of one event, as JSON' },
  requestTimeoutMs: { flag: 'requestTimeoutMs', env: 'RISKPIPE_REQUEST_TIMEOUT_MS', schema: nonNegativeInt(3_600_000), default: 30_000, arg: 'ms', description: "a request's headers and body must arrive within this (408 after), 0 = no limit" },
  headersTimeoutMs: { flag: 'headersTimeoutMs', env: 'RISKPIPE_HEADERS_TIMEOUT_MS', schema: positiveInt(3_600_000), default: 10_000, arg: 'ms', description: 'the request line and headers must arrive within this (408 after)' },
  keepAliveTimeoutMs: { flag: 'keepAliveTimeoutMs', env: 'RISKPIPE_KEEP_ALIVE_TIMEOUT_MS', schema: positiveInt(3_600_000), default: 72_000, arg: 'ms', description: 'close an idle keep-alive connection after this' },
  maxHeaderBytes: { flag: 'maxHeaderBytes', env: 'RISKPIPE_MAX_HEADER_BYTES', schema: positiveInt(1024 * 1024), default: 16 * 1024, arg: 'n', description: 'largest request line + headers (431 after)' },
  shutdownGraceMs: { flag: 'shutdownGraceMs', env: 'RISKPIPE_SHUTDOWN_GRACE_MS', schema: nonNegativeInt(20_000), default: 0, arg: 'ms', description: 'on SIGTERM keep serving this long with /ready at 503 and Connection: close, then close' },
  redisCommandTimeoutMs: { flag: 'redisCommandTimeoutMs', env: 'RISKPIPE_REDIS_COMMAND_TIMEOUT_MS', schema: positiveInt(600_000), default: 1_000, arg: 'ms', description: 'answer 503 when Redis does not answer within this (e.g. frozen)' },
  // consumers
  screenPort: port_('RISKPIPE_SCREEN_PORT', 8002),
  consumer: {
    flag: 'consumer',
    env: 'RISKPIPE_CONSUMER',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.:@\-]+$/, { error: 'may use only letters, digits and _ . : @ -' })
      .max(200)
      .optional(),
    arg: 'name',
    description: 'consumer name in the group',
    defaultHelp: 'hostname-pid-random',
  },
  claimIdleMs: { flag: 'claimIdleMs', env: 'RISKPIPE_CLAIM_IDLE_MS', schema: positiveInt(24 * 3600 * 1000), default: 30_000, arg: 'ms', description: 'claim entries pending this long from other consumers' },
  maxDeliveries: { flag: 'maxDeliveries', env: 'RISKPIPE_MAX_DELIVERIES', schema: positiveInt(1000), default: 5, arg: 'n', description: 'dead-letter an entry delivered more often than this' },
  batchSize: { flag: 'batchSize', env: 'RISKPIPE_BATCH_SIZE', schema: positiveInt(10_000), default: 64, arg: 'n', description: 'entries per read and per scoring batch' },
  blockMs: { flag: 'blockMs', env: 'RISKPIPE_BLOCK_MS', schema: positiveInt(60_000), default: 2000, arg: 'ms', description: 'how long one read waits for new entries' },
  screenConcurrency: { flag: 'concurrency', env: 'RISKPIPE_SCREEN_CONCURRENCY', schema: positiveInt(64), default: 2, arg: 'n', description: 'batches scored at once' },
  authorWindowS: { flag: 'authorWindowS', env: 'RISKPIPE_AUTHOR_WINDOW_S', schema: positiveInt(24 * 3600), default: 60, arg: 's', description: 'window of the per-author message counts' },
  trimIntervalMs: { flag: 'trimIntervalMs', env: 'RISKPIPE_TRIM_INTERVAL_MS', schema: nonNegativeInt(24 * 3600 * 1000), default: 0, arg: 'ms', description: 'trim acknowledged entries from events:raw this often, 0 = never' },
  /** The original services' clients know seven categories: `strict` reports riskpipe's `threat` as `targeted_harassment` (src/screen/compat.ts). */
  categoryCompat: {
    flag: 'categoryCompat',
    env: 'RISKPIPE_CATEGORY_COMPAT',
    schema: z.enum(CATEGORY_COMPAT_MODES, { error: 'must be riskpipe or strict' }),
    default: 'riskpipe',
    arg: 'mode',
    description: "riskpipe|strict: strict reports the category threat as targeted_harassment, as the original service's clients expect (API answers and routed predictions)",
  },
  // scoring
  embedder: { flag: 'embedder', env: 'RISKPIPE_EMBEDDER', schema: z.enum(['hash', 'glove', 'onnx'], { error: 'must be hash, glove or onnx' }), default: 'hash', arg: 'kind', description: 'hash|glove|onnx' },
  classifier: { flag: 'classifier', env: 'RISKPIPE_CLASSIFIER', schema: z.string().min(1, { error: 'must not be empty' }).optional(), arg: 'dir', description: 'trained classifier folder (riskpipe train --out), or none', defaultHelp: 'the shipped one' },
  modelDir: { flag: 'modelDir', env: 'RISKPIPE_MODEL_DIR', schema: z.string().min(1, { error: 'must not be empty' }).optional(), arg: 'dir', description: 'ONNX sentence model directory' },
  /** An override of the policy's screening threshold: it goes into the policy, which is the one place the threshold lives. */
  threshold: { flag: 'threshold', env: 'SCREENING_THRESHOLD', schema: unitInterval.optional(), arg: 'score', description: 'route to the reasoning queue at or above this score, 0-1', defaultHelp: "the policy's, 0.7" },
  /** "when-evidence" searches neighbours only for events a rule found something in: much faster on benign traffic, same routing. */
  neighbors: {
    flag: 'neighbors',
    env: 'RISKPIPE_NEIGHBORS',
    schema: z.enum(['always', 'when-evidence'], { error: 'must be always or when-evidence' }),
    default: 'always',
    arg: 'when',
    description: 'always|when-evidence: search nearest exemplars for every event, or only where a rule found evidence (faster, same routing)',
  },
} satisfies SettingsSpec;

/** Settings every Redis-backed command shares. */
export const sharedSettings = {
  redisUrl: SETTINGS.redisUrl,
  prefix: SETTINGS.prefix,
  hashTag: SETTINGS.hashTag,
  logLevel: SETTINGS.logLevel,
} satisfies SettingsSpec;

/** Settings of every command that scores: which embedder, which model, which threshold. */
export const scoringSettings = {
  embedder: SETTINGS.embedder,
  classifier: SETTINGS.classifier,
  modelDir: SETTINGS.modelDir,
  threshold: SETTINGS.threshold,
  neighbors: SETTINGS.neighbors,
} satisfies SettingsSpec;

export const serveIngestSettings = {
  ...sharedSettings,
  host: SETTINGS.host,
  port: { ...SETTINGS.ingestPort, defaultHelp: '8001; PORT is read too' },
  apiKeys: SETTINGS.apiKeys,
  maxQueueDepth: SETTINGS.maxQueueDepth,
  dedupWindowS: SETTINGS.dedupWindowS,
  maxBatchSize: SETTINGS.maxBatchSize,
  bodyLimitBytes: SETTINGS.bodyLimitBytes,
  maxJsonDepth: SETTINGS.maxJsonDepth,
  maxMetadataBytes: SETTINGS.maxMetadataBytes,
  requestTimeoutMs: SETTINGS.requestTimeoutMs,
  headersTimeoutMs: SETTINGS.headersTimeoutMs,
  keepAliveTimeoutMs: SETTINGS.keepAliveTimeoutMs,
  maxHeaderBytes: SETTINGS.maxHeaderBytes,
  shutdownGraceMs: SETTINGS.shutdownGraceMs,
  redisCommandTimeoutMs: SETTINGS.redisCommandTimeoutMs,
  workers: SETTINGS.workers,
} satisfies SettingsSpec;

export const screenWorkerSettings = {
  ...sharedSettings,
  ...scoringSettings,
  host: SETTINGS.host,
  port: SETTINGS.screenPort,
  apiKeys: { ...SETTINGS.apiKeys, description: 'comma-separated accepted API keys for POST /v1/risk/screen' },
  consumer: SETTINGS.consumer,
  claimIdleMs: SETTINGS.claimIdleMs,
  maxDeliveries: SETTINGS.maxDeliveries,
  batchSize: SETTINGS.batchSize,
  blockMs: SETTINGS.blockMs,
  concurrency: SETTINGS.screenConcurrency,
  authorWindowS: SETTINGS.authorWindowS,
  trimIntervalMs: SETTINGS.trimIntervalMs,
  categoryCompat: SETTINGS.categoryCompat,
  workers: SETTINGS.workers,
} satisfies SettingsSpec;

/** `riskpipe send` (HTTP only: no Redis settings). */
export const sendSettings = {
  url: { flag: 'url', env: 'RISKPIPE_URL', schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }), default: 'http://127.0.0.1:8001', arg: 'url', description: 'ingest API base URL' },
  apiKey: { flag: 'apiKey', env: 'RISKPIPE_API_KEY', schema: z.string().optional(), arg: 'key', description: 'API key' },
  // Larger values are capped rather than refused: the server's limit is what matters.
  batchSize: { flag: 'batchSize', schema: positiveInt().transform((n) => Math.min(n, MAX_BATCH_SIZE)), default: 200, arg: 'n', description: `events per batch request (at most ${MAX_BATCH_SIZE}, the server's limit)` },
  concurrency: { flag: 'concurrency', schema: positiveInt(64), default: 4, arg: 'n', description: 'requests in flight' },
  maxRetries: { flag: 'maxRetries', schema: nonNegativeInt(100), default: 8, arg: 'n', description: 'retries of a request answered 503 or not answered, with backoff honoring Retry-After' },
  // The event model's own schema: case-insensitive, and its error lists the allowed platforms.
  platform: { flag: 'platform', schema: Platform, default: 'web_chat', arg: 'platform', description: 'platform for --text' },
  author: { flag: 'author', schema: z.string().trim().min(1, { error: 'must not be empty' }), default: 'cli-user', arg: 'id', description: 'author_id/user_id for --text' },
} satisfies SettingsSpec;

/** `riskpipe tail-stream`. */
export const tailSettings = {
  redisUrl: SETTINGS.redisUrl,
  prefix: SETTINGS.prefix,
  hashTag: SETTINGS.hashTag,
  count: { flag: 'count', schema: nonNegativeInt().optional(), arg: 'n', short: 'n', description: 'stop after this many entries' },
  blockMs: { flag: 'blockMs', schema: positiveInt(60_000), default: 5000, arg: 'ms', description: 'how long one read waits' },
  json: { flag: 'json', schema: z.boolean(), default: false, description: 'one JSON object per line' },
  fromStart: { flag: 'fromStart', schema: z.boolean(), default: false, description: 'start at the first entry instead of new ones' },
  // `riskpipe up` with its in-process bus: the streams are read over its HTTP API instead.
  url: {
    flag: 'url',
    env: 'RISKPIPE_URL',
    schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
    arg: 'url',
    description: 'follow the streams of a `riskpipe up` at this URL over HTTP instead of Redis',
    defaultHelp: 'http://127.0.0.1:8001 when riskpipe up answers there and no Redis URL is given',
  },
  apiKey: { flag: 'apiKey', env: 'RISKPIPE_API_KEY', schema: z.string().optional(), arg: 'key', description: 'API key (with --url)' },
} satisfies SettingsSpec;

const quietLogLevel = { ...SETTINGS.logLevel, default: 'warn' } satisfies Setting;

/** `riskpipe screen` (offline: the prefix only names the stream in routed_to). */
export const screenSettings = {
  ...scoringSettings,
  prefix: { ...SETTINGS.prefix, description: 'stream prefix shown in routed_to' },
  logLevel: quietLogLevel,
} satisfies SettingsSpec;

/** `riskpipe explain`. */
export const explainSettings = screenSettings;
