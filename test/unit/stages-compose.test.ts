import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { silentLogger } from '../../src/common/logger.js';
import type { Event, RiskPrediction } from '../../src/models/index.js';
import { createIngestStage } from '../../src/ingest/app.js';
import { openApiInfo } from '../../src/ingest/openapi.js';
import { buildStagesApp } from '../../src/ops/plugin.js';
import { createScreenStage } from '../../src/screen/service.js';
import { MemoryBus } from '../../src/stream/memory/bus.js';

/* Stages composed from dependencies: ingest + screen on one port over the in-process bus (what `riskpipe up` builds). */

const scorer = {
  modelId: 'test-scorer',
  dim: 8,
  device: 'cpu',
  fingerprint: 'fp',
  async screenBatch(items: { event: Event }[]): Promise<RiskPrediction[]> {
    return items.map(({ event }) => ({
      event_id: event.event_id,
      risk_score: event.content.includes('threat') ? 0.9 : 0.1,
      risk_level: event.content.includes('threat') ? 'HIGH' : 'LOW',
      risk_category: event.content.includes('threat') ? 'threat' : 'low_risk',
      confidence: 0.8,
      flags: [],
      details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 't' },
      screening_time_ms: 0,
      model_version: 't',
      policy_fingerprint: 'fp',
    }));
  },
  async close() {},
};

describe('stages on one port', () => {
  it.each([
    ['a registry each', () => undefined],
    ['one shared registry', () => new Registry()],
  ])('ingest + screen over the memory bus (%s): events flow, batch counted, ops routes cover both', async (_name, makeRegistry) => {
    const bus = MemoryBus.open({});
    const registry = makeRegistry();
    const ingest = createIngestStage({ bus, log: silentLogger, registry }, {});
    const screen = createScreenStage({ bus, log: silentLogger, registry, loadScreener: async () => ({ screener: scorer, threshold: 0.7 }) }, { apiKeys: [], claimIdleMs: 30_000, maxDeliveries: 5, batchSize: 64, blockMs: 50 });
    const app = await buildStagesApp({ stages: [ingest, screen], openapi: openApiInfo });
    try {
      await screen.start();
      await screen.running;
      const events = ['hello', 'a threat to you', 'hi again'].map((content, i) => ({ event_id: `u-${i}`, event_type: 'message_created', platform: 'discord', user_id: 'u', author_id: 'a', content }));
      const res = await app.inject({ method: 'POST', url: '/v1/events/ingest-batch', payload: { events } });
      expect(res.statusCode).toBe(200);
      const { batch_id } = res.json();
      const deadline = Date.now() + 5_000;
      for (;;) {
        const s = await bus.batchStatus(batch_id);
        if (s?.screened === 3 || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await bus.batchStatus(batch_id)).toMatchObject({ total: 3, queued: 3, screened: 3, low_risk: 2, escalated: 1, completed: false });
      expect(await bus.length('reasoning')).toBe(1);

      const health = (await app.inject({ method: 'GET', url: '/health' })).json();
      expect(health).toMatchObject({ status: 'ok', service: 'event-ingestion', stages: { ingest: { service: 'event-ingestion' }, screen: { service: 'risk-screening' } } });
      const ready = await app.inject({ method: 'GET', url: '/ready' });
      expect(ready.statusCode).toBe(200);
      expect(ready.json().stages.screen).toMatchObject({ status: 'ready', model: 'loaded', worker: 'running' });
      const m = (await app.inject({ method: 'GET', url: '/v1/metrics' })).json();
      expect(m.stages.screen).toMatchObject({ routed: { low_risk: 2, reasoning_queue: 1 }, pending: 0 });
      const prom = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(prom).toContain('riskpipe_ingest_events_queued_total 3');
      expect(prom).toContain('riskpipe_screen_events_total{route="low_risk",category="low_risk"} 2');
      expect(prom).toContain('riskpipe_consumer_entries_total{stage="screen",outcome="ok"} 3');
      expect((await app.inject({ method: 'POST', url: '/v1/risk/screen', payload: { content: 'a threat' } })).json()).toMatchObject({ risk_category: 'threat' });
      expect((await app.inject({ method: 'GET', url: '/openapi.json' })).statusCode).toBe(200);
    } finally {
      await screen.close();
      await app.close();
      await bus.close();
    }
  });
});
