import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildIngestApp } from '../../src/ingest/app.js';
import { createProducerRedis } from '../../src/common/redis.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { parseFirstResponse, rawRequest, sleep, streamEntries, validEvent } from './support.js';

/*
 * Slowloris and connection floods (issue 11, item 3): clients that trickle headers or a body a
 * byte at a time are cut off by the headers / request timeouts with a 408 in our error shape,
 * while everyone else keeps being served; a flood of concurrent connections is answered in full.
 */

const KEY = 'slow-key-123456789';
const prefix = uniquePrefix('slow');
let admin: Redis;
let producer: Redis;
let app: FastifyInstance;
let port: number;
let stream: string;

beforeAll(async () => {
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise((r) => producer.once('ready', r));
  const bus = new RedisBus(producer, undefined, { role: 'producer', prefix });
  stream = bus.names.raw;
  app = await buildIngestApp({ bus, apiKeys: [KEY], timeouts: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await app?.close();
  producer?.disconnect();
  if (admin) await cleanupPrefix(admin, prefix);
  admin?.disconnect();
});

interface Slow {
  sock: Socket;
  closedAt?: number;
  received: string;
  timer: NodeJS.Timeout;
}

/** A client that sends `head` and then `trickle`, one byte every `everyMs`, until the server hangs up. */
function slowClient(head: string, trickle: string, everyMs: number): Slow {
  const sock = connect(port, '127.0.0.1');
  const s: Slow = { sock, received: '', timer: undefined as unknown as NodeJS.Timeout };
  let i = 0;
  sock.on('connect', () => {
    sock.write(head);
    s.timer = setInterval(() => {
      if (sock.writable) sock.write(trickle[i++ % trickle.length]);
    }, everyMs);
  });
  sock.on('data', (d) => (s.received += d.toString('latin1')));
  sock.on('error', () => undefined);
  sock.on('close', () => {
    clearInterval(s.timer);
    s.closedAt = Date.now();
  });
  return s;
}

describe('slow clients', () => {
  it('300 slowloris connections (headers or body at 5 bytes/s) are cut off with 408 while normal requests are served', async () => {
    const started = Date.now();
    const body = JSON.stringify(validEvent());
    const slow: Slow[] = [];
    for (let i = 0; i < 150; i++) slow.push(slowClient('POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\n', 'X-Slow-Header: aaaaaaaaaaaaaaaaaaaaaaaa\r\n', 200));
    for (let i = 0; i < 150; i++) {
      slow.push(slowClient(`POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\napi-key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body, 200));
    }
    // Meanwhile: ordinary requests, one after another.
    const latencies: number[] = [];
    const statuses: number[] = [];
    while (Date.now() - started < 2_500) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/v1/events/ingest`, { method: 'POST', headers: { 'content-type': 'application/json', 'api-key': KEY }, body: JSON.stringify(validEvent()) });
      await res.text();
      statuses.push(res.status);
      latencies.push(performance.now() - t0);
    }
    await sleep(1_500);
    try {
      expect(statuses.every((s) => s === 200)).toBe(true);
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.floor(latencies.length * 0.99)];
      expect(p99).toBeLessThan(500);
      const open = slow.filter((s) => s.closedAt === undefined);
      expect(open.length, `${open.length} slow connections still open after ${Date.now() - started} ms`).toBe(0);
      const cutAt = Math.max(...slow.map((s) => s.closedAt! - started));
      expect(cutAt).toBeLessThan(3_500);
      for (const s of slow) {
        const r = parseFirstResponse(s.received, true);
        expect(r?.status).toBe(408);
        expect(JSON.parse(r!.body)).toMatchObject({ code: 'RP_ERR_REQUEST_TIMEOUT', errors: [] });
      }
      console.log(`slowloris: 300 slow connections all cut off with 408 within ${cutAt} ms; meanwhile ${latencies.length} normal requests, p99 ${p99.toFixed(1)} ms`);
    } finally {
      for (const s of slow) s.sock.destroy();
    }
  }, 20_000);

  it('a flood of 1,500 concurrent connections is answered in full, nothing reset', async () => {
    const n = 1_500;
    const events = Array.from({ length: n }, () => validEvent());
    const t0 = Date.now();
    const answers = await Promise.all(
      events.map((e) => {
        const b = JSON.stringify(e);
        return rawRequest(port, `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\napi-key: ${KEY}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`, { timeoutMs: 15_000 });
      }),
    );
    const ms = Date.now() - t0;
    const byStatus = new Map<number | undefined, number>();
    for (const a of answers) byStatus.set(a?.status, (byStatus.get(a?.status) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 200: n });
    const ids = new Set((await streamEntries(admin, stream)).map(([, f]) => f.event_id));
    for (const e of events) expect(ids.has(e.event_id as string)).toBe(true);
    console.log(`connection flood: ${n} concurrent connections, all 200, in ${ms} ms`);
  }, 30_000);
});
