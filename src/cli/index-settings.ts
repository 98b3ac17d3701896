import { z } from 'zod';
import { PLATFORMS, RISK_CATEGORIES, RISK_LEVELS } from '../models/index.js';
import { logLevel, port, positiveInt, SETTINGS, sharedSettings, type SettingsSpec } from './settings.js';

/*
 * Settings of the stage-3 commands (index-worker, migrate, search, batch, dlq), declared once in
 * the same form as the catalogue in settings.ts (which they reuse where a setting is shared);
 * commander options and help are generated from them.
 */

const httpUrl = (example: string) => z.url({ protocol: /^https?$/, error: `must be an http:// or https:// URL such as ${example}` });
const secret = z.string().min(1).optional();

/** Where stage 3 keeps its record: shared by index-worker and migrate. */
export const storeSettings = {
  databaseUrl: {
    flag: 'databaseUrl',
    env: 'DATABASE_URL',
    schema: z.string().regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
    default: 'postgres://postgres@127.0.0.1:5432/postgres',
    arg: 'url',
    description: 'Postgres URL',
  },
  dbSchema: {
    flag: 'dbSchema',
    env: 'RISKPIPE_DB_SCHEMA',
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a lower-case SQL identifier' }).optional(),
    arg: 'schema',
    description: "schema for riskpipe's tables (created if missing)",
    defaultHelp: 'the search_path, public',
  },
} satisfies SettingsSpec;

export const indexWorkerSettings = {
  ...sharedSettings,
  ...storeSettings,
  host: SETTINGS.host,
  port: { flag: 'port', env: 'RISKPIPE_INDEX_PORT', schema: port, default: 8003, arg: 'port', description: 'port' },
  apiKeys: { ...SETTINGS.apiKeys, description: 'comma-separated accepted API keys for search, events and dead letters' },
  dataDir: { flag: 'dataDir', env: 'RISKPIPE_DATA_DIR', schema: z.string().min(1), default: './.riskpipe', arg: 'dir', description: 'where the embedded vector index lives (<dir>/index/events)' },
  qdrantUrl: { flag: 'qdrantUrl', env: 'QDRANT_URL', schema: httpUrl('http://127.0.0.1:6333').optional(), arg: 'url', description: 'use this Qdrant instead of the embedded index', defaultHelp: 'none: embedded' },
  qdrantApiKey: { flag: 'qdrantApiKey', env: 'QDRANT_API_KEY', schema: secret, arg: 'key', description: 'Qdrant API key' },
  collection: { flag: 'collection', env: 'RISKPIPE_COLLECTION', schema: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, { error: 'may use only letters, digits, _ and -' }), default: 'riskpipe_events', arg: 'name', description: 'Qdrant collection' },
  embedder: { flag: 'embedder', env: 'RISKPIPE_EMBEDDER', schema: z.enum(['hash', 'onnx', 'remote'], { error: 'must be hash, onnx or remote' }), default: 'hash', arg: 'kind', description: 'hash|onnx|remote (an OpenAI-compatible /v1/embeddings endpoint)' },
  modelDir: SETTINGS.modelDir,
  embeddingsUrl: { flag: 'embeddingsUrl', env: 'RISKPIPE_EMBEDDINGS_URL', schema: httpUrl('https://api.openai.com/v1').optional(), arg: 'url', description: 'base URL of the embeddings endpoint for --embedder remote' },
  embeddingsModel: { flag: 'embeddingsModel', env: 'RISKPIPE_EMBEDDINGS_MODEL', schema: z.string().min(1), default: 'text-embedding-3-small', arg: 'name', description: 'embedding model for --embedder remote' },
  embeddingsApiKey: { flag: 'embeddingsApiKey', env: 'RISKPIPE_EMBEDDINGS_API_KEY', schema: secret, arg: 'key', description: 'embeddings API key' },
  incidents: { flag: 'incidents', env: 'RISKPIPE_INCIDENTS', schema: z.enum(['rules', 'openai'], { error: 'must be rules or openai' }), default: 'rules', arg: 'kind', description: 'incident provider: rules (offline) or openai (any OpenAI-compatible chat endpoint)' },
  llmUrl: { flag: 'llmUrl', env: 'RISKPIPE_LLM_URL', schema: httpUrl('https://api.openai.com/v1'), default: 'https://api.openai.com/v1', arg: 'url', description: 'base URL of the chat-completions endpoint for --incidents openai' },
  llmModel: { flag: 'llmModel', env: 'RISKPIPE_LLM_MODEL', schema: z.string().min(1), default: 'gpt-4o-mini', arg: 'name', description: 'chat model' },
  llmApiKey: { flag: 'llmApiKey', env: 'RISKPIPE_LLM_API_KEY', schema: secret, arg: 'key', description: 'LLM API key' },
  llmTimeoutMs: { flag: 'llmTimeoutMs', env: 'RISKPIPE_LLM_TIMEOUT_MS', schema: positiveInt(600_000), default: 30_000, arg: 'ms', description: 'one LLM request gives up after this' },
  llmMaxRetries: { flag: 'llmMaxRetries', env: 'RISKPIPE_LLM_MAX_RETRIES', schema: z.coerce.number().int().min(0).max(20), default: 3, arg: 'n', description: 'retries of a 429, 5xx or timeout, with backoff honouring Retry-After' },
  llmConcurrency: { flag: 'llmConcurrency', env: 'RISKPIPE_LLM_CONCURRENCY', schema: positiveInt(256), default: 4, arg: 'n', description: 'LLM requests in flight' },
  consumer: SETTINGS.consumer,
  claimIdleMs: SETTINGS.claimIdleMs,
  maxDeliveries: { ...SETTINGS.maxDeliveries, description: 'dead-letter an entry after this many failed deliveries' },
  batchSize: { ...SETTINGS.batchSize, default: 256, description: 'entries per read and per Postgres write' },
  blockMs: SETTINGS.blockMs,
  concurrency: { flag: 'concurrency', env: 'RISKPIPE_INDEX_CONCURRENCY', schema: positiveInt(64), default: 2, arg: 'n', description: 'batches in flight' },
  workers: { ...SETTINGS.workers, description: `${SETTINGS.workers.description} (more than 1 needs QDRANT_URL: the embedded index has one writer)` },
} satisfies SettingsSpec;

export const migrateSettings = {
  ...storeSettings,
  pglite: { flag: 'pglite', env: 'RISKPIPE_PGLITE_DIR', schema: z.string().min(1).optional(), arg: 'dir', description: 'migrate a PGlite data directory instead of Postgres' },
  json: { flag: 'json', schema: z.boolean(), default: false, description: 'print JSON' },
  logLevel: { flag: 'logLevel', env: 'LOG_LEVEL', schema: logLevel, default: 'warn', arg: 'level', description: 'fatal|error|warn|info|debug|trace|silent' },
} satisfies SettingsSpec;

/** Where the CLI finds stage 3's API (index-worker, or `riskpipe up`): shared by search, batch and dlq. */
export const indexApiSettings = {
  url: { flag: 'url', env: 'RISKPIPE_INDEX_URL', schema: httpUrl('http://127.0.0.1:8003'), default: 'http://127.0.0.1:8003', arg: 'url', description: 'index API base URL (index-worker, or riskpipe up)', defaultHelp: 'http://127.0.0.1:8003, then http://127.0.0.1:8001 (riskpipe up)' },
  apiKey: { flag: 'apiKey', env: 'RISKPIPE_API_KEY', schema: secret, arg: 'key', description: 'API key' },
  json: { flag: 'json', schema: z.boolean(), default: false, description: 'print JSON' },
} satisfies SettingsSpec;

const list = <T extends readonly [string, ...string[]]>(values: T, upper = false) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => (upper ? x.trim().toUpperCase() : x.trim().toLowerCase())).filter(Boolean))
    .pipe(z.array(z.enum(values, { error: `must be one or more of ${values.join(', ')} (comma-separated)` })).min(1))
    .optional();

export const searchSettings = {
  ...indexApiSettings,
  k: { flag: 'k', schema: positiveInt(100), default: 10, arg: 'n', short: 'k', description: 'results, at most 100' },
  platform: { flag: 'platform', schema: list(PLATFORMS), arg: 'list', description: 'only these platforms (comma-separated)' },
  category: { flag: 'category', schema: list(RISK_CATEGORIES), arg: 'list', description: 'only these risk categories (comma-separated)' },
  level: { flag: 'level', schema: list(RISK_LEVELS, true), arg: 'list', description: 'only these risk levels: LOW, MEDIUM, HIGH (comma-separated)' },
  since: { flag: 'since', schema: z.string().min(1).optional(), arg: 'when', description: 'created at or after: an ISO 8601 date, or a duration back from now such as 24h, 7d' },
} satisfies SettingsSpec;

export const batchSettings = {
  ...indexApiSettings,
  wait: { flag: 'wait', schema: z.boolean(), default: false, description: 'wait until it completes (a progress bar on a terminal; exit 3 on timeout)' },
  timeoutS: { flag: 'timeoutS', schema: positiveInt(7 * 24 * 3600), default: 600, arg: 's', description: 'give up waiting after this' },
  intervalMs: { flag: 'intervalMs', schema: positiveInt(60_000), default: 500, arg: 'ms', description: 'poll interval while waiting' },
} satisfies SettingsSpec;

export const dlqSettings = {
  ...indexApiSettings,
  stage: { flag: 'stage', schema: z.string().min(1).optional(), arg: 'stage', description: 'only entries of this stage (ingest, screen, index)' },
  limit: { flag: 'limit', schema: positiveInt(1_000_000), default: 100, arg: 'n', description: 'list at most this many' },
  all: { flag: 'all', schema: z.boolean(), default: false, description: 'replay / purge every entry' },
  yes: { flag: 'yes', schema: z.boolean(), default: false, description: 'confirm purge' },
} satisfies SettingsSpec;
