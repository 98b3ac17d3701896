/*
 * The screening service's OpenAPI document (Swagger UI at /docs, the document at /openapi.json).
 * Route schemas document only: the request is checked by the zod models, and the app serializes
 * answers with JSON.stringify, so these schemas can never drop a field.
 */

const errorSchema = {
  type: 'object',
  properties: {
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

/** 422 as FastAPI answered it (detail is a list), with riskpipe's code, message and errors beside it. */
const validationSchema = {
  type: 'object',
  properties: {
    detail: {
      type: 'array',
      items: {
        type: 'object',
        properties: { type: { type: 'string' }, loc: { type: 'array', items: { type: 'string' } }, msg: { type: 'string' }, input: {} },
      },
    },
    message: { type: 'string' },
    code: { type: 'string' },
    errors: errorSchema.properties.errors,
  },
};

export const screenOpenApiInfo = {
  openapi: '3.0.3',
  info: {
    title: 'riskpipe risk screening',
    description:
      'Scores chat events for risk. The worker screens events:raw in the background; POST /v1/risk/screen scores one text now ' +
      '(query parameters as the original service took them, or a JSON body).',
    version: '1',
  },
  components: {
    securitySchemes: {
      apiKey: { type: 'apiKey' as const, in: 'header' as const, name: 'api-key' },
      bearer: { type: 'http' as const, scheme: 'bearer' },
    },
  },
};

const prediction = {
  type: 'object',
  properties: {
    event_id: { type: 'string' },
    risk_score: { type: 'number', minimum: 0, maximum: 1 },
    risk_level: { type: 'string', enum: ['LOW', 'MEDIUM', 'HIGH'] },
    risk_category: { type: 'string' },
    confidence: { type: 'number' },
    flags: { type: 'array', items: { type: 'string' } },
    details: {
      type: 'object',
      description:
        'signals, neighbors, category_scores, thresholds, reason; and the original service\'s heuristic_score, embedding_score, ' +
        'similar_events [{text, score, category}]; screening_time_ms_precise',
      additionalProperties: true,
    },
    screening_time_ms: { type: 'integer', description: 'whole milliseconds (details.screening_time_ms_precise has the fraction)' },
    model_version: { type: 'string' },
    policy_fingerprint: { type: 'string' },
  },
};

const security: { [label: string]: string[] }[] = [{ apiKey: [] }, { bearer: [] }];

export const screenRouteSchemas = {
  health: {
    summary: 'Liveness',
    response: {
      200: {
        type: 'object',
        properties: {
          status: { type: 'string' },
          service: { type: 'string' },
          timestamp: { type: 'string', format: 'date-time' },
          device: { type: 'string', nullable: true },
          embedding_model: { type: 'string', nullable: true },
        },
      },
    },
  },
  ready: { summary: 'Readiness: 200 when Redis answers, the model is loaded and the worker runs, else 503 (with detail)' },
  metricsJson: { summary: 'Group lag, pending entries, threshold, model and routing counters as JSON' },
  screen: {
    summary: 'Score one text now',
    security,
    querystring: {
      type: 'object',
      properties: { content: { type: 'string', description: 'the text to screen (or send it in a JSON body)' }, event_id: { type: 'string' } },
    },
    body: {
      type: 'object',
      description: 'optional: {"content", "event_id"?} or any event fields (platform, author_id, metadata, …)',
      properties: { content: { type: 'string' }, event_id: { type: 'string' } },
      additionalProperties: true,
    },
    response: { 200: prediction, 401: errorSchema, 422: validationSchema, 503: errorSchema },
  },
};
