import type { FastifyPluginAsync } from 'fastify';
import type { BatchStatus } from '../stream/types.js';
import { RiskpipeError } from './errors.js';

/**
 * GET /v1/batches/:id — an ingest batch's progress, read from the bus's batch counters (exact
 * under redelivery: they move in the same atomic step as the acks). Served by the ingest stage
 * and by the index stage; a process that mounts both serves it once.
 */
export function batchRoute(source: { batchStatus(id: string): Promise<BatchStatus | null> }): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { id: string } }>('/v1/batches/:id', async (req) => {
      const status = await source.batchStatus(req.params.id);
      if (!status) throw new RiskpipeError('RP_ERR_NOT_FOUND', `No batch ${JSON.stringify(req.params.id)} (unknown, or its counters expired)`);
      return status;
    });
  };
}
