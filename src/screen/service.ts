import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { Stage } from '../common/stage.js';
import { GROUPS } from '../models/index.js';
import { createBus, defaultConsumerName, type Bus } from '../stream/index.js';
import { buildScreenApp, screenApiStage } from './app.js';
import { createScreenMetrics } from './metrics.js';
import { ScreenWorker, type ScreenFn } from './worker.js';

export interface ScreenStageConfig {
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
}

export interface ScreenServiceConfig extends ScreenStageConfig {
  redisUrl: string;
  prefix: string;
  /** Hash tag of every key, for Redis Cluster (src/stream/keys.ts). Default none. */
  hashTag?: string;
  host: string;
  port: number;
}

/** A scorer the service owns: it closes it last. */
export interface OwnedScreener {
  screener: ScreenFn & { close(): Promise<void> };
  /** The routing threshold in force (the policy's). */
  threshold: number;
  /** See ScreenWorkerOptions.learnMaxSimilarity; the policy's full-vote similarity for its embedder. */
  learnMaxSimilarity?: number;
}

export interface ScreenDeps {
  /** A consumer bus (it waits while its store is away). */
  bus: Bus;
  log: Logger;
  /** Loads the scorer; start() calls it once. */
  loadScreener: () => Promise<OwnedScreener>;
  /** Where the stage's metrics go (one process, several stages: one registry). Default its own. */
  registry?: Registry;
}

export interface ScreenStage extends Stage {
  readonly consumer: string;
  /** Set once the model has loaded and the worker runs. */
  readonly worker?: ScreenWorker;
  /** Resolves once the worker has joined its group (after start()). */
  readonly running: Promise<void>;
}

/**
 * The screening stage from its dependencies: start() loads the model, then joins the group and
 * consumes (worker.ts lists the steps); close() stops intake, drains, and releases the model.
 * The caller owns the bus.
 */
export function createScreenStage(deps: ScreenDeps, cfg: ScreenStageConfig): ScreenStage {
  const { bus, log } = deps;
  const consumer = cfg.consumer ?? defaultConsumerName();
  const metrics = createScreenMetrics(() => bus.groupInfo({ stream: 'raw', group: GROUPS.screening }), deps.registry);
  let owned: OwnedScreener | undefined;
  let worker: ScreenWorker | undefined;
  let closing: Promise<void> | undefined;
  let started: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  const api = screenApiStage({
    screener: () => owned?.screener,
    // The threshold is the model's business until it has loaded; until then report null.
    get threshold() {
      return owned?.threshold ?? NaN;
    },
    bus,
    consumer,
    workerRunning: () => worker?.isRunning ?? false,
    metrics,
    apiKeys: cfg.apiKeys,
    log,
  });
  const stage: ScreenStage = {
    ...api,
    consumer,
    get worker() {
      return worker;
    },
    get running() {
      return running ?? Promise.resolve();
    },
    start() {
      started ??= (async () => {
        const t0 = performance.now();
        owned = await deps.loadScreener();
        log.info({ model: owned.screener.modelId, device: owned.screener.device, dim: owned.screener.dim, threshold: owned.threshold, ms: Math.round(performance.now() - t0) }, 'screening model loaded');
        if (closing) return;
        worker = new ScreenWorker({
          bus,
          screener: owned.screener,
          threshold: owned.threshold,
          consumer,
          batchSize: cfg.batchSize,
          blockMs: cfg.blockMs,
          claimIdleMs: cfg.claimIdleMs,
          maxDeliveries: cfg.maxDeliveries,
          concurrency: cfg.concurrency,
          authorWindowS: cfg.authorWindowS,
          trimIntervalMs: cfg.trimIntervalMs,
          closeDeadlineMs: cfg.closeDeadlineMs,
          learnMaxSimilarity: owned.learnMaxSimilarity,
          metrics,
          log,
        });
        // Not awaited: joining waits while Redis is away; `running` tells when it is done.
        running = worker.start();
      })();
      return started;
    },
    close(deadlineMs) {
      closing ??= (async () => {
        await started?.catch(() => undefined);
        await worker?.close(deadlineMs ?? cfg.closeDeadlineMs);
        await owned?.screener.close().catch((err) => log.warn({ err }, 'error closing the screening model'));
      })();
      return closing;
    },
  };
  return stage;
}

export interface RunningScreen {
  app: FastifyInstance;
  url: string;
  consumer: string;
  bus: Bus;
  /** Set once the model has loaded. */
  readonly worker?: ScreenWorker;
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
  const bus = await createBus({ kind: 'redis', role: 'consumer', redisUrl: cfg.redisUrl, prefix: cfg.prefix, hashTag: cfg.hashTag }, log);
  const stage = createScreenStage({ bus, log, loadScreener }, cfg);
  const app = await buildScreenApp({ screener: () => undefined, threshold: NaN, log }, stage);

  let url: string;
  try {
    url = await app.listen({ host: cfg.host, port: cfg.port });
  } catch (err) {
    await bus.close();
    throw err;
  }
  if (cfg.apiKeys.length === 0) log.warn('RISKPIPE_API_KEYS is not set: POST /v1/risk/screen accepts requests without an API key');

  try {
    await stage.start();
  } catch (err) {
    await app.close();
    await stage.close();
    await bus.close();
    throw err;
  }
  const started = stage.running;
  log.info({ url, stream: bus.names.raw, consumer: stage.consumer, batchSize: cfg.batchSize, claimIdleMs: cfg.claimIdleMs, maxDeliveries: cfg.maxDeliveries }, 'screen-worker listening');

  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    consumer: stage.consumer,
    bus,
    get worker() {
      return stage.worker;
    },
    started,
    close() {
      closing ??= (async () => {
        // Upstream to downstream: stop intake and drain, then the API, then what they used.
        await stage.close(cfg.closeDeadlineMs);
        await app.close();
        await bus.close();
      })();
      return closing;
    },
  };
}
