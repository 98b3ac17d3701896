import { z } from 'zod';
import { EventInput } from '../models/index.js';

/** JSON Schema of an event, generated from the zod model so the docs cannot drift from the checks. */
const { $schema: _drop, ...eventSchema } = z.toJSONSchema(EventInput, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

const errorSchema = {
  type: 'object',
  properties: {
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

const security: { [label: string]: string[] }[] = [{ apiKey: [] }, { bearer: [] }];

export const openApiInfo = {
  openapi: '3.0.3',
  info: {
    title: 'riskpipe event ingestion',
    description: 'Validates, deduplicates and queues chat/social events into the events:raw stream.',
    version: '1',
  },
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey' as const, in: 'header' as const, name: 'api-key' },
      bearer: { type: 'http' as const, scheme: 'bearer' },
    },
  },
};

/** Route schemas for the docs only: bodies are validated by the zod models. */
export const routeSchemas = {
  health: {
    summary: 'Liveness',
    response: { 200: { type: 'object', properties: { status: { type: 'string' }, service: { type: 'string' }, timestamp: { type: 'string', format: 'date-time' } } } },
  },
  ready: { summary: 'Readiness: 200 when Redis answers, else 503' },
  metricsJson: { summary: 'Queue depth, capacity and counters as JSON' },
  ingest: {
    summary: 'Queue one event',
    security,
    body: eventSchema,
    response: {
      200: {
        type: 'object',
        properties: {
          event_id: { type: 'string' },
          status: { type: 'string', enum: ['queued', 'duplicate'] },
          stream_id: { type: 'string', nullable: true },
          position: { type: 'string', nullable: true, description: 'the stream entry id (stream_id), under the original service\'s name' },
          duplicate_of: { type: 'string', enum: ['content', 'event_id'] },
          ingestion_time_ms: { type: 'number' },
        },
      },
      400: errorSchema,
      401: errorSchema,
      503: errorSchema,
    },
  },
  ingestBatch: {
    summary: 'Queue up to max-batch-size events; invalid ones are reported per item',
    security,
    body: { type: 'object', required: ['events'], properties: { events: { type: 'array', items: eventSchema } } },
    response: {
      200: {
        type: 'object',
        properties: {
          batch_id: { type: 'string' },
          total: { type: 'integer' },
          queued: { type: 'integer' },
          duplicates: { type: 'integer' },
          errors: { type: 'integer' },
          batch_time_ms: { type: 'number' },
          results: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                index: { type: 'integer' },
                event_id: { type: 'string', nullable: true },
                status: { type: 'string', enum: ['queued', 'duplicate', 'rejected'] },
                stream_id: { type: 'string', nullable: true },
                position: { type: 'string', nullable: true },
                ingestion_time_ms: { type: 'number' },
                duplicate_of: { type: 'string' },
                status_code: { type: 'integer', description: 'rejected items: 400, with detail (the original service\'s failed-item shape)' },
                detail: { type: 'string' },
                error: { type: 'string' },
                errors: errorSchema.properties.errors,
              },
            },
          },
        },
      },
      400: errorSchema,
      401: errorSchema,
      413: errorSchema,
      503: errorSchema,
    },
  },
};
