import { ConfigError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { IndexBackendsConfig } from '../../index/backends.js';
import { indexWorkerSettings, storeSettings } from '../index-settings.js';
import { resolveSettings, type Resolved } from '../settings.js';
import { untilSignal } from '../signals.js';

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
  const { startIndexService } = await import('../../index/service.js');
  const service = await startIndexService({ ...cfg, backends: backendsFromSettings(cfg) }, log);
  await untilSignal(() => service.close(), log);
}
