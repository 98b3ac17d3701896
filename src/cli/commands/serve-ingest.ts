import { createLogger } from '../../common/logger.js';
import { startIngestServer } from '../../ingest/server.js';
import { resolveSettings, serveIngestSettings } from '../settings.js';
import { untilSignal } from '../signals.js';

// Declared once, in ../settings.ts.
export { serveIngestSettings };

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  // PORT is the common convention of process managers; RISKPIPE_INGEST_PORT wins over it.
  const cfg = resolveSettings(serveIngestSettings, flags, { ...env, RISKPIPE_INGEST_PORT: env.RISKPIPE_INGEST_PORT ?? env.PORT });
  const log = createLogger({ level: cfg.logLevel });
  const server = await startIngestServer(cfg, log);
  await untilSignal(() => server.close(), log);
}
