import { createLogger } from '../../common/logger.js';
import { startScreenService } from '../../screen/service.js';
import { resolveSettings, screenWorkerSettings } from '../settings.js';
import { untilSignal } from '../signals.js';
import { loadScreener } from './screen.js';

// Declared once, in ../settings.ts.
export { screenWorkerSettings };

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(screenWorkerSettings, flags, env);
  const log = createLogger({ level: cfg.logLevel });
  const service = await startScreenService(cfg, log, () => loadScreener(cfg, log));
  await untilSignal(() => service.close(), log);
}
