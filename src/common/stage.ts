import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * What a stage is to the process that runs it: every stage factory (`createIngestStage`,
 * `createScreenStage`, `createIndexStage`) returns one, so one process can mount several stages
 * on one port and the ops plugin (src/ops/plugin.ts) can serve /health, /ready and the metrics
 * of all of them.
 */
export interface Stage {
  /** "ingest", "screen", "index". */
  readonly name: string;
  /** Starts consuming (no-op for ingest). Resolves once running; may wait for the bus. */
  start(): Promise<void>;
  /** Stops intake, drains in-flight work, releases what the stage owns. Idempotent. */
  close(deadlineMs?: number): Promise<void>;
  /** The stage's own HTTP routes (not /health, /ready, /metrics: the ops plugin serves those). */
  readonly routes: FastifyPluginAsync;
  /** Current state, read on every /health, /ready and /v1/metrics. */
  status(): Promise<StageStatus>;
  /** Prometheus metrics of the stage (its own registry; the ops plugin merges them). */
  readonly registry: Registry;
}

export interface StageStatus {
  /** /ready is 503 unless every stage is ready. */
  ready: boolean;
  /** Why not, e.g. ["redis", "model"]. */
  problems: string[];
  /** Body of this stage's GET /health (a single-stage process answers with it unchanged). */
  health: Record<string, unknown>;
  /** Body of this stage's GET /ready. */
  readiness: Record<string, unknown>;
  /** Body of this stage's GET /v1/metrics. */
  metrics: Record<string, unknown>;
}
