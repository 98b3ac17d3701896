import { createLogger } from '../../common/logger.js';
import { startIngestServer } from '../../ingest/server.js';
import { apiKeys, nonNegativeInt, port, positiveInt, resolveSettings, sharedSettings } from '../settings.js';
import { untilSignal } from '../signals.js';
import { z } from 'zod';

export const serveIngestSettings = {
  ...sharedSettings,
  host: { flag: 'host', env: 'RISKPIPE_HOST', schema: z.string().min(1), default: '0.0.0.0' },
  port: { flag: 'port', env: 'RISKPIPE_INGEST_PORT', schema: port, default: 8001 },
  apiKeys: { flag: 'apiKeys', env: 'RISKPIPE_API_KEYS', schema: apiKeys, default: '' },
  maxQueueDepth: { flag: 'maxQueueDepth', env: 'RISKPIPE_MAX_QUEUE_DEPTH', schema: positiveInt(), default: 100_000 },
  dedupWindowS: { flag: 'dedupWindowS', env: 'RISKPIPE_DEDUP_WINDOW_S', schema: positiveInt(365 * 24 * 3600), default: 3600 },
  maxBatchSize: { flag: 'maxBatchSize', env: 'RISKPIPE_MAX_BATCH_SIZE', schema: positiveInt(10_000), default: 500 },
  bodyLimitBytes: { flag: 'bodyLimitBytes', env: 'RISKPIPE_BODY_LIMIT_BYTES', schema: positiveInt(1024 * 1024 * 1024), default: 16 * 1024 * 1024 },
  // Limits and timeouts: src/common/limits.ts and src/common/http-hardening.ts say why.
  maxJsonDepth: { flag: 'maxJsonDepth', env: 'RISKPIPE_MAX_JSON_DEPTH', schema: positiveInt(1000), default: 32 },
  maxMetadataBytes: { flag: 'maxMetadataBytes', env: 'RISKPIPE_MAX_METADATA_BYTES', schema: positiveInt(16 * 1024 * 1024), default: 16 * 1024 },
  requestTimeoutMs: { flag: 'requestTimeoutMs', env: 'RISKPIPE_REQUEST_TIMEOUT_MS', schema: nonNegativeInt(3_600_000), default: 30_000 },
  headersTimeoutMs: { flag: 'headersTimeoutMs', env: 'RISKPIPE_HEADERS_TIMEOUT_MS', schema: positiveInt(3_600_000), default: 10_000 },
  keepAliveTimeoutMs: { flag: 'keepAliveTimeoutMs', env: 'RISKPIPE_KEEP_ALIVE_TIMEOUT_MS', schema: positiveInt(3_600_000), default: 72_000 },
  redisCommandTimeoutMs: { flag: 'redisCommandTimeoutMs', env: 'RISKPIPE_REDIS_COMMAND_TIMEOUT_MS', schema: positiveInt(600_000), default: 1_000 },
};

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  // PORT is the common convention of process managers; RISKPIPE_INGEST_PORT wins over it.
  const cfg = resolveSettings(serveIngestSettings, flags, { ...env, RISKPIPE_INGEST_PORT: env.RISKPIPE_INGEST_PORT ?? env.PORT });
  const log = createLogger({ level: cfg.logLevel });
  const server = await startIngestServer(cfg, log);
  await untilSignal(() => server.close(), log);
}
