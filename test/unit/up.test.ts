import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/common/errors.js';
import { checkPortFree, checkTopology, upConsumerName } from '../../src/cli/up/compose.js';
import { lockDataDir } from '../../src/cli/up/lock.js';
import { resolveUpConfig } from '../../src/cli/up/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-up-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('riskpipe up: configuration checks', () => {
  it('defaults to every backend embedded, on 127.0.0.1:8001 and ./.riskpipe', () => {
    const cfg = resolveUpConfig({}, {});
    expect(resolveUpConfig({ modelDir: '/m' }, {}).embedder).toBe('onnx');
    expect(resolveUpConfig({}, { PORT: '9000' }).port).toBe(9000);
    expect(cfg).toMatchObject({ host: '127.0.0.1', port: 8001, dataDir: './.riskpipe', redisUrl: undefined, databaseUrl: undefined, qdrantUrl: undefined, workers: 1, embedder: 'hash' });
    expect(resolveUpConfig({}, { REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://p/db' })).toMatchObject({ redisUrl: 'redis://r:6379', databaseUrl: 'postgres://p/db' });
  });

  it('refuses --workers > 1 without Redis, naming the setting and the fix', () => {
    const cfg = resolveUpConfig({ workers: '3' }, {});
    expect(() => checkTopology(cfg)).toThrow(ConfigError);
    try {
      checkTopology(cfg);
    } catch (err) {
      expect((err as ConfigError).errors![0]).toMatchObject({ path: 'workers (--workers / RISKPIPE_WORKERS)', message: expect.stringContaining('Set REDIS_URL') });
    }
    expect(() => checkTopology(resolveUpConfig({ workers: '3' }, { REDIS_URL: 'redis://127.0.0.1:6379' }))).not.toThrow();
  });

  it('one up per data directory: a live holder is named, a dead one is taken over', () => {
    const a = lockDataDir(join(dir, 'a'));
    a.update({ url: 'http://127.0.0.1:8001' });
    expect(() => lockDataDir(join(dir, 'a'))).not.toThrow(); // same pid: this process may re-take it
    // A live other process (our parent) holds it.
    writeFileSync(a.path, JSON.stringify({ pid: process.ppid, url: 'http://127.0.0.1:9999' }));
    expect(() => lockDataDir(join(dir, 'a'))).toThrow(/in use by another `riskpipe up` \(pid \d+, serving http:\/\/127.0.0.1:9999\)/);
    // A killed one (no such pid) is taken over.
    writeFileSync(a.path, JSON.stringify({ pid: 2 ** 22 + 12345 }));
    const b = lockDataDir(join(dir, 'a'));
    b.release();
    b.release();
  });

  it('a busy port is a sentence, not a stack', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    await expect(checkPortFree('127.0.0.1', port)).rejects.toThrow(`port ${port} on 127.0.0.1 is already in use`);
    await new Promise((r) => srv.close(r));
    await expect(checkPortFree('127.0.0.1', port)).resolves.toBeUndefined();
  });

  it('the consumer name is stable per data directory (a restarted up on Redis takes its own pending entries back)', () => {
    expect(upConsumerName(join(dir, 'x'))).toBe(upConsumerName(join(dir, 'x')));
    expect(upConsumerName(join(dir, 'x'))).not.toBe(upConsumerName(join(dir, 'y')));
    expect(upConsumerName('d')).toMatch(/^[A-Za-z0-9_.:@-]+$/);
  });
});
