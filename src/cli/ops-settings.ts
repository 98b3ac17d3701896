import { z } from 'zod';
import { indexWorkerSettings, storeSettings } from './index-settings.js';
import { positiveInt, scoringSettings, SETTINGS, sharedSettings, type Setting, type SettingsSpec } from './settings.js';

/*
 * Settings of the operator tools (issue 12): doctor, top, bench — declared in the same form as
 * the catalogue in settings.ts and reusing its entries and stage 3's (index-settings.ts).
 */
// Stage 3's infrastructure as doctor and bench read it: the index stage's own settings.
const opsInfra = {
  databaseUrl: storeSettings.databaseUrl,
  dbSchema: storeSettings.dbSchema,
  qdrantUrl: indexWorkerSettings.qdrantUrl,
  qdrantApiKey: indexWorkerSettings.qdrantApiKey,
  collection: indexWorkerSettings.collection,
  dataDir: indexWorkerSettings.dataDir,
  indexPort: { ...indexWorkerSettings.port, flag: undefined },
} satisfies SettingsSpec;

const json = (description: string) => ({ flag: 'json', schema: z.boolean(), default: false, description }) satisfies Setting;

/** `riskpipe doctor`. */
export const doctorSettings = {
  redisUrl: sharedSettings.redisUrl,
  prefix: sharedSettings.prefix,
  hashTag: sharedSettings.hashTag,
  embedder: scoringSettings.embedder,
  modelDir: scoringSettings.modelDir,
  ...opsInfra,
  host: { ...SETTINGS.host, description: 'address the stages listen on, for the port checks' },
  ingestPort: { ...SETTINGS.ingestPort, flag: undefined },
  screenPort: { ...SETTINGS.screenPort, flag: undefined },
  maxQueueDepth: { ...SETTINGS.maxQueueDepth, flag: undefined },
  timeoutMs: { flag: 'timeoutMs', schema: positiveInt(120_000), default: 5000, arg: 'ms', description: 'deadline of each group of checks' },
  deep: { flag: 'deep', schema: z.boolean(), default: false, description: 'also load the ONNX model and the word vectors (slow)' },
  skipPorts: { flag: 'skipPorts', schema: z.boolean(), default: false, description: 'do not check that the stage ports are free' },
  strict: { flag: 'strict', schema: z.boolean(), default: false, description: 'exit 1 on warnings too' },
  skipPostgres: { flag: 'skipPostgres', schema: z.boolean(), default: false, description: 'do not check Postgres (no index-worker here, or riskpipe up on PGlite)' },
  json: json('print the report as JSON'),
} satisfies SettingsSpec;

/** `riskpipe top`. */
export const topSettings = {
  redisUrl: SETTINGS.redisUrl,
  prefix: SETTINGS.prefix,
  hashTag: SETTINGS.hashTag,
  intervalMs: { flag: 'intervalMs', env: 'RISKPIPE_TOP_INTERVAL_MS', schema: positiveInt(60_000).min(100, { error: 'must be at least 100' }), default: 1000, arg: 'ms', description: 'refresh interval' },
  once: { flag: 'once', schema: z.boolean(), default: false, description: 'print one snapshot and exit, even on a terminal' },
  json: json('print one snapshot as JSON and exit'),
} satisfies SettingsSpec;

/** `riskpipe bench`. */
export const benchSettings = {
  redisUrl: SETTINGS.redisUrl,
  prefix: { ...SETTINGS.prefix, description: 'prefix of the running services (with --ingest-url); a self-started pipeline uses its own' },
  hashTag: SETTINGS.hashTag,
  ingestUrl: { flag: 'ingestUrl', env: 'RISKPIPE_URL', schema: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(), arg: 'url', description: 'measure the running services behind this ingest URL', defaultHelp: 'none: start serve-ingest and screen-worker under a private prefix' },
  apiKey: { flag: 'apiKey', env: 'RISKPIPE_API_KEY', schema: z.string().optional(), arg: 'key', description: 'API key of the ingest API' },
  databaseUrl: { ...opsInfra.databaseUrl, default: undefined, schema: opsInfra.databaseUrl.schema.optional(), description: 'Postgres for indexing: a self-started pipeline then runs an index-worker in a schema of its own; with --ingest-url, the running index-worker\'s', defaultHelp: 'none: indexing not measured' },
  rate: { flag: 'rate', schema: positiveInt(1_000_000), default: 200, arg: 'events/s', description: 'event rate of the end-to-end latency phase' },
  duration: { flag: 'duration', schema: z.coerce.number({ error: 'must be a number' }).min(0.5, { error: 'must be at least 0.5' }).max(3600), default: 10, arg: 's', description: 'seconds of each phase' },
  connections: { flag: 'connections', schema: positiveInt(1024), default: 16, arg: 'n', description: 'HTTP connections of the load generator' },
  batchSize: { flag: 'batchSize', schema: positiveInt(10_000), default: 100, arg: 'n', description: 'events per request in the batch phase' },
  screenWorkers: { flag: 'screenWorkers', schema: positiveInt(32), default: 1, arg: 'n', description: 'screen-worker processes a self-started pipeline runs' },
  drainTimeoutS: { flag: 'drainTimeoutS', schema: positiveInt(3600), default: 120, arg: 's', description: 'longest wait for the pipeline to route everything sent' },
  progress: { flag: 'progress', schema: z.boolean(), default: true, description: 'progress bar on stderr while it runs (a terminal only)' },
  json: json('print the results as JSON'),
} satisfies SettingsSpec;
