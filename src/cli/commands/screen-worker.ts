import { createLogger } from '../../common/logger.js';
import { startScreenService } from '../../screen/service.js';
import { resolveSettings, screenWorkerSettings } from '../settings.js';
import { runWorkers, workerConsumerName } from '../workers.js';
import { loadScreener } from './screen.js';

// Declared once, in ../settings.ts.
export { screenWorkerSettings };

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(screenWorkerSettings, flags, env);
  const log = createLogger({ level: cfg.logLevel });
  await runWorkers({ workers: cfg.workers, log }, async (log, w) => {
    const c = { ...cfg, consumer: workerConsumerName(cfg.consumer, w) };
    const tracing = await (await import('../../ops/tracing.js')).tracingFromEnv('riskpipe-screen', env);
    return startScreenService(c, log, () => loadScreener(c, log), tracing);
  });
}
