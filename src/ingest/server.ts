import type { FastifyInstance } from 'fastify';
import { createProducerRedis, type Redis } from '../common/redis.js';
import type { Logger } from '../common/logger.js';
import type { HttpTimeouts } from '../common/http-hardening.js';
import type { InputLimits } from '../common/limits.js';
import { streamNames } from '../models/index.js';
import { buildIngestApp } from './app.js';

export interface IngestServerConfig {
  redisUrl: string;
  prefix: string;
  host: string;
  port: number;
  apiKeys: string[];
  maxQueueDepth: number;
  dedupWindowS: number;
  maxBatchSize: number;
  bodyLimitBytes: number;
  /** See InputLimits; defaults there. */
  maxJsonDepth?: number;
  maxMetadataBytes?: number;
  /** See HttpTimeouts; defaults there. */
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** A producer command (the ingest script, /ready's PING) that Redis does not answer within this fails with 503. Default 1000 ms. */
  redisCommandTimeoutMs?: number;
}

export interface RunningIngest {
  app: FastifyInstance;
  redis: Redis;
  url: string;
  /** Stops intake, lets in-flight requests finish, then closes Redis. Idempotent. */
  close(): Promise<void>;
}

/** Starts `serve-ingest`: the HTTP app on host:port, writing to `<prefix>events:raw`. */
export async function startIngestServer(cfg: IngestServerConfig, log: Logger): Promise<RunningIngest> {
  const redisCommandTimeoutMs = cfg.redisCommandTimeoutMs ?? 1_000;
  // A frozen Redis keeps the socket open and answers nothing: without a timeout requests would hang as long.
  const redis = createProducerRedis(cfg.redisUrl, { commandTimeout: redisCommandTimeoutMs });
  let lastRedisError = '';
  redis.on('error', (err) => {
    // ioredis reports every failed reconnect; log each distinct problem once.
    if (err.message !== lastRedisError) log.warn({ err }, 'redis connection problem; ingest answers 503 until it is back');
    lastRedisError = err.message;
  });
  redis.on('ready', () => {
    if (lastRedisError) log.info('redis connection restored');
    lastRedisError = '';
  });
  const stream = streamNames(cfg.prefix).raw;
  const app = await buildIngestApp({
    redis,
    stream,
    prefix: cfg.prefix,
    apiKeys: cfg.apiKeys,
    maxQueueDepth: cfg.maxQueueDepth,
    dedupWindowS: cfg.dedupWindowS,
    maxBatchSize: cfg.maxBatchSize,
    bodyLimitBytes: cfg.bodyLimitBytes,
    limits: defined<InputLimits>({ maxJsonDepth: cfg.maxJsonDepth, maxMetadataBytes: cfg.maxMetadataBytes }),
    timeouts: defined<HttpTimeouts>({ requestTimeoutMs: cfg.requestTimeoutMs, headersTimeoutMs: cfg.headersTimeoutMs, keepAliveTimeoutMs: cfg.keepAliveTimeoutMs }),
    redisCommandTimeoutMs,
    log,
  });
  const url = await app.listen({ host: cfg.host, port: cfg.port });
  if (cfg.apiKeys.length === 0) log.warn('RISKPIPE_API_KEYS is not set: the ingest API accepts requests without an API key');
  log.info({ url, stream, maxQueueDepth: cfg.maxQueueDepth, dedupWindowS: cfg.dedupWindowS }, 'serve-ingest listening');
  let closing: Promise<void> | undefined;
  return {
    app,
    redis,
    url,
    close() {
      closing ??= (async () => {
        await app.close();
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}

/** The given fields only, so that the app's defaults apply to the rest. */
function defined<T extends object>(o: { [K in keyof T]?: T[K] | undefined }): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
