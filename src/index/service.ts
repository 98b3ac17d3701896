import type { FastifyInstance } from 'fastify';
import { isRetryable } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { buildStagesApp } from '../common/stages-app.js';
import { createBus, type Bus } from '../stream/index.js';
import { openIndexBackends, type IndexBackends, type IndexBackendsConfig } from './backends.js';
import { createIndexStage, type IndexStage, type IndexStageConfig } from './stage.js';

export interface IndexServiceConfig extends IndexStageConfig {
  redisUrl: string;
  prefix: string;
  hashTag?: string;
  host: string;
  port: number;
  backends: IndexBackendsConfig;
}

export interface RunningIndex {
  app: FastifyInstance;
  url: string;
  bus: Bus;
  stage: IndexStage;
  backends: IndexBackends;
  /** Stops intake and drains, then the HTTP app, then the bus and the backends. Idempotent. */
  close(): Promise<void>;
}

/** The stage's HTTP app: its routes plus /health, /ready, /metrics, /v1/metrics. Not listening. */
export function buildIndexApp(stage: IndexStage, log: Logger): Promise<FastifyInstance> {
  return buildStagesApp({ stages: [stage], log, bodyLimitBytes: 1024 * 1024 });
}

/**
 * Runs `fn` until it succeeds, waiting `everyMs` between tries while it fails with an error a
 * retry can help (Postgres or Qdrant not up yet: consumers wait); a permanent one (bad config, a
 * dimension mismatch, a database migrated by another build) is thrown at once. Each distinct
 * problem is logged once.
 */
export async function untilUp<T>(what: string, fn: () => Promise<T>, log: Logger, opts: { everyMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  let last = '';
  for (;;) {
    try {
      const out = await fn();
      if (last) log.info(`${what}: up`);
      return out;
    } catch (err) {
      if (!isRetryable(err) || opts.signal?.aborted) throw err;
      const msg = (err as Error).message;
      if (msg !== last) log.warn({ err }, `${what} is not reachable yet; retrying every ${(opts.everyMs ?? 2000) / 1000} s`);
      last = msg;
      await new Promise((r) => setTimeout(r, opts.everyMs ?? 2000));
    }
  }
}

/**
 * Starts `riskpipe index-worker`: backends (migrations applied), the bus, the HTTP app on :8003,
 * then the consumer. A store or vector index that is not up yet is waited for.
 */
export async function startIndexService(cfg: IndexServiceConfig, log: Logger): Promise<RunningIndex> {
  const backends = await untilUp('the store', () => openIndexBackends(cfg.backends, log), log);
  let bus: Bus;
  try {
    bus = await createBus({ kind: 'redis', role: 'consumer', redisUrl: cfg.redisUrl, prefix: cfg.prefix, hashTag: cfg.hashTag }, log);
  } catch (err) {
    await backends.close();
    throw err;
  }
  const stage = createIndexStage({ bus, log, ...backends }, cfg);
  const app = await buildIndexApp(stage, log);
  let url: string;
  try {
    url = await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    await app.close();
    await bus.close();
    await backends.close();
    throw err;
  }
  if (cfg.apiKeys.length === 0) log.warn('RISKPIPE_API_KEYS is not set: search, events and dead-letter routes accept requests without an API key');
  try {
    await untilUp('the vector index', () => stage.start(), log);
  } catch (err) {
    await stage.close();
    await app.close();
    await bus.close();
    await backends.close();
    throw err;
  }
  log.info({ url, consumer: stage.consumer, batchSize: cfg.batchSize, maxDeliveries: cfg.maxDeliveries }, 'index-worker listening');
  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    bus,
    stage,
    backends,
    close() {
      closing ??= (async () => {
        await stage.close(cfg.closeDeadlineMs);
        await app.close();
        await bus.close();
        await backends.close();
      })();
      return closing;
    },
  };
}
