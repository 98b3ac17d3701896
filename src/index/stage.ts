import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { Stage, StageStatus } from '../common/stage.js';
import type { Embedder } from '../embed/types.js';
import { GROUPS } from '../models/index.js';
import type { Store } from '../store/index.js';
import { Consumer, defaultConsumerName } from '../stream/consumer.js';
import type { Bus, GroupRef } from '../stream/types.js';
import { withTimeout } from '../stream/util.js';
import type { EventIndex } from '../vector/event-index.js';
import type { IncidentProvider } from './incidents/types.js';
import { createIndexMetrics } from './metrics.js';
import { IndexProcessor } from './processor.js';
import { rebuildIndex } from './rebuild.js';
import { indexRoutes } from './routes.js';
import { SearchService } from './search.js';

/** What stage 3 runs on. The caller builds and closes them (backends.ts opens them from config). */
export interface IndexDeps {
  /** A consumer bus (Redis, or the in-process bus of `riskpipe up`). */
  bus: Bus;
  store: Store;
  index: EventIndex;
  embedder: Embedder;
  incidents: IncidentProvider;
  log: Logger;
  /** Register the stage's metrics here (one registry for a process of several stages). Default its own. */
  registry?: Registry;
}

export interface IndexStageConfig {
  /** Accepted API keys for search, events and dead letters; empty = authentication off. */
  apiKeys: string[];
  /** Default hostname-pid-random. */
  consumer?: string;
  claimIdleMs: number;
  maxDeliveries: number;
  /** Entries per read, and per Postgres write. Default 256. */
  batchSize?: number;
  blockMs: number;
  /** Batches in flight at once. Default 2. */
  concurrency?: number;
  /** Longest close() waits for the batches in hand. Default 20000 ms. */
  closeDeadlineMs?: number;
  /** Rebuild the event index from the store when it starts out empty. Default true. */
  rebuildIfEmpty?: boolean;
  /** A probe of /health and /ready gives up after this. Default 1000 ms. */
  probeTimeoutMs?: number;
  /** Serve GET /v1/batches/:id. Default true; `riskpipe up` turns it off if its ingest stage serves it. */
  batchRoute?: boolean;
}

export interface IndexStage extends Stage {
  readonly consumer: string;
  readonly search: SearchService;
  readonly processor: IndexProcessor;
  /** Resolves once the consumer runs (after start()). */
  readonly running: Promise<void>;
}

export const INDEX_GROUP: GroupRef = { stream: 'reasoning', group: GROUPS.indexing };

/**
 * Stage 3 from its dependencies: start() opens the event index (rebuilding it from the store
 * when it starts out empty), then consumes events:reasoning_queue in group `indexing` with the
 * IndexProcessor (processor.ts lists the steps). close() stops intake and drains; the caller
 * then closes the dependencies.
 */
export function createIndexStage(deps: IndexDeps, cfg: IndexStageConfig): IndexStage {
  const { bus, store, index, embedder, incidents, log } = deps;
  const consumerName = cfg.consumer ?? defaultConsumerName();
  const metrics = createIndexMetrics(deps.registry);
  const processor = new IndexProcessor({ bus, ref: INDEX_GROUP, store, index, embedder, incidents, maxDeliveries: cfg.maxDeliveries, consumer: consumerName, metrics, log });
  const consumer = new Consumer({
    bus,
    ref: INDEX_GROUP,
    stage: 'index',
    processor,
    consumer: consumerName,
    batchSize: cfg.batchSize ?? 256,
    blockMs: cfg.blockMs,
    claimIdleMs: cfg.claimIdleMs,
    maxDeliveries: cfg.maxDeliveries,
    concurrency: cfg.concurrency ?? 2,
    closeDeadlineMs: cfg.closeDeadlineMs,
    // An event given up on counts as failed (and dead_lettered) in its batch, in the same step.
    failureCounters: ['failed'],
    registry: metrics.registry,
    log,
  });
  const search = new SearchService(embedder, index, store);
  const probeMs = cfg.probeTimeoutMs ?? 1_000;
  let started: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let indexOpen = false;

  const probe = async (p: () => Promise<unknown>, what: string): Promise<{ state: string; detail?: string }> => {
    try {
      await withTimeout(p(), probeMs, what);
      return { state: 'ok' };
    } catch (err) {
      return { state: 'unavailable', detail: (err as Error).message.slice(0, 300) };
    }
  };
  const counter = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values.reduce((s, v) => s + v.value, 0);

  return {
    name: 'index',
    registry: metrics.registry,
    consumer: consumerName,
    search,
    processor,
    get running() {
      return running ?? Promise.resolve();
    },
    routes: indexRoutes({ bus, store, search, apiKeys: cfg.apiKeys, batchRoute: cfg.batchRoute, onSearch: (s) => metrics.searchSeconds.observe(s) }),
    start() {
      started ??= (async () => {
        const { created } = await index.open();
        indexOpen = true;
        if ((cfg.rebuildIfEmpty ?? true) && (created || (await index.count()) === 0)) {
          const n = await rebuildIndex(store, embedder, index, log);
          if (n > 0) log.info({ events: n, created }, 'the event index was empty: rebuilt from the store');
        }
        if (closing) return;
        running = consumer.start();
        await running;
        log.info({ stream: bus.names.reasoning, group: INDEX_GROUP.group, consumer: consumerName, index: `${index.kind} ${index.location}`, store: store.kind, incidents: incidents.id, embedder: embedder.id }, 'index stage running');
      })().catch((err) => {
        // A failed start (the index not reachable yet) may be tried again.
        started = undefined;
        throw err;
      });
      return started;
    },
    close(deadlineMs) {
      closing ??= (async () => {
        await started?.catch(() => undefined);
        await consumer.close(deadlineMs ?? cfg.closeDeadlineMs);
      })();
      return closing;
    },
    async status(): Promise<StageStatus> {
      const [busState, pg, vec, group] = await Promise.all([
        bus.ready(probeMs).catch((err: Error) => ({ ok: false, detail: err.message })),
        probe(() => store.ping(), 'store ping'),
        indexOpen ? probe(() => index.ping(), 'vector index ping') : Promise.resolve({ state: 'opening' } as { state: string; detail?: string }),
        withTimeout(bus.groupInfo(INDEX_GROUP), probeMs, 'group info').catch(() => null),
      ]);
      const points = vec.state === 'ok' ? await withTimeout(index.count(), probeMs, 'count').catch(() => null) : null;
      const provider = incidents.state();
      const worker = consumer.isRunning ? 'running' : 'stopped';
      const problems = [
        ...(busState.ok ? [] : [bus.kind === 'redis' ? 'redis' : 'bus']),
        ...(pg.state === 'ok' ? [] : ['postgres']),
        ...(vec.state === 'ok' ? [] : ['vector_index']),
        ...(consumer.isRunning ? [] : ['worker']),
      ];
      const busBody = { state: busState.ok ? 'ok' : 'unavailable', kind: bus.kind, ...(busState.ok ? {} : { detail: busState.detail }) };
      const storeBody = { ...pg, kind: store.kind };
      const indexBody = { ...vec, kind: index.kind, location: index.location, points };
      return {
        ready: problems.length === 0,
        problems,
        health: {
          status: problems.filter((p) => p !== 'worker').length === 0 ? 'ok' : 'degraded',
          service: 'event-indexing',
          consumer: consumerName,
          dependencies: {
            [bus.kind === 'redis' ? 'redis' : 'bus']: busBody,
            postgres: storeBody,
            vector_index: indexBody,
            incident_provider: provider,
            embedder: { state: 'ok', id: embedder.id, dim: embedder.dim, device: embedder.device },
          },
        },
        readiness: {
          status: problems.length === 0 ? 'ready' : 'not_ready',
          [bus.kind === 'redis' ? 'redis' : 'bus']: busBody.state,
          postgres: pg.state,
          vector_index: vec.state,
          worker,
          ...(problems.length ? { problems } : {}),
        },
        metrics: {
          queue_depth: group?.lag ?? null,
          lag: group?.lag ?? null,
          lag_seconds: group ? Math.round(group.lagSeconds * 1000) / 1000 : null,
          pending: group?.pending ?? null,
          consumers: group?.consumers ?? null,
          stream: bus.names.reasoning,
          group: INDEX_GROUP.group,
          consumer: consumerName,
          indexed: await counter(metrics.indexed),
          incidents: await counter(metrics.incidents),
          failed_attempts: await counter(metrics.failed),
          index_points: points,
          vector_index: index.kind,
          store: store.kind,
          incident_provider: incidents.id,
          embedding_model: embedder.id,
          embedding_dim: embedder.dim,
        },
      };
    },
  };
}
