import type { FastifyInstance } from 'fastify';
import type { Logger } from '../common/logger.js';
import { createBus, type Bus } from '../stream/index.js';
import { buildIngestApp } from './app.js';

export interface IngestServerConfig {
  redisUrl: string;
  prefix: string;
  /** Hash tag of every key, for Redis Cluster (src/stream/keys.ts). Default none. */
  hashTag?: string;
  host: string;
  port: number;
  apiKeys: string[];
  maxQueueDepth: number;
  dedupWindowS: number;
  maxBatchSize: number;
  bodyLimitBytes: number;
}

export interface RunningIngest {
  app: FastifyInstance;
  bus: Bus;
  url: string;
  /** Stops intake, lets in-flight requests finish, then closes the bus. Idempotent. */
  close(): Promise<void>;
}

/** Starts `serve-ingest`: the HTTP app on host:port, writing to the raw stream of a producer bus (fails fast: 503 while Redis is away). */
export async function startIngestServer(cfg: IngestServerConfig, log: Logger): Promise<RunningIngest> {
  const bus = await createBus({ kind: 'redis', role: 'producer', redisUrl: cfg.redisUrl, prefix: cfg.prefix, hashTag: cfg.hashTag }, log);
  const app = await buildIngestApp({
    bus,
    apiKeys: cfg.apiKeys,
    maxQueueDepth: cfg.maxQueueDepth,
    dedupWindowS: cfg.dedupWindowS,
    maxBatchSize: cfg.maxBatchSize,
    bodyLimitBytes: cfg.bodyLimitBytes,
    log,
  });
  let url: string;
  try {
    url = await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    await bus.close();
    throw err;
  }
  if (cfg.apiKeys.length === 0) log.warn('RISKPIPE_API_KEYS is not set: the ingest API accepts requests without an API key');
  log.info({ url, stream: bus.names.raw, maxQueueDepth: cfg.maxQueueDepth, dedupWindowS: cfg.dedupWindowS }, 'serve-ingest listening');
  let closing: Promise<void> | undefined;
  return {
    app,
    bus,
    url,
    close() {
      closing ??= (async () => {
        await app.close();
        await bus.close();
      })();
      return closing;
    },
  };
}
