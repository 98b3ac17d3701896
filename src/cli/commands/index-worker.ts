import { z } from 'zod';
import { ConfigError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { IndexBackendsConfig } from '../../index/backends.js';
import { apiKeys, port, positiveInt, resolveSettings, sharedSettings, type Resolved } from '../settings.js';
import { untilSignal } from '../signals.js';

const url = (what: string) => z.string().url({ error: `must be a URL (${what})` });
const optionalSecret = z.string().min(1).optional();

/** Where stage 3 stores things: shared by index-worker and migrate. */
export const storeSettings = {
  databaseUrl: { flag: 'databaseUrl', env: 'DATABASE_URL', schema: z.string().regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }), default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  dbSchema: {
    flag: 'dbSchema',
    env: 'RISKPIPE_DB_SCHEMA',
    schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { error: 'must be a lower-case SQL identifier' }).optional(),
  },
};

/** Every setting of `riskpipe index-worker`, declared once. */
export const indexWorkerSettings = {
  ...sharedSettings,
  ...storeSettings,
  host: { flag: 'host', env: 'RISKPIPE_HOST', schema: z.string().min(1), default: '0.0.0.0' },
  port: { flag: 'port', env: 'RISKPIPE_INDEX_PORT', schema: port, default: 8003 },
  apiKeys: { flag: 'apiKeys', env: 'RISKPIPE_API_KEYS', schema: apiKeys, default: '' },
  dataDir: { flag: 'dataDir', env: 'RISKPIPE_DATA_DIR', schema: z.string().min(1), default: './.riskpipe' },
  qdrantUrl: { flag: 'qdrantUrl', env: 'QDRANT_URL', schema: url('e.g. http://127.0.0.1:6333').optional() },
  qdrantApiKey: { flag: 'qdrantApiKey', env: 'QDRANT_API_KEY', schema: optionalSecret },
  collection: { flag: 'collection', env: 'RISKPIPE_COLLECTION', schema: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, { error: 'may use only letters, digits, _ and -' }), default: 'riskpipe_events' },
  embedder: { flag: 'embedder', env: 'RISKPIPE_EMBEDDER', schema: z.enum(['hash', 'onnx', 'remote'], { error: 'must be hash, onnx or remote' }), default: 'hash' },
  modelDir: { flag: 'modelDir', env: 'RISKPIPE_MODEL_DIR', schema: z.string().min(1).optional() },
  embeddingsUrl: { flag: 'embeddingsUrl', env: 'RISKPIPE_EMBEDDINGS_URL', schema: url('an OpenAI-compatible base URL such as https://api.openai.com/v1').optional() },
  embeddingsModel: { flag: 'embeddingsModel', env: 'RISKPIPE_EMBEDDINGS_MODEL', schema: z.string().min(1), default: 'text-embedding-3-small' },
  embeddingsApiKey: { flag: 'embeddingsApiKey', env: 'RISKPIPE_EMBEDDINGS_API_KEY', schema: optionalSecret },
  incidents: { flag: 'incidents', env: 'RISKPIPE_INCIDENTS', schema: z.enum(['rules', 'openai'], { error: 'must be rules or openai' }), default: 'rules' },
  llmUrl: { flag: 'llmUrl', env: 'RISKPIPE_LLM_URL', schema: url('an OpenAI-compatible base URL such as https://api.openai.com/v1'), default: 'https://api.openai.com/v1' },
  llmModel: { flag: 'llmModel', env: 'RISKPIPE_LLM_MODEL', schema: z.string().min(1), default: 'gpt-4o-mini' },
  llmApiKey: { flag: 'llmApiKey', env: 'RISKPIPE_LLM_API_KEY', schema: optionalSecret },
  llmTimeoutMs: { flag: 'llmTimeoutMs', env: 'RISKPIPE_LLM_TIMEOUT_MS', schema: positiveInt(600_000), default: 30_000 },
  llmMaxRetries: { flag: 'llmMaxRetries', env: 'RISKPIPE_LLM_MAX_RETRIES', schema: z.coerce.number().int().min(0).max(20), default: 3 },
  llmConcurrency: { flag: 'llmConcurrency', env: 'RISKPIPE_LLM_CONCURRENCY', schema: positiveInt(256), default: 4 },
  consumer: {
    flag: 'consumer',
    env: 'RISKPIPE_CONSUMER',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_.:@\-]+$/, { error: 'may use only letters, digits and _ . : @ -' })
      .max(200)
      .optional(),
  },
  claimIdleMs: { flag: 'claimIdleMs', env: 'RISKPIPE_CLAIM_IDLE_MS', schema: positiveInt(24 * 3600 * 1000), default: 30_000 },
  maxDeliveries: { flag: 'maxDeliveries', env: 'RISKPIPE_MAX_DELIVERIES', schema: positiveInt(1000), default: 5 },
  batchSize: { flag: 'batchSize', env: 'RISKPIPE_BATCH_SIZE', schema: positiveInt(10_000), default: 256 },
  blockMs: { flag: 'blockMs', env: 'RISKPIPE_BLOCK_MS', schema: positiveInt(60_000), default: 2000 },
  concurrency: { flag: 'concurrency', env: 'RISKPIPE_INDEX_CONCURRENCY', schema: positiveInt(64), default: 2 },
};
export type IndexWorkerConfig = Resolved<typeof indexWorkerSettings>;

/** The backends the settings describe (`riskpipe up` builds its own: PGlite, the data dir). */
export function backendsFromSettings(cfg: IndexWorkerConfig): IndexBackendsConfig {
  if (cfg.embedder === 'remote' && !cfg.embeddingsUrl) {
    throw new ConfigError([{ path: 'embeddingsUrl (--embeddings-url / RISKPIPE_EMBEDDINGS_URL)', message: 'is required with --embedder remote' }]);
  }
  return {
    store: { url: cfg.databaseUrl, schema: cfg.dbSchema },
    vector: cfg.qdrantUrl ? { kind: 'qdrant', url: cfg.qdrantUrl, apiKey: cfg.qdrantApiKey, collection: cfg.collection } : { kind: 'embedded', dir: `${cfg.dataDir.replace(/\/+$/, '')}/index/events` },
    embedder:
      cfg.embedder === 'remote'
        ? { kind: 'remote', baseUrl: cfg.embeddingsUrl!, model: cfg.embeddingsModel, apiKey: cfg.embeddingsApiKey }
        : { kind: cfg.embedder, modelDir: cfg.modelDir },
    incidents:
      cfg.incidents === 'openai'
        ? { kind: 'openai', baseUrl: cfg.llmUrl, model: cfg.llmModel, apiKey: cfg.llmApiKey, timeoutMs: cfg.llmTimeoutMs, maxRetries: cfg.llmMaxRetries, concurrency: cfg.llmConcurrency }
        : { kind: 'rules' },
  };
}

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(indexWorkerSettings, flags, env);
  const log = createLogger({ level: cfg.logLevel });
  const { startIndexService } = await import('../../index/service.js');
  const service = await startIndexService({ ...cfg, backends: backendsFromSettings(cfg) }, log);
  await untilSignal(() => service.close(), log);
}
