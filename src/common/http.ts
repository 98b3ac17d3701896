import * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RiskpipeError, ERROR_CODES, type ErrorCode } from './errors.js';
import type { Logger } from './logger.js';

/** Body of every error answer: `{"detail", "code", "errors": [{"path", "message"}]}`. */
export function errorBody(code: ErrorCode, detail: string, errors?: { path: string; message: string }[]) {
  return errors && errors.length > 0 ? { detail, code, errors } : { detail, code, errors: [] as { path: string; message: string }[] };
}

/** Fastify's own error codes, mapped onto ours so that every error has the same shape. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'RP_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'RP_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'RP_ERR_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'RP_ERR_BAD_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'RP_ERR_BAD_JSON',
  FST_ERR_VALIDATION: 'RP_ERR_BAD_REQUEST',
};

/**
 * One error boundary for an HTTP app: RiskpipeErrors keep their code and status, Fastify's body
 * errors get ours, anything else is a 500 that is logged (without the request body).
 */
export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError | RiskpipeError | Error, req, reply) => {
    if (err instanceof RiskpipeError) {
      if (err.headers) reply.headers(err.headers);
      return reply.code(err.status).send(errorBody(err.code, err.message, err.errors));
    }
    const fe = err as FastifyError;
    let code: ErrorCode | undefined = fe.code ? FASTIFY_CODES[fe.code] : undefined;
    if (!code && err instanceof SyntaxError && fe.statusCode === 400) code = 'RP_ERR_BAD_JSON';
    if (code) {
      let detail = fe.message;
      if (code === 'RP_ERR_BAD_JSON') detail = fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'Malformed JSON body: the body is empty' : `Malformed JSON body: ${fe.message}`;
      if (code === 'RP_ERR_UNSUPPORTED_MEDIA_TYPE') detail = `Unsupported Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')}: send application/json`;
      if (code === 'RP_ERR_BODY_TOO_LARGE') detail = `Request body too large (limit ${app.initialConfig.bodyLimit} bytes)`;
      return reply.code(ERROR_CODES[code].status).send(errorBody(code, detail));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(errorBody('RP_ERR_BAD_REQUEST', fe.message));
    }
    log.error({ err, method: req.method, url: req.url }, 'unhandled error');
    return reply.code(500).send(errorBody('RP_ERR_INTERNAL', 'Internal error'));
  });
  app.setNotFoundHandler((req, reply) => {
    const url = req.url.split('?')[0];
    // hasRoute parses the URL as a route pattern and throws on some ('/*/', '/:'): those match nothing.
    const known = (method: string) => {
      try {
        return app.hasRoute({ method, url });
      } catch {
        return false;
      }
    };
    const allowed = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].filter(known);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      return reply.code(405).send(errorBody('RP_ERR_METHOD_NOT_ALLOWED', `Method ${req.method} not allowed on ${url} (use ${allowed.join(', ')})`));
    }
    return reply.code(404).send(errorBody('RP_ERR_NOT_FOUND', `Not found: ${req.method} ${url}`));
  });
}

// crypto.hash (Node >= 20.12) where it exists: the key is hashed on every request.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;
const sha256 = (s: string): Buffer => (oneShot ? oneShot('sha256', s, 'buffer') : createHash('sha256').update(s).digest());

/**
 * API-key check: the `api-key` header or `Authorization: Bearer <key>`, compared in constant time
 * against every configured key. With no keys configured authentication is off.
 */
export function makeApiKeyCheck(keys: string[]): (req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void {
  const digests = keys.map((k) => createHash('sha256').update(k).digest());
  // A callback hook rather than an async one: it runs on every request and needs no promise.
  return (req, _reply, done) => {
    if (digests.length === 0) return done();
    let presented = req.headers['api-key'];
    if (Array.isArray(presented)) presented = presented[0];
    if (!presented) {
      const auth = req.headers.authorization;
      if (auth && /^bearer\s+/i.test(auth)) presented = auth.replace(/^bearer\s+/i, '').trim();
    }
    if (!presented) return done(new RiskpipeError('RP_ERR_UNAUTHORIZED', 'Missing API key: send the api-key header or Authorization: Bearer <key>'));
    const d = sha256(presented);
    let ok = false;
    for (const k of digests) ok = timingSafeEqual(d, k) || ok;
    done(ok ? undefined : new RiskpipeError('RP_ERR_UNAUTHORIZED', 'Invalid API key'));
  };
}

/** Keys shorter than this get a start-up warning (they are accepted: the original services used `test-key`). */
export const WEAK_API_KEY_LENGTH = 16;

/** Warns loudly about every configured key short enough to guess; never logs the key itself. */
export function warnAboutWeakApiKeys(keys: string[], log: Logger): void {
  keys.forEach((k, i) => {
    if (k.length < WEAK_API_KEY_LENGTH) {
      log.warn(
        { key_index: i + 1, key_length: k.length },
        `API key #${i + 1} of ${keys.length} is only ${k.length} characters long and easy to guess: fine for a test setup, not for production (use e.g. \`openssl rand -hex 24\`)`,
      );
    }
  });
}

/**
 * Keep-alive connections whose request was in flight when close() began would hold close() open
 * until they time out: answer those requests with `Connection: close` so the socket ends with them.
 */
export function closeConnectionsOnShutdown(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}
