import { ConfigError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { IndexBackendsConfig } from '../../index/backends.js';
import { indexWorkerSettings, storeSettings } from '../index-settings.js';
import { resolveSettings, type Resolved } from '../settings.js';
import { runWorkers, workerConsumerName } from '../workers.js';

// Declared once, in ../index-settings.ts.
export { indexWorkerSettings, storeSettings };

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
  if (cfg.workers > 1 && !cfg.qdrantUrl) {
    throw new ConfigError([{ path: 'workers (--workers / RISKPIPE_WORKERS)', message: `${cfg.workers} workers need QDRANT_URL: the embedded vector index has one writer per data directory` }]);
  }
  const backends = backendsFromSettings(cfg);
  const { startIndexService } = await import('../../index/service.js');
  await runWorkers({ workers: cfg.workers, log }, async (log, w) => {
    const tracing = await (await import('../../ops/tracing.js')).tracingFromEnv('riskpipe-index', env);
    return startIndexService({ ...cfg, consumer: workerConsumerName(cfg.consumer, w), backends }, log, tracing);
  });
}
