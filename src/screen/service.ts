import type { FastifyInstance } from 'fastify';
import { createConsumerRedis, type Redis } from '../common/redis.js';
import type { Logger } from '../common/logger.js';
import { GROUPS, streamNames } from '../models/index.js';
import { buildScreenApp } from './app.js';
import { compatScreener, type CategoryCompat } from './compat.js';
import { createScreenMetrics } from './metrics.js';
import { ScreenWorker, defaultConsumerName, readGroupInfo, type ScreenFn } from './worker.js';

export interface ScreenServiceConfig {
  redisUrl: string;
  prefix: string;
  host: string;
  port: number;
  apiKeys: string[];
  /** Default hostname-pid-random. */
  consumer?: string;
  claimIdleMs: number;
  maxDeliveries: number;
  batchSize: number;
  blockMs: number;
  /** Batches screened at once. Default 2. */
  concurrency?: number;
  /** Author behaviour window. Default 60 s. */
  authorWindowS?: number;
  /** Trim acknowledged raw entries this often; 0 never. Default 0. */
  trimIntervalMs?: number;
  /** Longest close() waits for the batches in hand. Default 20000 ms. */
  closeDeadlineMs?: number;
  /** `strict`: report riskpipe's `threat` as the original's `targeted_harassment` (API answers and routed predictions). Default `riskpipe`. */
  categoryCompat?: CategoryCompat;
}

/** A scorer the service owns: it closes it last. */
export interface OwnedScreener {
  screener: ScreenFn & { close(): Promise<void> };
  /** The routing threshold in force (a --threshold override, else the policy's). */
  threshold: number;
  /** See ScreenWorkerOptions.learnMaxSimilarity; the policy's full-vote similarity for its embedder. */
  learnMaxSimilarity?: number;
}

export interface RunningScreen {
  app: FastifyInstance;
  url: string;
  consumer: string;
  /** Set once the model has loaded. */
  worker?: ScreenWorker;
  /** Resolves when the worker has joined the group and runs (it waits while Redis is away). */
  started: Promise<void>;
  /** Stops reading, finishes the batches in hand, stops the HTTP app, then releases the model and connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `screen-worker`: the HTTP app on host:port first (so /health answers and /ready says
 * "loading" while the model loads), then the scorer, then the consumer loop.
 */
export async function startScreenService(cfg: ScreenServiceConfig, log: Logger, loadScreener: () => Promise<OwnedScreener>): Promise<RunningScreen> {
  const redis = createConsumerRedis(cfg.redisUrl);
  const blockingRedis = createConsumerRedis(cfg.redisUrl);
  let lastRedisError = '';
  for (const r of [redis, blockingRedis]) {
    r.on('error', (err) => {
      // ioredis reports every failed reconnect; log each distinct problem once.
      if (err.message !== lastRedisError) log.warn({ err }, 'redis connection problem; the worker waits and resumes when it is back');
      lastRedisError = err.message;
    });
  }
  redis.on('ready', () => {
    if (lastRedisError) log.info('redis connection restored');
    lastRedisError = '';
  });
  const release = async (...conns: Redis[]) => {
    for (const c of conns) await c.quit().catch(() => c.disconnect());
  };

  const streams = streamNames(cfg.prefix);
  const consumer = cfg.consumer ?? defaultConsumerName();
  const metrics = createScreenMetrics(() => readGroupInfo(redis, streams.raw, GROUPS.screening));
  let owned: OwnedScreener | undefined;
  let worker: ScreenWorker | undefined;
  // The threshold is the model's business until it has loaded; until then report the override or null.
  const app = await buildScreenApp({
    screener: () => owned?.screener,
    get threshold() {
      return owned?.threshold ?? NaN;
    },
    redis,
    prefix: cfg.prefix,
    consumer,
    workerRunning: () => worker?.isRunning ?? false,
    metrics,
    apiKeys: cfg.apiKeys,
    log,
  });

  let url: string;
  try {
    url = await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    await release(redis, blockingRedis);
    throw err;
  }
  if (cfg.apiKeys.length === 0) log.warn('RISKPIPE_API_KEYS is not set: POST /v1/risk/screen accepts requests without an API key');

  try {
    const t0 = performance.now();
    owned = await loadScreener();
    // Every prediction handed out (API answers and routed entries) in the original's shape.
    owned = { ...owned, screener: compatScreener(owned.screener, { categories: cfg.categoryCompat ?? 'riskpipe' }) };
    log.info({ model: owned.screener.modelId, device: owned.screener.device, dim: owned.screener.dim, threshold: owned.threshold, ms: Math.round(performance.now() - t0) }, 'screening model loaded');
  } catch (err) {
    await app.close();
    await release(redis, blockingRedis);
    throw err;
  }

  worker = new ScreenWorker({
    redis,
    blockingRedis,
    screener: owned.screener,
    threshold: owned.threshold,
    prefix: cfg.prefix,
    consumer,
    batchSize: cfg.batchSize,
    blockMs: cfg.blockMs,
    claimIdleMs: cfg.claimIdleMs,
    maxDeliveries: cfg.maxDeliveries,
    concurrency: cfg.concurrency,
    authorWindowS: cfg.authorWindowS,
    trimIntervalMs: cfg.trimIntervalMs,
    learnMaxSimilarity: owned.learnMaxSimilarity,
    metrics,
    log,
  });
  const started = worker.start();
  log.info({ url, stream: streams.raw, consumer, batchSize: cfg.batchSize, claimIdleMs: cfg.claimIdleMs, maxDeliveries: cfg.maxDeliveries }, 'screen-worker listening');

  let closing: Promise<void> | undefined;
  const running: RunningScreen = {
    app,
    url,
    consumer,
    worker,
    started,
    close() {
      closing ??= (async () => {
        // Upstream to downstream: stop intake and drain, then the API, then what they used.
        await worker!.close(cfg.closeDeadlineMs);
        await app.close();
        await owned!.screener.close().catch((err) => log.warn({ err }, 'error closing the screening model'));
        await release(redis, blockingRedis);
      })();
      return closing;
    },
  };
  return running;
}
