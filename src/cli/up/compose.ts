import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ConfigError, RiskpipeError } from '../../common/errors.js';
import { makeApiKeyCheck } from '../../common/http.js';
import type { Logger } from '../../common/logger.js';
import type { Stage } from '../../common/stage.js';
import { buildStagesApp } from '../../common/stages-app.js';
import { eventIndexDir, openIndexBackends, createIndexStage, type IndexBackends, type IndexBackendsConfig } from '../../index/index.js';
import { createIngestStage } from '../../ingest/app.js';
import { openApiInfo } from '../../ingest/openapi.js';
import { createScreenStage, type OwnedScreener } from '../../screen/service.js';
import { createBus, type Bus } from '../../stream/index.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import type { UpConfig } from './settings.js';
import { streamRoutes } from './stream-routes.js';

/*
 * `riskpipe up`: ingest, screening and indexing in one process, on one port, over one bus.
 * Every backend is embedded unless configured:
 *
 *   bus      in-process, journaled to <data-dir>/bus   | Redis streams (REDIS_URL)
 *   store    PGlite in <data-dir>/pglite                | Postgres (DATABASE_URL)
 *   vectors  embedded index in <data-dir>/index/events  | Qdrant (QDRANT_URL)
 *   embedder hash (no weights)                          | ONNX model (--embedder onnx --model-dir)
 *
 * Start-up, in order: check the port is free (a busy port fails before anything slow), lock the
 * data directory, open the bus (replaying its journal: what was answered "queued" and not yet
 * settled is delivered again), open the store (migrations) and the vector index, build the
 * stages and their one HTTP app, listen, then start the consumers (screening loads its model).
 * close() runs it backwards: HTTP intake first, then the stages drain, then the backends.
 */

export type { UpConfig };

/** Where everything lives, for the start-up banner and /v1/up. */
export interface UpWhere {
  url: string;
  dataDir: string;
  bus: string;
  store: string;
  vectors: string;
  embedder: string;
  incidents: string;
  apiKeys: boolean;
  /** With --workers > 1: the extra screening processes. */
  workers?: string;
}

export interface RunningUp {
  app: FastifyInstance;
  url: string;
  where: UpWhere;
  stages: Stage[];
  /** Start-up time, from the call to ready. */
  startupMs: number;
  /** Stops intake, drains the stages, closes the backends and releases the data directory. Idempotent. */
  close(): Promise<void>;
}

/** Fails at once, with a message and no stack, when something already listens on host:port. */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((ok, fail) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => fail(portError(err, host, port)));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => ok()));
  });
}

export function portError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  if (err.code === 'EADDRINUSE') {
    return new RiskpipeError(
      'RP_ERR_CONFIG',
      `port ${port} on ${host} is already in use: is another \`riskpipe up\` (or serve-ingest) running? Stop it, or start this one with --port <free port>`,
    );
  }
  if (err.code === 'EACCES') return new RiskpipeError('RP_ERR_CONFIG', `not allowed to listen on port ${port} (${host}): use a port above 1023 (--port)`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') return new RiskpipeError('RP_ERR_CONFIG', `cannot listen on ${host}: no such local address (--host)`);
  return err;
}

/** Several processes on one pipeline need Redis: refuse before anything starts. */
export function checkTopology(cfg: UpConfig): void {
  if (cfg.workers > 1 && !cfg.redisUrl) {
    throw new ConfigError([
      {
        path: 'workers (--workers / RISKPIPE_WORKERS)',
        message: `${cfg.workers} workers need Redis: the in-process bus lives inside one process. Set REDIS_URL (e.g. redis://127.0.0.1:6379), or run with --workers 1`,
      },
    ]);
  }
  if (cfg.embedder === 'onnx' && !cfg.modelDir) {
    throw new ConfigError([{ path: 'modelDir (--model-dir / RISKPIPE_MODEL_DIR)', message: 'is required with --embedder onnx (a folder holding config.json, tokenizer.json and onnx/model.onnx)' }]);
  }
}

/** A consumer name that is the same on every start over the same data directory, so a restarted `up` on Redis takes its own pending entries back at once. */
export function upConsumerName(dataDir: string): string {
  const h = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 8);
  return `up@${hostname().replace(/[^A-Za-z0-9_.:@-]/g, '-')}:${h}`;
}

const redact = (url: string) => {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
};

export async function startUp(cfg: UpConfig, log: Logger, loadScreener: () => Promise<OwnedScreener>): Promise<RunningUp> {
  const t0 = performance.now();
  checkTopology(cfg);
  await checkPortFree(cfg.host, cfg.port);
  const dataDir = resolve(cfg.dataDir);
  // The data directory holds the journal, PGlite and the index; with every backend real it
  // holds nothing but the lock, which still keeps two `up` from sharing a consumer name.
  const lock: DataDirLock = lockDataDir(dataDir);
  const cleanups: (() => Promise<void>)[] = [async () => lock.release()];
  const undo = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((err) => log.warn({ err }, 'error while stopping'));
  };

  try {
    // The bus. Redis: a producer connection for ingest (fails fast) and a consumer one (waits).
    let ingestBus: Bus;
    let consumerBus: Bus;
    if (cfg.redisUrl) {
      const common = { kind: 'redis', redisUrl: cfg.redisUrl, prefix: cfg.prefix, hashTag: cfg.hashTag } as const;
      ingestBus = await createBus({ ...common, role: 'producer' }, log);
      cleanups.push(() => ingestBus.close());
      consumerBus = await createBus({ ...common, role: 'consumer' }, log);
      cleanups.push(() => consumerBus.close());
    } else {
      const { MemoryBus } = await import('../../stream/memory/bus.js');
      const bus = MemoryBus.open({ dataDir: join(dataDir, 'bus'), prefix: cfg.prefix, fsync: cfg.fsync }, log);
      cleanups.push(() => bus.close());
      ingestBus = consumerBus = bus;
    }

    const backendsCfg: IndexBackendsConfig = {
      store: cfg.databaseUrl ? { url: cfg.databaseUrl, schema: cfg.dbSchema } : { pglite: { dataDir: join(dataDir, 'pglite'), schema: cfg.dbSchema } },
      vector: cfg.qdrantUrl ? { kind: 'qdrant', url: cfg.qdrantUrl, apiKey: cfg.qdrantApiKey, collection: cfg.collection } : { kind: 'embedded', dir: eventIndexDir(dataDir) },
      embedder: { kind: cfg.embedder, modelDir: cfg.modelDir },
      incidents:
        cfg.incidents === 'openai'
          ? { kind: 'openai', baseUrl: cfg.llmUrl, model: cfg.llmModel, apiKey: cfg.llmApiKey, timeoutMs: cfg.llmTimeoutMs, maxRetries: cfg.llmMaxRetries, concurrency: cfg.llmConcurrency }
          : { kind: 'rules' },
    };
    const backends: IndexBackends = await openIndexBackends(backendsCfg, log);
    cleanups.push(() => backends.close());

    const consumer = upConsumerName(dataDir);
    const consumerCfg = { apiKeys: cfg.apiKeys, consumer, claimIdleMs: cfg.claimIdleMs, maxDeliveries: cfg.maxDeliveries, batchSize: cfg.batchSize, blockMs: cfg.blockMs };
    const ingest = createIngestStage(
      { bus: ingestBus, log },
      // The index stage serves GET /v1/batches/:id here.
      { apiKeys: cfg.apiKeys, maxQueueDepth: cfg.maxQueueDepth, dedupWindowS: cfg.dedupWindowS, maxBatchSize: cfg.maxBatchSize, batchRoute: false },
    );
    const screen = createScreenStage({ bus: consumerBus, log, loadScreener }, { ...consumerCfg, categoryCompat: cfg.categoryCompat });
    const index = createIndexStage({ bus: consumerBus, log, ...backends }, consumerCfg);
    const stages: Stage[] = [ingest, screen, index];
    // Downstream first on the way down is wrong here: close() stops intake (HTTP) first, then
    // screening (it writes to the reasoning queue), then indexing.
    cleanups.push(() => index.close());
    cleanups.push(() => screen.close());

    const app = await buildStagesApp({
      stages,
      log,
      bodyLimitBytes: cfg.bodyLimitBytes,
      // No response schemas for /health, /ready, /v1/metrics: they would strip the `stages` object.
      openapi: openApiInfo,
    });
    const where: UpWhere = {
      url: '',
      dataDir,
      bus: cfg.redisUrl ? `redis ${redact(cfg.redisUrl)}${cfg.prefix ? ` (prefix ${cfg.prefix})` : ''}` : `in-process, journaled to ${join(dataDir, 'bus')}`,
      store: cfg.databaseUrl ? `postgres ${redact(cfg.databaseUrl)}${cfg.dbSchema ? ` (schema ${cfg.dbSchema})` : ''}` : `PGlite in ${join(dataDir, 'pglite')}`,
      vectors: backends.index.location ? `${cfg.qdrantUrl ? 'qdrant' : 'embedded'} ${backends.index.location}` : cfg.qdrantUrl ? `qdrant ${cfg.qdrantUrl}` : `embedded in ${eventIndexDir(dataDir)}`,
      embedder: backends.embedder.id,
      incidents: backends.incidents.id,
      apiKeys: cfg.apiKeys.length > 0,
    };
    await app.register(streamRoutes({ bus: consumerBus, apiKeys: cfg.apiKeys }));
    // Paths and backends are the operator's business: behind the API key like the other tools' routes.
    app.get('/v1/up', { onRequest: makeApiKeyCheck(cfg.apiKeys) }, async () => ({ ...where, pid: process.pid, stages: stages.map((s) => s.name) }));
    // Runs before the stages close (cleanups run backwards): intake stops first.
    cleanups.push(() => app.close());

    let address: string;
    try {
      address = await app.listen({ host: cfg.host, port: cfg.port });
    } catch (err) {
      throw portError(err as NodeJS.ErrnoException, cfg.host, cfg.port);
    }
    const port = (app.server.address() as { port: number }).port;
    const shownHost = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
    where.url = `http://${shownHost}:${port}`;
    lock.update({ url: where.url });
    log.debug({ address }, 'listening');

    await index.start();
    await screen.start();
    await Promise.all([(screen as { running?: Promise<void> }).running, (index as { running?: Promise<void> }).running]);
    if (cfg.workers > 1) {
      const { startScreenWorkers } = await import('./workers.js');
      const pool = startScreenWorkers(cfg, cfg.workers - 1, log);
      // Stopped right after the HTTP intake, before the stages inside this process.
      cleanups.push(() => pool.close());
      where.workers = `${cfg.workers} screening workers (this process + pids ${pool.pids.join(', ')})`;
    }

    let closing: Promise<void> | undefined;
    return {
      app,
      url: where.url,
      where,
      stages,
      startupMs: performance.now() - t0,
      close: () => (closing ??= undo()),
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
