import { describe, expect, it } from 'vitest';
import { assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';

/*
 * SIGTERM on `riskpipe screen-worker` while Redis is unreachable: nothing in hand can settle, so
 * the worker must not wait out its 20 s close deadline (it used to take exactly 20 s).
 */
describe('screen-worker shutdown with Redis away', () => {
  it('exits 0 within a few seconds of SIGTERM', async () => {
    assertBuilt();
    const server = await PrivateRedis.start();
    const port = await freePort();
    const w = startCli(['screen-worker', '--redis-url', server.url, '--port', String(port), '--host', '127.0.0.1', '--block-ms', '500', '--log-level', 'warn']);
    let stopped = false;
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`);
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && (await fetch(`http://127.0.0.1:${port}/ready`)).status !== 200) await new Promise((r) => setTimeout(r, 100));
      await server.stop();
      stopped = true;
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      w.child.kill('SIGTERM');
      const { code } = await w.exited;
      const ms = Date.now() - t0;
      expect(code, w.output()).toBe(0);
      expect(ms).toBeLessThan(5_000);
    } finally {
      if (w.child.exitCode === null) w.child.kill('SIGKILL');
      if (!stopped) await server.stop();
    }
  }, 40_000);
});
