import { z } from 'zod';
import { indexWorkerSettings, storeSettings } from '../index-settings.js';
import { positiveInt, redisUrl, resolveSettings, SETTINGS, scoringSettings, type Resolved, type Setting, type SettingsSpec } from '../settings.js';

/*
 * Settings of `riskpipe up`, declared once and reused from the catalogues of the stages it runs
 * (settings.ts for ingest and screening, index-settings.ts for stage 3). What differs is the
 * defaults: every backend is embedded unless its URL is given, so nothing is needed but Node.
 */

/** A URL setting that is off (embedded) unless given. */
const optional = <S extends Setting>(s: S, description: string) => ({ ...s, schema: s.schema.optional(), default: undefined, description, defaultHelp: 'none: embedded' }) as const;

export const upSettings = {
  host: { ...SETTINGS.host, default: '127.0.0.1', description: 'address to listen on (0.0.0.0 for every interface)' },
  port: { ...SETTINGS.ingestPort, env: 'RISKPIPE_PORT', description: 'port of every API (ingest, screen, search, batches, dead letters, streams)', defaultHelp: '8001; PORT is read too' },
  dataDir: { ...indexWorkerSettings.dataDir, description: 'where the embedded state lives: bus journal, PGlite database, vector index' },
  // Real backends, swapped in by configuration alone.
  redisUrl: optional({ ...SETTINGS.redisUrl, schema: redisUrl }, 'use Redis streams instead of the in-process bus'),
  prefix: SETTINGS.prefix,
  hashTag: SETTINGS.hashTag,
  databaseUrl: optional(storeSettings.databaseUrl, 'use this Postgres instead of the embedded PGlite database'),
  dbSchema: storeSettings.dbSchema,
  qdrantUrl: indexWorkerSettings.qdrantUrl,
  qdrantApiKey: indexWorkerSettings.qdrantApiKey,
  collection: indexWorkerSettings.collection,
  ...scoringSettings,
  categoryCompat: SETTINGS.categoryCompat,
  // A model directory alone switches to the ONNX embedder (resolveUpConfig).
  embedder: { ...scoringSettings.embedder, schema: scoringSettings.embedder.schema.optional(), default: undefined, defaultHelp: 'hash; onnx when --model-dir is given' },
  // Incidents (stage 3).
  incidents: indexWorkerSettings.incidents,
  llmUrl: indexWorkerSettings.llmUrl,
  llmModel: indexWorkerSettings.llmModel,
  llmApiKey: indexWorkerSettings.llmApiKey,
  llmTimeoutMs: indexWorkerSettings.llmTimeoutMs,
  llmMaxRetries: indexWorkerSettings.llmMaxRetries,
  llmConcurrency: indexWorkerSettings.llmConcurrency,
  // Ingest.
  apiKeys: SETTINGS.apiKeys,
  maxQueueDepth: SETTINGS.maxQueueDepth,
  dedupWindowS: SETTINGS.dedupWindowS,
  maxBatchSize: SETTINGS.maxBatchSize,
  bodyLimitBytes: SETTINGS.bodyLimitBytes,
  // Consumers.
  claimIdleMs: SETTINGS.claimIdleMs,
  maxDeliveries: SETTINGS.maxDeliveries,
  blockMs: { ...SETTINGS.blockMs, default: 1000 },
  batchSize: { ...SETTINGS.batchSize, default: 128, description: 'entries per read, for screening and indexing' },
  workers: {
    flag: 'workers',
    env: 'RISKPIPE_WORKERS',
    schema: positiveInt(64),
    default: 1,
    arg: 'n',
    description: 'screening worker processes (more than 1 needs Redis: REDIS_URL)',
  },
  fsync: { flag: 'fsync', env: 'RISKPIPE_FSYNC', schema: z.stringbool().or(z.boolean()), default: false, description: 'fsync every bus journal write (survives power loss, not only a killed process; slower)' },
  logLevel: { ...SETTINGS.logLevel, default: 'warn', description: 'fatal|error|warn|info|debug|trace|silent (pino JSON on stderr)' },
} satisfies SettingsSpec;

/** The settings of `up`, with what follows from them: a model directory alone means the ONNX embedder. */
export type UpConfig = Omit<Resolved<typeof upSettings>, 'embedder'> & { embedder: NonNullable<Resolved<typeof upSettings>['embedder']> };

export function resolveUpConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): UpConfig {
  // PORT is the common convention of process managers; RISKPIPE_PORT wins over it.
  const cfg = resolveSettings(upSettings, flags, { ...env, RISKPIPE_PORT: env.RISKPIPE_PORT ?? env.PORT });
  return { ...cfg, embedder: cfg.embedder ?? (cfg.modelDir ? 'onnx' : 'hash') };
}
