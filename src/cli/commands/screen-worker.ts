import { z } from 'zod';
import { createLogger } from '../../common/logger.js';
import { startScreenService } from '../../screen/service.js';
import { apiKeys, nonNegativeInt, port, positiveInt, resolveSettings, sharedSettings } from '../settings.js';
import { untilSignal } from '../signals.js';
import { CATEGORY_COMPAT_MODES } from '../../screen/compat.js';
import { loadScreener, scoringSettings } from './screen.js';

export const screenWorkerSettings = {
  ...sharedSettings,
  ...scoringSettings,
  host: { flag: 'host', env: 'RISKPIPE_HOST', schema: z.string().min(1), default: '0.0.0.0' },
  port: { flag: 'port', env: 'RISKPIPE_SCREEN_PORT', schema: port, default: 8002 },
  apiKeys: { flag: 'apiKeys', env: 'RISKPIPE_API_KEYS', schema: apiKeys, default: '' },
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
  batchSize: { flag: 'batchSize', env: 'RISKPIPE_BATCH_SIZE', schema: positiveInt(10_000), default: 64 },
  blockMs: { flag: 'blockMs', env: 'RISKPIPE_BLOCK_MS', schema: positiveInt(60_000), default: 2000 },
  concurrency: { flag: 'concurrency', env: 'RISKPIPE_SCREEN_CONCURRENCY', schema: positiveInt(64), default: 2 },
  authorWindowS: { flag: 'authorWindowS', env: 'RISKPIPE_AUTHOR_WINDOW_S', schema: positiveInt(24 * 3600), default: 60 },
  trimIntervalMs: { flag: 'trimIntervalMs', env: 'RISKPIPE_TRIM_INTERVAL_MS', schema: nonNegativeInt(24 * 3600 * 1000), default: 0 },
  categoryCompat: { flag: 'categoryCompat', env: 'RISKPIPE_CATEGORY_COMPAT', schema: z.enum(CATEGORY_COMPAT_MODES), default: 'riskpipe' },
};

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(screenWorkerSettings, flags, env);
  const log = createLogger({ level: cfg.logLevel });
  const service = await startScreenService(cfg, log, () => loadScreener(cfg, log));
  await untilSignal(() => service.close(), log);
}
