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
      await sleep(300);
      expect(parseFirstResponse(idle.data(), false)?.status).toBe(200);

      // A request in flight: headers and half the body sent.
      const busy = await open(port);
      busy.sock.write(request + body.slice(0, 20));
      await sleep(200);

      cli.child.kill('SIGTERM');
      await sleep(300);

      // The idle connection was closed by the server, cleanly.
      expect(await Promise.race([idle.ended, sleep(2_000).then(() => 'still open')])).toBe('end');
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
});
