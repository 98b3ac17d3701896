import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { Stage } from './stage.js';

export interface OpsPluginOptions {
  stages: Stage[];
  /** Seconds a client is told to wait on 503. Default 5. */
  retryAfterS?: number;
  /** Route schemas (OpenAPI docs) for the routes, keyed by path. */
  schemas?: Partial<Record<'/health' | '/ready' | '/v1/metrics', object>>;
}

/**
 * /health, /ready, /metrics and /v1/metrics of a process, from each stage's status(). With one
 * stage the bodies are that stage's, unchanged (the APIs of serve-ingest and screen-worker);
 * with several (`riskpipe up`) the first stage's body carries a `stages` object with every
 * stage's, /ready is 503 unless all are ready, and /metrics holds every stage's registry.
 */
export async function opsRoutes(app: FastifyInstance, opts: OpsPluginOptions): Promise<void> {
  const { stages } = opts;
  const retryAfterS = opts.retryAfterS ?? 5;
  const combine = (bodies: Record<string, unknown>[]) => (stages.length === 1 ? bodies[0] : { ...bodies[0], stages: Object.fromEntries(stages.map((s, i) => [s.name, bodies[i]])) });

  app.get('/health', { schema: opts.schemas?.['/health'] }, async () => combine(await Promise.all(stages.map(async (s) => (await s.status()).health))));

  app.get('/ready', { schema: opts.schemas?.['/ready'] }, async (_req, reply) => {
    const all = await Promise.all(stages.map((s) => s.status()));
    if (!all.every((s) => s.ready)) reply.code(503).header('retry-after', String(retryAfterS));
    return combine(all.map((s) => s.readiness));
  });

  app.get('/v1/metrics', { schema: opts.schemas?.['/v1/metrics'] }, async () => combine(await Promise.all(stages.map(async (s) => (await s.status()).metrics))));

  // Merged per scrape: a stage registers some metrics only once it runs (its consumer's).
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const registries = [...new Set(stages.map((s) => s.registry))];
    const registry = registries.length === 1 ? registries[0] : Registry.merge(registries);
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
