import Fastify, { type FastifyInstance } from 'fastify';
import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { closeConnectionsOnShutdown, installErrorHandling } from './http.js';
import { silentLogger, type Logger } from './logger.js';
import type { Stage } from './stage.js';
import { opsRoutes, type OpsPluginOptions } from './ops-routes.js';

export interface StagesAppOptions {
  stages: Stage[];
  log?: Logger;
  /** Largest request body. Default 16 MiB. */
  bodyLimitBytes?: number;
  /** Seconds a client is told to wait on 503. Default 5. */
  retryAfterS?: number;
  /** Serve an OpenAPI document (/openapi.json, /docs) with this info. Default none. */
  openapi?: FastifyDynamicSwaggerOptions['openapi'];
  /** Route schemas of /health, /ready, /v1/metrics for the OpenAPI document. */
  schemas?: OpsPluginOptions['schemas'];
}

/**
 * One HTTP app for any number of stages on one port (serve-ingest, screen-worker, `riskpipe up`):
 * the error boundary, JSON only, 503 while closing, the ops routes (/health, /ready, /metrics,
 * /v1/metrics) from the stages' status, then each stage's routes. Built without listening, so
 * tests can `inject()`. The caller starts and closes the stages and what they use.
 */
export async function buildStagesApp(opts: StagesAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: opts.bodyLimitBytes ?? 16 * 1024 * 1024, return503OnClosing: true, forceCloseConnections: 'idle' });
  installErrorHandling(app, (opts.log ?? silentLogger).child({ component: 'http' }));
  closeConnectionsOnShutdown(app);
  // JSON only: without this Fastify would hand text/plain bodies to the routes as strings.
  app.removeContentTypeParser(['text/plain']);
  // Bodies are checked by the zod models (one source of truth); the route schemas only document.
  app.setValidatorCompiler(() => () => true);
  if (opts.openapi) {
    await app.register(swagger, { openapi: opts.openapi });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }
  await app.register(opsRoutes, { stages: opts.stages, retryAfterS: opts.retryAfterS, schemas: opts.schemas });
  for (const s of opts.stages) await app.register(s.routes);
  return app;
}
