import { connect } from 'node:net';
import { expect } from 'vitest';
import type { Redis } from 'ioredis';

/**
 * The documented error body: `{"detail": string, "code": "RP_ERR_*", "errors": [{path, message}]}`;
 * the screening endpoint's 422 (RP_ERR_INVALID_PARAMETERS) has FastAPI's `detail` list instead, with
 * the one-line text as `message` (docs/moving-from-python.md).
 */
export function expectErrorShape(body: unknown, context: string): void {
  const b = body as { detail?: unknown; code?: unknown; errors?: unknown; message?: unknown };
  const fastApiDetail = (d: unknown) =>
    Array.isArray(d) &&
    d.length > 0 &&
    d.every((e) => !!e && typeof (e as { type?: unknown }).type === 'string' && Array.isArray((e as { loc?: unknown }).loc) && typeof (e as { msg?: unknown }).msg === 'string') &&
    typeof b.message === 'string' &&
    b.message.length > 0;
  const ok =
    !!b &&
    typeof b === 'object' &&
    (b.code === 'RP_ERR_INVALID_PARAMETERS' ? fastApiDetail(b.detail) : typeof b.detail === 'string' && b.detail.length > 0) &&
    typeof b.code === 'string' &&
    /^RP_ERR_[A-Z_]+$/.test(b.code) &&
    Array.isArray(b.errors) &&
    (b.errors as unknown[]).every((e) => !!e && typeof (e as { path?: unknown }).path === 'string' && typeof (e as { message?: unknown }).message === 'string');
  if (!ok) expect.fail(`${context}: not in the error shape: ${JSON.stringify(body)?.slice(0, 300)}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms (last: ${JSON.stringify(last)?.slice(0, 200)})`);
    await sleep(50);
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, for diagnostics. */
  raw: string;
  /** The server closed the connection (rather than our read timing out). */
  closed: boolean;
}

/** Parses the first HTTP/1.1 response out of raw bytes (Content-Length bodies only). */
export function parseFirstResponse(raw: string, closed: boolean): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = raw.slice(end + 4);
  if (headers['content-length'] !== undefined) body = Buffer.from(body, 'latin1').subarray(0, Number(headers['content-length'])).toString('utf8');
  return { status: Number(m[1]), headers, body, raw, closed };
}

/**
 * Writes `request` (bytes, as latin1) to host:port and reads until the server closes the socket,
 * a complete first response has arrived and `untilClose` is false, or `timeoutMs` passes.
 */
export function rawRequest(port: number, request: string | Buffer, opts: { timeoutMs?: number; untilClose?: boolean } = {}): Promise<RawResponse | undefined> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(parseFirstResponse(Buffer.concat(chunks).toString('latin1'), closed));
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 5_000);
    sock.on('data', (d) => {
      chunks.push(d);
      if (opts.untilClose) return;
      const r = parseFirstResponse(Buffer.concat(chunks).toString('latin1'), false);
      if (r && (r.headers['content-length'] === undefined || Buffer.byteLength(r.body) >= Number(r.headers['content-length']))) finish(false);
    });
    sock.on('error', () => finish(true));
    sock.on('close', () => finish(true));
    sock.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request);
  });
}

/** Every entry of a stream as [id, fields]. */
export async function streamEntries(redis: Redis, stream: string): Promise<[string, Record<string, string>][]> {
  const out: [string, Record<string, string>][] = [];
  let start = '-';
  for (;;) {
    const batch = await redis.xrange(stream, start, '+', 'COUNT', 5000);
    for (const [id, flat] of batch) {
      const f: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
      out.push([id, f]);
    }
    if (batch.length < 5000) return out;
    start = `(${batch[batch.length - 1][0]}`;
  }
}

/** A valid event with unique ids. */
let seq = 0;
export function validEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  const id = `${process.pid}-${Date.now().toString(36)}-${seq}-${Math.random().toString(36).slice(2, 8)}`;
  return {
    event_id: `ev-${id}`,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: 'general',
    user_id: `u-${id}`,
    author_id: `a-${id}`,
    content: `hello number ${seq}, good game everyone`,
    metadata: { user_reputation: 0.5 },
    ...over,
  };
}
