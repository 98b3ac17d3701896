import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyServerOptions } from 'fastify';
import { clientErrorHandler } from './client-error.js';
import { errorBody } from './http.js';
import { DEFAULT_INPUT_LIMITS, parseJsonBody, type InputLimits } from './limits.js';

/**
 * How long a client may take, so that slow clients (slowloris: headers or a body trickled a
 * byte at a time) cannot hold sockets and memory. Node enforces the request and headers
 * timeouts every `connectionsCheckingInterval`, which is set from them.
 */
export interface HttpTimeouts {
  /** The whole request, headers and body, must arrive within this. 0 = no limit. Default 30000 ms. */
  requestTimeoutMs: number;
  /** The request line and headers must arrive within this (also a fresh connection that sends nothing). Default 10000 ms. */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. Default 72000 ms (longer than the 60 s idle timeout of common load balancers). */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { requestTimeoutMs: 30_000, headersTimeoutMs: 10_000, keepAliveTimeoutMs: 72_000 };

/** The Fastify constructor options that harden the HTTP server: timeouts and riskpipe-shaped parser errors. */
export function hardenedServerOptions(t: Partial<HttpTimeouts> = {}): Partial<FastifyServerOptions> & { http: Record<string, number> } {
  const timeouts = { ...DEFAULT_HTTP_TIMEOUTS, ...t };
  const headersTimeout = timeouts.requestTimeoutMs > 0 ? Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs) : timeouts.headersTimeoutMs;
  const shortest = Math.min(...[timeouts.requestTimeoutMs, headersTimeout].filter((ms) => ms > 0));
  return {
    requestTimeout: timeouts.requestTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    clientErrorHandler,
    // Errors Fastify raises before routing (a URL that does not decode), in our shape too.
    frameworkErrors: (err, _req, reply) => {
      void (reply as FastifyReply).code(400).send(errorBody('RP_ERR_BAD_REQUEST', `Bad request: ${err.message}`));
    },
    http: {
      headersTimeout,
      requestTimeout: timeouts.requestTimeoutMs,
      keepAliveTimeout: timeouts.keepAliveTimeoutMs,
      // Node checks these timeouts on this interval (30 s by default, which would double them).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(shortest / 4) || 1_000)),
    },
  };
}

/**
 * Hardens a Fastify app built with `hardenedServerOptions`: replaces Fastify's JSON body parser
 * with one that enforces the depth limit, cuts out a batch item that is too deep (reported per
 * item, see `rejectedItems`) and names a `__proto__` key for what it is instead of calling the
 * body malformed; and answers CONNECT (which Node hands to a 'connect' listener, or else drops
 * the connection without a word) with a 405 in our shape.
 */
export function hardenHttpApp(app: FastifyInstance, given: Partial<InputLimits> = {}): void {
  const limits = { ...DEFAULT_INPUT_LIMITS, ...given };
  // While closing, a request that still arrives (pipelined, or racing the close on a keep-alive
  // connection) gets 503 in our shape; Fastify's own return503OnClosing answer is not.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', (_req, reply, done) => {
    if (!closing) return done();
    void reply.code(503).header('connection', 'close').header('retry-after', '1').send(errorBody('RP_ERR_NOT_READY', 'Shutting down: retry the request (it was not processed)'));
  });
  app.server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(errorBody('RP_ERR_METHOD_NOT_ALLOWED', 'CONNECT is not supported: this is not a proxy'));
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy());
  });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string, limits));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
