/**
 * The one registry of riskpipe error codes. Each code has an HTTP status (for the APIs) and says
 * whether retrying can help: transient errors leave a stream entry pending for a later claim,
 * permanent ones send it to the dead-letter stream. Classify with `instanceof` / `.code`, never
 * by message text.
 */
export const ERROR_CODES = {
  RP_ERR_VALIDATION: { status: 400, retryable: false, message: 'Invalid event' },
  RP_ERR_BAD_JSON: { status: 400, retryable: false, message: 'Malformed JSON body' },
  RP_ERR_BAD_REQUEST: { status: 400, retryable: false, message: 'Bad request' },
  RP_ERR_UNAUTHORIZED: { status: 401, retryable: false, message: 'Missing or invalid API key' },
  RP_ERR_NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  RP_ERR_METHOD_NOT_ALLOWED: { status: 405, retryable: false, message: 'Method not allowed' },
  RP_ERR_BODY_TOO_LARGE: { status: 413, retryable: false, message: 'Request body too large' },
  RP_ERR_BATCH_TOO_LARGE: { status: 413, retryable: false, message: 'Too many events in batch' },
  RP_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, message: 'Content-Type must be application/json' },
  RP_ERR_QUEUE_FULL: { status: 503, retryable: true, message: 'Queue is full, retry later' },
  RP_ERR_REDIS_UNAVAILABLE: { status: 503, retryable: true, message: 'Redis is unavailable' },
  RP_ERR_NOT_READY: { status: 503, retryable: true, message: 'Service is not ready' },
  RP_ERR_CONFIG: { status: 500, retryable: false, message: 'Invalid configuration' },
  RP_ERR_POISON_ENTRY: { status: 500, retryable: false, message: 'Stream entry cannot be parsed' },
  RP_ERR_SCHEMA_VERSION: { status: 500, retryable: false, message: 'Unknown stream schema version' },
  RP_ERR_MAX_DELIVERIES: { status: 500, retryable: false, message: 'Entry failed too many times' },
  RP_ERR_MODEL: { status: 500, retryable: false, message: 'Embedding model could not be loaded' },
  RP_ERR_TRANSIENT: { status: 503, retryable: true, message: 'Temporary failure' },
  RP_ERR_INTERNAL: { status: 500, retryable: false, message: 'Internal error' },
  RP_ERR_CLI_INPUT: { status: 400, retryable: false, message: 'Invalid input' },
  // Stage 3's dependencies (LLM, embeddings endpoint, vector index, database).
  RP_ERR_UPSTREAM_UNAVAILABLE: { status: 503, retryable: true, message: 'A service this stage depends on is unavailable' },
  RP_ERR_UPSTREAM_INVALID: { status: 503, retryable: true, message: 'A service this stage depends on gave an answer that does not validate' },
  RP_ERR_UPSTREAM_REJECTED: { status: 502, retryable: false, message: 'A service this stage depends on rejected the request' },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldProblem {
  path: string;
  message: string;
}

export class RiskpipeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly errors?: FieldProblem[];
  readonly headers?: Record<string, string>;

  constructor(code: ErrorCode, message?: string, opts: { cause?: unknown; errors?: FieldProblem[]; headers?: Record<string, string> } = {}) {
    super(message ?? ERROR_CODES[code].message, { cause: opts.cause });
    this.name = 'RiskpipeError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryable = ERROR_CODES[code].retryable;
    this.errors = opts.errors;
    this.headers = opts.headers;
  }
}

/** Configuration that does not validate; the CLI prints `errors` as `path: message` lines. */
export class ConfigError extends RiskpipeError {
  constructor(errors: FieldProblem[]) {
    super('RP_ERR_CONFIG', `Invalid configuration:\n${errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`, { errors });
    this.name = 'ConfigError';
  }
}

/** Anything retrying cannot fix; its stream entry goes to the dead-letter stream. */
export class PermanentError extends RiskpipeError {
  constructor(code: ErrorCode, message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'PermanentError';
  }
}

export function isRetryable(err: unknown): boolean {
  if (err instanceof RiskpipeError) return err.retryable;
  // Unknown errors (network blips, Redis restarts) are assumed transient: the entry stays pending
  // and max_deliveries bounds how often it is tried.
  return true;
}
