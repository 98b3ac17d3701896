import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildIngestApp } from '../../src/ingest/app.js';
import { createProducerRedis } from '../../src/common/redis.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { expectErrorShape, rawRequest, streamEntries, validEvent, type RawResponse } from './support.js';

/*
 * Raw-socket requests against a listening ingest server: what Node's HTTP parser rejects
 * (before Fastify sees a request) must answer in riskpipe's error shape too (issue 11, item 2),
 * and request/headers timeouts answer 408 in the same shape (item 3).
 */

const KEY = 'raw-key-123456789';
const RUNS = Math.round(Number(process.env.RISKPIPE_FUZZ_RUNS ?? 2500) / 5);
const prefix = uniquePrefix('raw');
const stream = `${prefix}events:raw`;
let admin: Redis;
let producer: Redis;
let app: FastifyInstance;
let port: number;
const queued = new Map<string, string>();

beforeAll(async () => {
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise((r) => producer.once('ready', r));
  app = await buildIngestApp({ bus: new RedisBus(producer, undefined, { role: 'producer', prefix }), apiKeys: [KEY], timeouts: { requestTimeoutMs: 500, headersTimeoutMs: 500 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await app?.close();
  producer?.disconnect();
  if (admin) await cleanupPrefix(admin, prefix);
  admin?.disconnect();
});

const body = () => JSON.stringify(validEvent());

function expectShaped(res: RawResponse | undefined, status: number | undefined, what: string, head = false): RawResponse {
  if (!res) return expect.fail(`${what}: no HTTP response`);
  if (status !== undefined) expect(res.status, `${what}: ${res.raw.slice(0, 300)}`).toBe(status);
  expect(res.status, what).toBeLessThan(500);
  if (res.status >= 400 && !head) {
    expect(res.headers['content-type'], what).toMatch(/application\/json/);
    expectErrorShape(JSON.parse(res.body), what);
  }
  return res;
}

describe("errors of Node's HTTP parser, in riskpipe's error shape", () => {
  const b = body();
  const cases: [string, string, number, string?][] = [
    ['negative Content-Length', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: -1\r\n\r\n${b}`, 400, 'RP_ERR_BAD_REQUEST'],
    ['doubled Content-Length', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${b.length}\r\nContent-Length: 3\r\n\r\n${b}`, 400],
    ['overflowing Content-Length', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n${b}`, 400],
    ['non-numeric Content-Length', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n${b}`, 400],
    ['Content-Length with Transfer-Encoding', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, 400],
    ['bad chunk size', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\napi-key: ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, 400],
    ['chunk longer than announced', `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\napi-key: ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n`, 400],
    ['control character in a header value', `GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n`, 400],
    ['space in a header name', `GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n`, 400],
    ['lower-case method', `get /health HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['unknown method', `FETCH /health HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['bad HTTP version', `GET /health HTTP/9.x\r\nHost: x\r\n\r\n`, 400],
    ['garbage request line', `\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n`, 400],
    ['huge headers', `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'RP_ERR_HEADERS_TOO_LARGE'],
    ['CONNECT', `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n`, 405, 'RP_ERR_METHOD_NOT_ALLOWED'],
    ['undecodable URL', `GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
  ];
  for (const [name, request, status, code] of cases) {
    it(name, async () => {
      const res = expectShaped(await rawRequest(port, request), status, name);
      if (code) expect(JSON.parse(res.body).code).toBe(code);
    });
  }

  it('a body that never finishes is cut off by the request timeout with a 408', async () => {
    const t0 = Date.now();
    const res = expectShaped(await rawRequest(port, `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\napi-key: ${KEY}\r\nContent-Length: 500\r\n\r\n{"event_id":`), 408, 'slow body');
    expect(JSON.parse(res.body).code).toBe('RP_ERR_REQUEST_TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(res.closed || res.headers.connection === 'close').toBe(true);
  });

  it('headers that never finish are cut off by the headers timeout with a 408', async () => {
    const t0 = Date.now();
    expectShaped(await rawRequest(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a`), 408, 'slow headers');
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('a connection that sends nothing is closed by the headers timeout', async () => {
    const t0 = Date.now();
    const res = await rawRequest(port, '', { untilClose: true, timeoutMs: 3_000 });
    expect(Date.now() - t0).toBeLessThan(2_500);
    if (res) expectShaped(res, 408, 'silent connection');
  });
});

// ---- generated raw requests ------------------------------------------------------------------

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const headerValue = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, '')) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 20 }) }, // control characters, CR/LF included
  { weight: 1, arbitrary: fc.constantFrom('\x00', '\x7f', 'a\rb', ' ', '\u00ff\u00fe') },
);
const method = fc.oneof({ weight: 8, arbitrary: fc.constantFrom('POST', 'GET') }, { weight: 2, arbitrary: fc.constantFrom('post', 'Post', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE', 'CONNECT', 'FOO', '', 'GET GET') });
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/v1/events/ingest', '/v1/events/ingest-batch') },
  { weight: 2, arbitrary: fc.constantFrom('/health', '/ready', '/v1/metrics', '/metrics', '*', '/%', '/%00', 'http://x/health', '/a b', '/' + 'x'.repeat(9000)) },
  { weight: 1, arbitrary: fc.webPath() },
);
const version = fc.oneof({ weight: 12, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/1', 'http/1.1', '') });
const framing = fc.oneof(
  { weight: 24, arbitrary: fc.constant('exact') },
  { weight: 12, arbitrary: fc.constantFrom('chunked', 'chunked-bad', 'cl-negative', 'cl-double', 'cl-overflow', 'cl-te', 'cl-short', 'cl-hex', 'te-unknown') },
  { weight: 1, arbitrary: fc.constantFrom('cl-long', 'none') }, // the body never completes: the request timeout answers (slow, so rare)
);
const rawBody = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map(() => body()) },
  { weight: 1, arbitrary: fc.nat().map(() => JSON.stringify({ events: [validEvent(), validEvent(), { bad: true }] })) },
  { weight: 2, arbitrary: fc.string({ maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '{', '[' .repeat(50_000)) },
);

interface Generated {
  method: string;
  path: string;
  version: string;
  headers: [string, string][];
  framing: string;
  body: string;
}

const generated = fc.record<Generated>({
  method,
  path,
  version,
  headers: fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: token }, { weight: 1, arbitrary: fc.string({ maxLength: 10 }) }), headerValue), { maxLength: 4 }),
  framing,
  body: rawBody,
});

function render(g: Generated): string {
  const b = Buffer.from(g.body, 'utf8').toString('latin1');
  const lines = [`${g.method} ${g.path} ${g.version}`, 'Host: fuzz', `api-key: ${KEY}`, 'Content-Type: application/json', 'Connection: close'];
  for (const [k, v] of g.headers) lines.push(`${k}: ${v}`);
  let payload = b;
  const len = Buffer.byteLength(b, 'latin1');
  switch (g.framing) {
    case 'exact': lines.push(`Content-Length: ${len}`); break;
    case 'chunked': lines.push('Transfer-Encoding: chunked'); payload = `${len.toString(16)}\r\n${b}\r\n0\r\n\r\n`; break;
    case 'chunked-bad': lines.push('Transfer-Encoding: chunked'); payload = `${(len + 7).toString(16)}x\r\n${b}\r\n0\r\n\r\n`; break;
    case 'cl-negative': lines.push(`Content-Length: -${len}`); break;
    case 'cl-double': lines.push(`Content-Length: ${len}`, `Content-Length: ${len + 1}`); break;
    case 'cl-overflow': lines.push('Content-Length: 18446744073709551617'); break;
    case 'cl-te': lines.push(`Content-Length: ${len}`, 'Transfer-Encoding: chunked'); break;
    case 'cl-short': lines.push(`Content-Length: ${Math.floor(len / 2)}`); break;
    case 'cl-hex': lines.push(`Content-Length: 0x${len.toString(16)}`); break;
    case 'te-unknown': lines.push('Transfer-Encoding: gzip, chunked, identity'); break;
    case 'cl-long': lines.push(`Content-Length: ${len + 10}`); break;
    case 'none': break;
  }
  return `${lines.join('\r\n')}\r\n\r\n${payload}`;
}

describe('fuzzing with raw sockets', () => {
  it(`${RUNS} generated raw requests: always an answer, never a 5xx, every 4xx in shape`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.array(generated, { minLength: 10, maxLength: 10 }), async (group) => {
        // Ten at a time: the ones waiting for a body that never completes overlap.
        const answers = await Promise.all(group.map((g) => rawRequest(port, render(g), { timeoutMs: 4_000 })));
        answers.forEach((res, i) => {
          const what = JSON.stringify(render(group[i]).slice(0, 200));
          const r = expectShaped(res, undefined, what, group[i].method === 'HEAD');
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 200 && r.headers['content-type']?.includes('json')) {
            const b = JSON.parse(r.body) as { status?: string; stream_id?: string; event_id?: string; results?: { status: string; stream_id?: string; event_id: string }[] };
            if (b.status === 'queued') queued.set(b.stream_id!, b.event_id!);
            for (const item of b.results ?? []) if (item.status === 'queued') queued.set(item.stream_id!, item.event_id);
          }
        });
      }),
      { numRuns: Math.ceil(RUNS / 10) },
    );
    // The generator reaches the interesting answers.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    const entries = await streamEntries(admin, stream);
    expect(entries.length).toBe(queued.size);
    for (const [sid, f] of entries) expect(queued.get(sid)).toBe(f.event_id);
  }, 120_000);
});
