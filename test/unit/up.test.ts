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
    expect(resolveUpConfig({}, { PORT: '9000', RISKPIPE_PORT: '9001' }).port).toBe(9001);
    expect(resolveUpConfig({ fsync: true }, {}).fsync).toBe(true);
    expect(resolveUpConfig({}, { RISKPIPE_FSYNC: '1' }).fsync).toBe(true);
    expect(cfg.fsync).toBe(false);
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

describe('riskpipe up: the streams over HTTP (what tail-stream reads)', () => {
  it('lists stream status, pages entries, long-polls for new ones, names unknown streams', async () => {
    const { default: Fastify } = await import('fastify');
    const { MemoryBus } = await import('../../src/stream/memory/bus.js');
    const { streamRoutes } = await import('../../src/cli/up/stream-routes.js');
    const { installErrorHandling } = await import('../../src/common/http.js');
    const { silentLogger } = await import('../../src/common/logger.js');
    const bus = MemoryBus.open({});
    const app = Fastify();
    installErrorHandling(app, silentLogger);
    await app.register(streamRoutes({ bus, apiKeys: [] }));
    try {
      const a = await bus.add('lowRisk', { event_id: 'e1' });
      await bus.add('lowRisk', { event_id: 'e2' });
      const all = (await app.inject({ url: '/v1/streams/events:low_risk/entries?after=0-0' })).json();
      expect(all).toMatchObject({ stream: 'events:low_risk', entries: [{ fields: { event_id: 'e1' } }, { fields: { event_id: 'e2' } }] });
      expect((await app.inject({ url: `/v1/streams/lowRisk/entries?after=${a}` })).json().entries.map((e: { fields: { event_id: string } }) => e.fields.event_id)).toEqual(['e2']);
      // "$": only what arrives while the request waits.
      const waiting = app.inject({ url: '/v1/streams/events:low_risk/entries?after=$&wait_ms=3000' });
      await new Promise((r) => setTimeout(r, 150));
      await bus.add('lowRisk', { event_id: 'e3' });
      const late = (await waiting).json();
      expect(late.entries.map((e: { fields: { event_id: string } }) => e.fields.event_id)).toEqual(['e3']);
      expect(late.last_id).toBe(late.entries[0].id);
      const status = (await app.inject({ url: '/v1/streams' })).json();
      expect(status).toMatchObject({ kind: 'memory', ready: true, dead_letters: 0 });
      expect(status.streams.find((s: { id: string }) => s.id === 'lowRisk').length).toBe(3);
      const unknown = await app.inject({ url: '/v1/streams/events:nope/entries' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().detail).toContain('events:low_risk');
      expect((await app.inject({ url: '/v1/streams/raw/entries?after=yesterday' })).statusCode).toBe(400);
    } finally {
      await app.close();
      await bus.close();
    }
  });
});
