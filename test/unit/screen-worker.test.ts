import { describe, expect, it } from 'vitest';
import { PermanentError } from '../../src/common/errors.js';
import { STREAM_SCHEMA_VERSION, type Event, type RiskPrediction } from '../../src/models/index.js';
import { contentKey, windowBucket } from '../../src/screen/author.js';
import { createScreenMetrics } from '../../src/screen/metrics.js';
import { RecentVectorsEmbedder, eventFromInput, parseRawEntry, routeFor, routeStream, type ScreenFn } from '../../src/screen/worker.js';
import { formatExplanation } from '../../src/cli/commands/explain.js';
import { screenLines, summary, tableWriter, type LineResult } from '../../src/cli/commands/screen.js';
import { streamNames } from '../../src/stream/keys.js';

const ev: Event = {
  event_id: 'e1',
  event_type: 'message_created',
  platform: 'discord',
  channel_id: 'c',
  user_id: 'u',
  author_id: 'a',
  content: 'hello',
  created_at: '2026-01-01T00:00:00.000Z',
  metadata: {},
};

function pred(event: Event, score: number): RiskPrediction {
  return {
    event_id: event.event_id,
    risk_score: score,
    risk_level: score >= 0.7 ? 'HIGH' : 'LOW',
    risk_category: score >= 0.7 ? 'threat' : 'low_risk',
    confidence: 0.5,
    flags: score >= 0.7 ? ['threat_language'] : [],
    details: {
      signals: {
        threat_language: { value: 1, weight: 0.6, contribution: score >= 0.7 ? 0.6 : 0, category: 'threat', evidence: ['hurt you'] },
        caps: { value: 0.1, weight: 0.1, contribution: 0.01 },
      },
      neighbors: [{ id: 'ex-1', label: 'threat', similarity: 0.83, source: 'exemplar', text: 'i will hurt you' }],
      category_scores: { threat: score, low_risk: 1 - score },
      thresholds: { screening: 0.7, medium: 0.4, high: 0.7 },
      reason: score >= 0.7 ? 'threat language ("hurt you")' : 'no risk signals',
    },
    screening_time_ms: 0.42,
    model_version: 'test-model',
    policy_fingerprint: 'fp123',
  };
}

const scorer: ScreenFn = {
  modelId: 't',
  dim: 4,
  device: 'cpu',
  fingerprint: 'fp',
  async screenBatch(items) {
    if (items.some((i) => i.event.content.includes('BOOM')) && items.length > 1) throw new PermanentError('RP_ERR_INTERNAL', 'boom');
    return items.map((i) => {
      if (i.event.content.includes('BOOM')) throw new PermanentError('RP_ERR_INTERNAL', 'boom');
      return pred(i.event, i.event.content.includes('hurt') ? 0.9 : 0.1);
    });
  },
};

describe('parseRawEntry', () => {
  const fields = { v: STREAM_SCHEMA_VERSION, event_id: 'e1', event: JSON.stringify(ev), ingested_at: 'x', batch_id: 'b', traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' };

  it('returns the event, its JSON unchanged, and the traceparent', () => {
    const p = parseRawEntry(fields);
    expect(p.event).toEqual(ev);
    expect(p.eventJson).toBe(fields.event);
    expect(p.traceparent).toBe(fields.traceparent);
  });

  it('makes a traceparent when the entry has none', () => {
    expect(parseRawEntry({ v: STREAM_SCHEMA_VERSION, event: fields.event }).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it.each([
    [{ ...fields, v: '2' }, 'RP_ERR_SCHEMA_VERSION'],
    [{ event: fields.event }, 'RP_ERR_SCHEMA_VERSION'],
    [{ v: STREAM_SCHEMA_VERSION }, 'RP_ERR_POISON_ENTRY'],
    [{ ...fields, event: 'not json' }, 'RP_ERR_POISON_ENTRY'],
    [{ ...fields, event: JSON.stringify({ ...ev, content: '' }) }, 'RP_ERR_POISON_ENTRY'],
    [{ ...fields, event: '[]' }, 'RP_ERR_POISON_ENTRY'],
  ])('rejects %j for good with %s', (f, code) => {
    let err: unknown;
    try {
      parseRawEntry(f as Record<string, string>);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe(code);
    expect((err as PermanentError).retryable).toBe(false);
  });
});

describe('eventFromInput', () => {
  it('fills defaults around {"content"} and generates an id', () => {
    const r = eventFromInput({ content: ' hi ' }, () => 'gen-1');
    expect(r.ok && r.event).toMatchObject({ event_id: 'gen-1', content: 'hi', platform: 'web_chat', event_type: 'message_created', user_id: 'anonymous', author_id: 'anonymous', channel_id: null, metadata: {} });
  });
  it('keeps given fields and uses the author as user when only one is given', () => {
    const r = eventFromInput({ content: 'x', event_id: 'mine', author_id: 'bob', platform: 'SLACK', user_id: null });
    expect(r.ok && r.event).toMatchObject({ event_id: 'mine', author_id: 'bob', user_id: 'bob', platform: 'slack' });
  });
  it('names the content field when it is missing, empty or too long', () => {
    for (const input of [{}, { content: '' }, { content: 'x'.repeat(10_001) }]) {
      const r = eventFromInput(input);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.errors.map((e) => e.path)).toEqual(['content']);
    }
  });
  it('rejects non-objects', () => {
    expect(eventFromInput('text').ok).toBe(false);
    expect(eventFromInput([1]).ok).toBe(false);
  });
});

describe('routing', () => {
  it('routes at or above the threshold to the reasoning queue', () => {
    expect(routeFor(0.7, 0.7)).toBe('reasoning_queue');
    expect(routeFor(0.6999, 0.7)).toBe('low_risk');
    const s = streamNames('t:');
    expect(routeStream('reasoning_queue', s)).toBe('t:events:reasoning_queue');
    expect(routeStream('low_risk', s)).toBe('t:events:low_risk');
  });
});

describe('author keys', () => {
  it('buckets by created_at, falling back to now for future or unreadable times', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(windowBucket('2026-01-01T00:00:30Z', 60, now)).toBe(Math.floor(Date.parse('2026-01-01T00:00:30Z') / 60_000));
    expect(windowBucket('2030-01-01T00:00:00Z', 60, now)).toBe(Math.floor(now / 60_000));
    expect(windowBucket('garbage', 60, now)).toBe(Math.floor(now / 60_000));
  });
  it('treats case and white space as the same content', () => {
    expect(contentKey('Buy  NOW ')).toBe(contentKey('buy now'));
    expect(contentKey('buy now')).not.toBe(contentKey('buy later'));
  });
});

describe('metrics', () => {
  it('keeps plain counts next to the Prometheus ones', async () => {
    const m = createScreenMetrics();
    m.routed(new Map([['reasoning_queue|threat', 2], ['low_risk|low_risk', 5]]));
    m.deadlettered('RP_ERR_POISON_ENTRY', 2);
    m.claimed(3);
    expect(m.snapshot()).toMatchObject({ routed: { reasoning_queue: 2, low_risk: 5 }, deadlettered: 2, claimed: 3, deadlettered_by_code: { RP_ERR_POISON_ENTRY: 2 } });
    expect(m.snapshot().categories).toMatchObject({ threat: 2, low_risk: 5, spam: 0 });
    const text = await m.registry.metrics();
    expect(text).toContain('riskpipe_screen_events_total{route="reasoning_queue",category="threat"} 2');
  });
});

describe('riskpipe screen (scoring lines)', () => {
  it('keeps input order, reports bad lines by number and scores the rest', async () => {
    const lines = [
      JSON.stringify({ event_id: 'a', content: 'hello there' }),
      '{not json',
      '',
      JSON.stringify({ content: 'I will hurt you' }),
      JSON.stringify({ event_id: 'bad', content: '' }),
      JSON.stringify({ event_id: 'boom', content: 'BOOM' }),
      JSON.stringify({ ...ev, event_id: 'full' }),
    ];
    const out: LineResult[] = [];
    const res = await screenLines(lines, scorer, { threshold: 0.7, streams: streamNames('p:'), chunkSize: 3, emit: (r) => out.push(r) });
    expect(res).toEqual({ scored: 3, failed: 3 });
    expect(out.map((r) => r.line)).toEqual([1, 2, 4, 5, 6, 7]);
    expect(out.map((r) => r.ok)).toEqual([true, false, true, false, false, true]);
    const first = out[0] as Extract<LineResult, { ok: true }>;
    expect(summary(first)).toEqual({ line: 1, event_id: 'a', risk_score: 0.1, risk_level: 'LOW', risk_category: 'low_risk', flags: [], routed_to: 'p:events:low_risk', reason: 'no risk signals' });
    const threat = out[2] as Extract<LineResult, { ok: true }>;
    expect(threat.routedTo).toBe('p:events:reasoning_queue');
    expect(threat.event.event_id).toMatch(/^line-4-/);
    expect(out[1]).toMatchObject({ ok: false, error: expect.stringMatching(/not valid JSON/) });
    expect(out[3]).toMatchObject({ ok: false, eventId: 'bad', errors: [{ path: 'content', message: 'Content too short (min: 1)' }] });
    expect(out[4]).toMatchObject({ ok: false, eventId: 'boom', error: 'scoring failed: boom' });

    let text = '';
    const table = tableWriter((s) => (text += s));
    out.forEach(table);
    expect(text.split('\n')[0]).toMatch(/^LINE\s+EVENT_ID\s+SCORE\s+LEVEL\s+CATEGORY\s+ROUTED_TO$/);
    expect(text).toContain('threat language ("hurt you")');
    expect(text).toMatch(/2\s+-\s+ERROR/);
  });
});

describe('riskpipe explain (formatting)', () => {
  it('shows every part of the verdict', () => {
    const p = pred({ ...ev, content: 'I will hurt you' }, 0.9);
    const text = formatExplanation({ event: { ...ev, content: 'I will hurt you' }, prediction: p, threshold: 0.7, routed_to: 'events:reasoning_queue' });
    for (const s of ['HIGH threat', 'score 0.900', 'events:reasoning_queue', 'threat_language', '0.600', 'threat: hurt you', 'Category scores', 'ex-1', 'exemplar', '0.830', 'screening 0.70', 'fp123', 'test-model']) {
      expect(text).toContain(s);
    }
    // Signals by contribution, largest first.
    expect(text.indexOf('threat_language')).toBeLessThan(text.indexOf('caps'));
  });
});

describe('screen-worker settings', () => {
  it('defaults, then environment, then flags', async () => {
    const { screenWorkerSettings } = await import('../../src/cli/commands/screen-worker.js');
    const { resolveSettings } = await import('../../src/cli/settings.js');
    const d = resolveSettings(screenWorkerSettings, {}, {});
    expect(d).toMatchObject({ port: 8002, claimIdleMs: 30_000, maxDeliveries: 5, batchSize: 64, blockMs: 2000, embedder: 'hash', threshold: undefined, consumer: undefined, trimIntervalMs: 0, apiKeys: [] });
    const e = resolveSettings(
      screenWorkerSettings,
      { batchSize: '128' },
      { RISKPIPE_SCREEN_PORT: '9002', RISKPIPE_CLAIM_IDLE_MS: '500', RISKPIPE_MAX_DELIVERIES: '3', RISKPIPE_BATCH_SIZE: '16', SCREENING_THRESHOLD: '0.55', RISKPIPE_EMBEDDER: 'onnx', RISKPIPE_MODEL_DIR: '/models/e5', RISKPIPE_API_KEYS: 'k1-12345678, k2-12345678' },
    );
    expect(e).toMatchObject({ port: 9002, claimIdleMs: 500, maxDeliveries: 3, batchSize: 128, threshold: 0.55, embedder: 'onnx', modelDir: '/models/e5', apiKeys: ['k1-12345678', 'k2-12345678'] });
  });

  it('reports every bad setting with where it came from', async () => {
    const { screenWorkerSettings } = await import('../../src/cli/commands/screen-worker.js');
    const { resolveSettings } = await import('../../src/cli/settings.js');
    let err: { errors?: { path: string; message: string }[] } | undefined;
    try {
      resolveSettings(screenWorkerSettings, { embedder: 'bert', consumer: 'has space' }, { SCREENING_THRESHOLD: '1.5' });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.errors?.map((p) => p.path)).toEqual(['embedder (--embedder / RISKPIPE_EMBEDDER)', 'threshold (--threshold / SCREENING_THRESHOLD)', 'consumer (--consumer / RISKPIPE_CONSUMER)']);
  });
});

describe('RecentVectorsEmbedder', () => {
  it('embeds each new text once, serves repeats from memory, forgets the oldest past capacity', async () => {
    const calls: string[][] = [];
    const inner = {
      id: 'inner',
      dim: 1,
      device: 'cpu',
      embed: async (texts: string[]) => {
        calls.push(texts);
        return texts.map((t) => Float32Array.of(t.length));
      },
      close: async () => undefined,
    };
    const e = new RecentVectorsEmbedder(inner, 3);
    expect(e.id).toBe('inner');
    const a = await e.embed(['a', 'bb', 'a']);
    expect(a.map((v) => v[0])).toEqual([1, 2, 1]);
    expect(calls).toEqual([['a', 'bb']]);
    await e.embed(['bb']);
    expect(calls).toHaveLength(1);
    await e.embed(['ccc', 'dddd']); // capacity 3: "a" is forgotten
    await e.embed(['a', 'dddd']);
    expect(calls.at(-1)).toEqual(['a']);
  });
});
