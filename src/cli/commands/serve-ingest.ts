import { createLogger } from '../../common/logger.js';
import { startIngestServer } from '../../ingest/server.js';
import { resolveSettings, serveIngestSettings } from '../settings.js';
import { runWorkers } from '../workers.js';

// Declared once, in ../settings.ts.
export { serveIngestSettings };

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  // PORT is the common convention of process managers; RISKPIPE_INGEST_PORT wins over it.
  const cfg = resolveSettings(serveIngestSettings, flags, { ...env, RISKPIPE_INGEST_PORT: env.RISKPIPE_INGEST_PORT ?? env.PORT });
  const log = createLogger({ level: cfg.logLevel });
  await runWorkers({ workers: cfg.workers, log }, async (log) => {
    const tracing = await (await import('../../ops/tracing.js')).tracingFromEnv('riskpipe-ingest', env);
    return startIngestServer({ ...cfg, tracing }, log);
  });
}
