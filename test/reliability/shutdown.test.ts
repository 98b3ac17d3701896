import { describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { parseFirstResponse, sleep, validEvent } from './support.js';

/*
 * What SIGTERM does to the connections of serve-ingest (the README's "Shutdown" text is
 * written from this test): the listener closes at once (a new connection is refused), an idle
 * keep-alive connection is closed by the server (FIN, not a reset), a request already being
 * received is finished and answered with `Connection: close`, then the process exits 0.
 */

function open(port: number): Promise<{ sock: Socket; data: () => string; ended: Promise<'end' | 'error'> }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => (data += d.toString('latin1')));
    const ended = new Promise<'end' | 'error'>((r) => {
      sock.once('end', () => r('end'));
      sock.once('error', () => r('error'));
    });
    sock.once('connect', () => resolve({ sock, data: () => data, ended }));
    sock.once('error', reject);
  });
}

/** The first answer on a connection, waited for (not a fixed sleep: a loaded machine answers late). */
async function firstAnswer(c: { data: () => string }, ms = 5_000) {
  const end = Date.now() + ms;
  for (;;) {
    const r = parseFirstResponse(c.data(), false);
    if (r || Date.now() > end) return r;
    await sleep(20);
  }
}

describe('serve-ingest on SIGTERM', () => {
  it('refuses new connections, closes idle keep-alive ones, finishes the request in flight, exits 0', async () => {
    assertBuilt();
    const port = await freePort();
    const cli = startCli(['serve-ingest', '--host', '127.0.0.1', '--port', String(port), '--prefix', uniquePrefix('term')], { REDIS_URL, RISKPIPE_API_KEYS: '', LOG_LEVEL: 'warn' });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      const body = JSON.stringify(validEvent());
      const request = `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;

      // An idle keep-alive connection: one request answered, then nothing.
      const idle = await open(port);
      idle.sock.write(request + body);
      expect((await firstAnswer(idle))?.status).toBe(200);

      // A request in flight: headers and half the body sent.
      const busy = await open(port);
      busy.sock.write(request + body.slice(0, 20));
      // Time for the server to accept the connection and parse the headers (generous: under load
      // 200 ms was not always enough, and a connection without a request yet counts as idle).
      await sleep(1_000);

      cli.child.kill('SIGTERM');
      await sleep(300);

      // The idle connection was closed by the server, cleanly (generous: a loaded machine may take
      // a while to deliver the signal).
      expect(await Promise.race([idle.ended, sleep(5_000).then(() => 'still open')])).toBe('end');
      // New connections are refused.
      const refused = await open(port).then(
        (c) => (c.sock.destroy(), 'connected'),
        (err: NodeJS.ErrnoException) => err.code,
      );
      expect(refused).toBe('ECONNREFUSED');
      // The request in flight completes and is answered, with Connection: close.
      busy.sock.write(body.slice(20));
      await Promise.race([busy.ended, sleep(3_000)]);
      const answer = parseFirstResponse(busy.data(), true);
      expect(answer?.status).toBe(200);
      expect(answer?.headers.connection).toBe('close');

      const exit = await Promise.race([cli.exited, sleep(10_000).then(() => ({ code: 'timeout', signal: null }))]);
      expect(exit).toEqual({ code: 0, signal: null });
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  }, 30_000);

  it('with --shutdown-grace-ms: keeps serving with /ready 503 and Connection: close, then closes', async () => {
    assertBuilt();
    const port = await freePort();
    const cli = startCli(['serve-ingest', '--host', '127.0.0.1', '--port', String(port), '--prefix', uniquePrefix('grace'), '--shutdown-grace-ms', '3000'], { REDIS_URL, RISKPIPE_API_KEYS: '', LOG_LEVEL: 'warn' });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      const body = JSON.stringify(validEvent());
      const request = `POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const idle = await open(port);
      idle.sock.write(request);
      expect((await firstAnswer(idle))?.status).toBe(200);

      const t0 = Date.now();
      cli.child.kill('SIGTERM');
      // Until the signal is handled /ready still says 200: wait for the change (a fixed 300 ms was
      // not always enough on a loaded machine), well inside the 3 s grace.
      let ready = await fetch(`http://127.0.0.1:${port}/ready`);
      for (let i = 0; i < 40 && ready.status !== 503; i++) {
        await sleep(50);
        ready = await fetch(`http://127.0.0.1:${port}/ready`);
      }
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not_ready', detail: 'shutting down' });
      // A new connection is still served, and told to close.
      const fresh = await open(port);
      const event2 = JSON.stringify(validEvent());
      fresh.sock.write(`POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${event2.length}\r\n\r\n${event2}`);
      await Promise.race([fresh.ended, sleep(2_000)]);
      expect(parseFirstResponse(fresh.data(), true)).toMatchObject({ status: 200, headers: { connection: 'close' } });
      // The idle keep-alive connection gets its next request answered, then ends: no reset.
      const before = idle.data().length;
      const event3 = JSON.stringify(validEvent());
      idle.sock.write(`POST /v1/events/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${event3.length}\r\n\r\n${event3}`);
      expect(await Promise.race([idle.ended, sleep(2_000).then(() => 'still open')])).toBe('end');
      expect(parseFirstResponse(idle.data().slice(before), true)).toMatchObject({ status: 200, headers: { connection: 'close' } });

      const exit = await Promise.race([cli.exited, sleep(10_000).then(() => ({ code: 'timeout', signal: null }))]);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2_900);
      const refused = await open(port).then(
        (c) => (c.sock.destroy(), 'connected'),
        (err: NodeJS.ErrnoException) => err.code,
      );
      expect(refused).toBe('ECONNREFUSED');
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
    }
  }, 30_000);
});
