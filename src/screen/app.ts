import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { RiskpipeError } from '../common/errors.js';
import { makeApiKeyCheck } from '../common/http.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Stage, StageStatus } from '../common/stage.js';
import { GROUPS, type RiskPrediction } from '../models/index.js';
import { buildStagesApp } from '../common/stages-app.js';
import { withTimeout } from '../stream/util.js';
import type { Bus, GroupInfo } from '../stream/index.js';
import { createScreenMetrics, type ScreenMetrics } from './metrics.js';
import { eventFromInput, type ScreenFn } from './worker.js';

export interface ScreenAppOptions {
  /** The scorer; a function while it may still be loading (undefined until then: /ready is 503). */
  screener: ScreenFn | (() => ScreenFn | undefined);
  /** The routing threshold in force. */
  threshold: number;
  /** For /ready and the queue figures of /v1/metrics. Without it only the model is checked. */
  bus?: Bus;
  /** Default "risk-screening". */
  group?: string;
  /** This process' consumer name, reported by /v1/metrics. */
  consumer?: string;
  /** Whether the consumer loop runs (reported by /ready when given). */
  workerRunning?: () => boolean;
  metrics?: ScreenMetrics;
  /** Accepted API keys for POST /v1/risk/screen; empty turns authentication off. */
  apiKeys?: string[];
  /** Seconds a client is told to wait on 503. Default 5. */
  retryAfterS?: number;
  /** A bus call of /ready or /v1/metrics gives up after this. Default 1000 ms. */
  redisTimeoutMs?: number;
  log?: Logger;
}

/**
 * The screening stage's HTTP side: POST /v1/risk/screen and the status behind /health, /ready and
 * /v1/metrics. The consumer side is worker.ts; service.ts puts both together.
 */
export function screenApiStage(opts: ScreenAppOptions & { start?: () => Promise<void>; close?: (deadlineMs?: number) => Promise<void> }): Stage {
  const log = (opts.log ?? silentLogger).child({ component: 'screen-api' });
  const current = typeof opts.screener === 'function' ? opts.screener : () => opts.screener as ScreenFn;
  const group = opts.group ?? GROUPS.screening;
  const retryAfterS = opts.retryAfterS ?? 5;
  const timeoutMs = opts.redisTimeoutMs ?? 1_000;
  const bus = opts.bus;
  const metrics = opts.metrics ?? createScreenMetrics(bus ? () => bus.groupInfo({ stream: 'raw', group }) : undefined);
  const requireKey = makeApiKeyCheck(opts.apiKeys ?? []);

  const routes: FastifyPluginAsync = async (app) => {
    // Synchronous screening of one text: the JSON body, or the query string for quick checks.
    app.post('/v1/risk/screen', { onRequest: requireKey }, async (req): Promise<RiskPrediction> => {
      const started = performance.now();
      const s = current();
      if (!s) throw new RiskpipeError('RP_ERR_NOT_READY', 'The screening model is still loading; retry shortly', { headers: { 'retry-after': String(retryAfterS) } });
      const body = req.body;
      if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
        throw new RiskpipeError('RP_ERR_VALIDATION', 'Body must be a JSON object such as {"content": "..."}', { errors: [{ path: '', message: 'must be a JSON object' }] });
      }
      const query = req.query as Record<string, unknown>;
      const input: Record<string, unknown> = {};
      if (typeof query.content === 'string') input.content = query.content;
      if (typeof query.event_id === 'string') input.event_id = query.event_id;
      Object.assign(input, body ?? {});
      const parsed = eventFromInput(input);
      if (!parsed.ok) throw new RiskpipeError('RP_ERR_VALIDATION', parsed.detail, { errors: parsed.errors });
      const [prediction] = await s.screenBatch([{ event: parsed.event }]);
      metrics.syncRequest((performance.now() - started) / 1000);
      return prediction;
    });
  };

  return {
    name: 'screen',
    registry: metrics.registry,
    routes,
    start: opts.start ?? (async () => {}),
    close: opts.close ?? (async () => {}),
    async status(): Promise<StageStatus> {
      const s = current();
      const problems: string[] = [];
      let redisState = bus ? 'ok' : 'not used';
      let info: GroupInfo | null = null;
      if (bus) {
        const r = await bus.ready(timeoutMs);
        if (!r.ok) {
          redisState = r.detail;
          problems.push('redis');
        } else {
          try {
            info = await withTimeout(bus.groupInfo({ stream: 'raw', group }), timeoutMs, 'XINFO GROUPS');
          } catch (err) {
            redisState = `unavailable: ${(err as Error).message}`;
          }
        }
      }
      if (!s) problems.push('model');
      const running = opts.workerRunning?.();
      if (opts.workerRunning && !running) problems.push('worker');
      const snap = metrics.snapshot();
      return {
        ready: problems.length === 0,
        problems,
        health: { status: 'ok', service: 'risk-screening', device: s?.device ?? null, embedding_model: s?.modelId ?? null },
        readiness: {
          status: problems.length === 0 ? 'ready' : 'not_ready',
          redis: problems.includes('redis') ? redisState : bus ? 'ok' : 'not used',
          model: s ? 'loaded' : 'loading',
          embedding_model: s?.modelId ?? null,
          worker: opts.workerRunning ? (running ? 'running' : 'stopped') : 'not used',
        },
        metrics: {
          queue_depth: info?.lag ?? null,
          lag: info?.lag ?? null,
          lag_seconds: info ? Math.round(info.lagSeconds * 1000) / 1000 : null,
          pending: info?.pending ?? null,
          consumers: info?.consumers ?? null,
          threshold: opts.threshold,
          embedding_dim: s?.dim ?? null,
          model: s?.modelId ?? null,
          device: s?.device ?? null,
          policy_fingerprint: s?.fingerprint ?? null,
          consumer: opts.consumer ?? null,
          group,
          stream: bus?.names.raw ?? 'events:raw',
          redis: redisState,
          routed: snap.routed,
          categories: snap.categories,
          deadlettered: snap.deadlettered,
          deadlettered_by_code: snap.deadlettered_by_code,
          claimed: snap.claimed,
          transient_failures: snap.transient_failures,
          batches: snap.batches,
        },
      };
    },
  };
}

/**
 * The screening service's HTTP app (port 8002), built without listening so tests can `inject()`.
 * The caller owns the bus and the screener and closes them after `app.close()`.
 */
export async function buildScreenApp(opts: ScreenAppOptions, stage: Stage = screenApiStage(opts)): Promise<FastifyInstance> {
  return buildStagesApp({ stages: [stage], log: opts.log, bodyLimitBytes: 1024 * 1024, retryAfterS: opts.retryAfterS });
}
