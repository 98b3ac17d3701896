import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { buildIndexApp, createIndexStage, eventIndexDir, openIndexBackends } from '../../src/index/index.js';
import { MemoryBus } from '../../src/stream/memory/bus.js';
import { escalated } from '../fakes/escalated.js';
import { chatAnswer, embeddingsReply, startFakeOpenAI } from '../fakes/openai-server.js';
import { escalate, until } from '../fakes/pipeline.js';

/*
 * Stage 3 as `riskpipe up` composes it: the in-process bus, PGlite in a data directory, the
 * embedded index, the rules provider. The same stage code and SQL as on Redis + Postgres; the
 * record and the index survive a restart on the same data directory.
 */

const dir = mkdtempSync(join(tmpdir(), 'rp-index-embedded-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function boot() {
  const bus = MemoryBus.open({});
  const backends = await openIndexBackends({ store: { pglite: { dataDir: join(dir, 'pglite') } }, vector: { kind: 'embedded', dir: eventIndexDir(dir) }, embedder: { kind: 'hash' }, incidents: { kind: 'rules' } }, silentLogger);
  const stage = createIndexStage({ bus, log: silentLogger, ...backends }, { apiKeys: [], claimIdleMs: 300, maxDeliveries: 2, blockMs: 50 });
  const app = await buildIndexApp(stage, silentLogger);
  await stage.start();
  return {
    bus,
    backends,
    stage,
    app,
    close: async () => {
      await stage.close();
      await app.close();
      await bus.close();
      await backends.close();
    },
  };
}

describe('index stage on the in-process bus, PGlite and the embedded index', () => {
  it('indexes, searches, completes the batch, and keeps it all across a restart', async () => {
    const a = await boot();
    try {
      await escalate(a.bus, [escalated('up-1', { content: 'you better watch your back', platform: 'twitch' }), escalated('up-2', { content: 'free nitro here', category: 'spam', level: 'MEDIUM' })], 'up-batch');
      await until('the batch to complete', async () => (await a.bus.batchStatus('up-batch'))?.completed, 20_000);
      expect(await a.backends.store.getEvent('up-1')).toMatchObject({ status: 'indexed', incidents: [expect.objectContaining({ type: 'threat' })] });
      const r = await a.app.inject({ method: 'POST', url: '/v1/search', payload: { query: 'watch your back', filters: { platform: 'twitch' } } });
      expect(r.json().results.map((x: { event_id: string }) => x.event_id)).toEqual(['up-1']);
      const health = (await a.app.inject({ method: 'GET', url: '/health' })).json();
      expect(health.dependencies).toMatchObject({ bus: { state: 'ok', kind: 'memory' }, postgres: { state: 'ok', kind: 'pglite' }, vector_index: { kind: 'embedded', points: 2 } });
    } finally {
      await a.close();
    }
    const b = await boot();
    try {
      expect(await b.backends.index.count()).toBe(2);
      expect((await b.backends.store.getEvent('up-2'))!.status).toBe('indexed');
      const r = await b.stage.search.search({ query: 'free nitro', k: 1 });
      expect(r.results[0]).toMatchObject({ event_id: 'up-2', risk_category: 'spam' });
    } finally {
      await b.close();
    }
  }, 60_000);
});

describe('index stage with remote providers (OpenAI-compatible embeddings and incidents)', () => {
  it('embeds through /v1/embeddings and writes the LLM\'s incidents', async () => {
    const srv = await startFakeOpenAI();
    srv.setDefault('/v1/embeddings', embeddingsReply(32));
    srv.setDefault('/v1/chat/completions', {
      body: chatAnswer(JSON.stringify({ incidents: [{ type: 'threat', description: 'Threat against a moderator', target: '@mod', severity: 'high', confidence: 0.9, evidence: 'watch your back' }] })),
    });
    const bus = MemoryBus.open({});
    const backends = await openIndexBackends(
      {
        store: { pglite: {} },
        vector: { kind: 'embedded', dir: join(dir, 'remote-index') },
        embedder: { kind: 'remote', baseUrl: srv.baseUrl, model: 'emb-test' },
        incidents: { kind: 'openai', baseUrl: srv.baseUrl, model: 'chat-test', apiKey: 'sk-test-123' },
      },
      silentLogger,
    );
    const stage = createIndexStage({ bus, log: silentLogger, ...backends }, { apiKeys: [], claimIdleMs: 300, maxDeliveries: 2, blockMs: 50 });
    try {
      expect(backends.embedder).toMatchObject({ id: 'openai-embeddings:emb-test', dim: 32 });
      await stage.start();
      await escalate(bus, [escalated('rm-1', { content: '@mod you better watch your back' })], 'rm-batch');
      await until('indexed', async () => (await backends.store.getEvent('rm-1'))?.status === 'indexed', 20_000);
      expect((await backends.store.getEvent('rm-1'))!.incidents).toEqual([expect.objectContaining({ target: '@mod', provider: 'openai:chat-test' })]);
      const r = await stage.search.search({ query: '@mod you better watch your back' });
      expect(r.results[0]).toMatchObject({ event_id: 'rm-1' });
      expect(srv.requests.filter((q) => q.path === '/v1/embeddings').length).toBeGreaterThanOrEqual(3); // probe, the event, the query
      expect((await stage.status()).health).toMatchObject({ dependencies: { incident_provider: { kind: 'openai', model: 'chat-test', state: 'ok' }, embedder: { id: 'openai-embeddings:emb-test', device: 'remote' } } });
    } finally {
      await stage.close();
      await bus.close();
      await backends.close();
      await srv.close();
    }
  }, 60_000);
});
