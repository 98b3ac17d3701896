import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CODES, type ErrorCode } from './errors.js';

/**
 * Errors raised by Node's HTTP parser (and its request/headers timeouts) happen before Fastify
 * sees a request, so its error handler never runs; Fastify's default answer is
 * `{"error","message","statusCode"}`. This answers them in riskpipe's shape
 * `{"detail","code","errors"}` and closes the connection (the parser cannot resume after an
 * error).
 */
const PARSER_ERRORS: Record<string, [ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: ['RP_ERR_HEADERS_TOO_LARGE', 'Request headers too large (the limit is Node\'s --max-http-header-size, 16 KiB by default)'],
  ERR_HTTP_REQUEST_TIMEOUT: ['RP_ERR_REQUEST_TIMEOUT', 'The request (headers and body) did not arrive in time'],
  HPE_INVALID_METHOD: ['RP_ERR_BAD_REQUEST', 'Invalid HTTP method (methods are upper case: GET, POST, ...)'],
  HPE_INVALID_CONTENT_LENGTH: ['RP_ERR_BAD_REQUEST', 'Invalid Content-Length header (one non-negative integer)'],
  HPE_UNEXPECTED_CONTENT_LENGTH: ['RP_ERR_BAD_REQUEST', 'Content-Length together with Transfer-Encoding: chunked is not allowed'],
  HPE_INVALID_TRANSFER_ENCODING: ['RP_ERR_BAD_REQUEST', 'Invalid Transfer-Encoding header'],
  HPE_INVALID_CHUNK_SIZE: ['RP_ERR_BAD_REQUEST', 'Malformed chunked body: invalid chunk size'],
  HPE_INVALID_HEADER_TOKEN: ['RP_ERR_BAD_REQUEST', 'Invalid character in a header name or value'],
  HPE_INVALID_URL: ['RP_ERR_BAD_REQUEST', 'Invalid request target (URL)'],
  HPE_INVALID_VERSION: ['RP_ERR_BAD_REQUEST', 'Invalid HTTP version'],
  HPE_INVALID_CONSTANT: ['RP_ERR_BAD_REQUEST', 'Malformed HTTP request line'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: ['RP_ERR_BAD_REQUEST', 'Malformed chunked body: chunk extensions too long'],
};

export function clientErrorAnswer(err: NodeJS.ErrnoException & { reason?: string }): { status: number; code: ErrorCode; detail: string } {
  const known = err.code ? PARSER_ERRORS[err.code] : undefined;
  if (known) return { status: ERROR_CODES[known[0]].status, code: known[0], detail: known[1] };
  const reason = typeof err.reason === 'string' && err.reason ? `: ${err.reason}` : '';
  return { status: 400, code: 'RP_ERR_BAD_REQUEST', detail: `Malformed HTTP request${reason}${err.code ? ` (${err.code})` : ''}` };
}

/** Fastify's `clientErrorHandler`: a raw HTTP/1.1 answer on the socket, then close it. */
export function clientErrorHandler(err: NodeJS.ErrnoException & { reason?: string }, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, detail } = clientErrorAnswer(err);
  const body = JSON.stringify({ detail, code, errors: [] });
  // Never write into the middle of a response already being sent on this connection.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
    // Destroyed once written: a slow or hostile client must not keep the socket half-open.
    socket.end(head + body, () => socket.destroy());
    setTimeout(() => socket.destroy(), 2_000).unref(); // in case the peer never reads it
    return;
  }
  socket.destroy();
}
