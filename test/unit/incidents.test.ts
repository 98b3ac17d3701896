import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { retryAfterMs } from '../../src/common/http-client.js';
import { RemoteEmbedder } from '../../src/embed/remote.js';
import { OpenAIIncidentProvider, RulesIncidentProvider, rulesIncidents } from '../../src/index/incidents/index.js';
import { findSpan } from '../../src/index/incidents/evidence.js';
import { Incident } from '../../src/models/index.js';
import { escalated } from '../fakes/escalated.js';
import { chatAnswer, embeddingsReply, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai-server.js';

const CHAT = '/v1/chat/completions';

describe('rules incident provider', () => {
  it('cites the verbatim span a threat phrase matched, aimed at the mentioned user', () => {
    const content = '@mike You better WATCH your back, I will find you and hurt you.';
    const { event, prediction } = escalated('r1', { content, evidence: ['threat phrase "you better watch your back"', 'threat phrase "watch your back"'] });
    const [inc, ...rest] = rulesIncidents({ event, prediction });
    expect(rest).toEqual([]);
    expect(Incident.parse(inc)).toEqual(inc);
    expect(inc).toMatchObject({ type: 'threat', target: '@mike', severity: 'critical', evidence: 'You better WATCH your back' });
    expect(content).toContain(inc.evidence);
    expect(inc.description).toMatch(/Threat.*watch your back/);
  });

  it('makes one incident per rule signal that found something', () => {
    const { event, prediction } = escalated('r2', { content: 'I will hurt you. Free nitro at bit.ly/x', evidence: ['threat phrase "i will hurt you"'] });
    prediction.details.signals.spam = { value: 0.77, weight: 1, contribution: 0, category: 'spam', evidence: ['giveaway bait "free nitro"', 'url shortener "bit.ly"'] };
    prediction.details.signals.hate = { value: 0, weight: 1, contribution: 0, category: 'hate_speech', evidence: [] };
    const incidents = rulesIncidents({ event, prediction });
    expect(incidents.map((i) => [i.type, i.evidence])).toEqual([
      ['threat', 'I will hurt you'],
      ['spam', 'Free nitro'],
    ]);
  });

  it('finds phrases again through obfuscating punctuation', () => {
    expect(findSpan('go k.i.l.l yourself now', 'kill yourself')).toBe('k.i.l.l yourself');
    expect(findSpan('hello there', 'absent phrase')).toBeUndefined();
  });

  it('targets the author for self-harm, and falls back to the closest sentence without rule evidence', () => {
    const { event, prediction } = escalated('r3', { content: 'Long day. nobody would miss me if i was gone', category: 'self_harm' });
    prediction.details.signals = {};
    prediction.details.neighbors = [{ id: 'sh-1', label: 'self_harm', similarity: 0.8, source: 'exemplar', text: 'nobody would miss me' }];
    const [inc] = rulesIncidents({ event, prediction });
    expect(inc).toMatchObject({ type: 'self_harm', target: 'self', evidence: 'nobody would miss me if i was gone' });
  });

  it('is deterministic and never fails an event', async () => {
    const items = [escalated('r4'), escalated('r5', { category: 'spam', level: 'MEDIUM' })];
    const p = new RulesIncidentProvider();
    expect(await p.generate(items)).toEqual(await p.generate(items));
    expect((await p.generate(items)).every(Array.isArray)).toBe(true);
  });
});

describe('retry-after', () => {
  it('reads seconds and HTTP dates', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe('openai incident provider against a local OpenAI-compatible server', () => {
  let srv: FakeOpenAI;
  const waits: number[] = [];
  const sleep = async (ms: number) => void waits.push(ms);
  const content = 'you better watch your back, I know where you live';
  const item = () => escalated('o1', { content });
  const good = JSON.stringify({
    incidents: [{ type: 'threat', description: 'Veiled threat against the reader', target: 'reader', severity: 'high', confidence: 0.9, evidence: 'watch your back' }],
  });
  const provider = (over: Partial<ConstructorParameters<typeof OpenAIIncidentProvider>[0]> = {}) =>
    new OpenAIIncidentProvider({ baseUrl: srv.baseUrl, model: 'test-model', apiKey: 'sk-test-123', timeoutMs: 300, maxRetries: 2, baseDelayMs: 10, sleep, ...over });

  beforeAll(async () => void (srv = await startFakeOpenAI()));
  afterAll(() => srv.close());
  beforeEach(() => {
    srv.requests.length = 0;
    waits.length = 0;
    srv.setDefault(CHAT, { body: chatAnswer(good) });
  });

  it('asks with JSON-schema structured output and returns validated incidents', async () => {
    const [got] = await provider().generate([item()]);
    expect(got).toEqual([{ type: 'threat', description: 'Veiled threat against the reader', target: 'reader', severity: 'high', confidence: 0.9, evidence: 'watch your back' }]);
    const req = srv.requests[0];
    expect(req.path).toBe(CHAT);
    expect(req.headers.authorization).toBe('Bearer sk-test-123');
    expect(req.body.model).toBe('test-model');
    expect(req.body.response_format.type).toBe('json_schema');
    expect(req.body.response_format.json_schema.strict).toBe(true);
    expect(req.body.response_format.json_schema.schema.properties.incidents.items.required).toContain('evidence');
    expect(JSON.parse(req.body.messages[1].content).message).toBe(content);
  });

  it('retries a 429 after the Retry-After it was given, then succeeds', async () => {
    srv.script(CHAT, { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'Rate limit reached' } } });
    const [got] = await provider().generate([item()]);
    expect(Array.isArray(got)).toBe(true);
    expect(srv.requests).toHaveLength(2);
    expect(waits).toEqual([1000]);
  });

  it('retries 5xx answers with backoff and gives up with a retryable error', async () => {
    srv.script(CHAT, { status: 500, body: {} }, { status: 502, body: {} }, { status: 503, body: {} });
    const [got] = await provider().generate([item()]);
    expect(got).toBeInstanceOf(RiskpipeError);
    expect((got as RiskpipeError).code).toBe('RP_ERR_UPSTREAM_UNAVAILABLE');
    expect((got as RiskpipeError).retryable).toBe(true);
    expect((got as Error).message).toMatch(/503.*after 3 attempts/);
    expect(srv.requests).toHaveLength(3);
    expect(waits).toHaveLength(2);
  });

  it('times out a request that hangs, and retries it', async () => {
    srv.script(CHAT, { delayMs: 2000, body: chatAnswer(good) });
    const [got] = await provider().generate([item()]);
    expect(Array.isArray(got)).toBe(true);
    expect(srv.requests).toHaveLength(2);
  });

  it('reports a timeout on every attempt as unavailable', async () => {
    srv.script(CHAT, { delayMs: 2000 }, { delayMs: 2000 }, { delayMs: 2000 });
    const [got] = await provider().generate([item()]);
    expect((got as RiskpipeError).code).toBe('RP_ERR_UPSTREAM_UNAVAILABLE');
    expect((got as Error).message).toMatch(/did not answer within 300 ms/);
  });

  it('gives up at once when Retry-After is longer than allowed', async () => {
    srv.script(CHAT, { status: 429, headers: { 'retry-after': '3600' }, body: {} });
    const [got] = await provider().generate([item()]);
    expect((got as Error).message).toMatch(/3600000 ms/);
    expect(srv.requests).toHaveLength(1);
  });

  it.each([
    ['content that is not JSON', chatAnswer('Sure! Here are the incidents: threat.')],
    ['JSON outside the schema', chatAnswer(JSON.stringify({ incidents: [{ type: 'murder', description: 'x', target: null, severity: 'high', confidence: 2, evidence: 'x' }] }))],
    ['a missing list', chatAnswer(JSON.stringify({ result: [] }))],
    ['evidence that is not in the message', chatAnswer(JSON.stringify({ incidents: [{ type: 'threat', description: 'd', target: null, severity: 'high', confidence: 0.5, evidence: 'I will kill you' }] }))],
    ['a truncated answer', chatAnswer(good.slice(0, 40), 'length')],
    ['a body that is no chat completion', { hello: 'world' }],
  ])('treats %s as an error, never as no incidents', async (_what, body) => {
    srv.script(CHAT, { body });
    const [got] = await provider().generate([item()]);
    expect(got).toBeInstanceOf(RiskpipeError);
    expect((got as RiskpipeError).code).toBe('RP_ERR_UPSTREAM_INVALID');
    expect((got as RiskpipeError).retryable).toBe(true);
  });

  it('treats a non-JSON 200 body as invalid', async () => {
    srv.script(CHAT, { raw: '<html>gateway</html>' });
    const [got] = await provider().generate([item()]);
    expect((got as RiskpipeError).code).toBe('RP_ERR_UPSTREAM_INVALID');
  });

  it('does not retry a 401 (the request itself is wrong) and says so', async () => {
    srv.script(CHAT, { status: 401, body: { error: { message: 'Incorrect API key' } } });
    const [got] = await provider().generate([item()]);
    expect((got as RiskpipeError).code).toBe('RP_ERR_UPSTREAM_REJECTED');
    expect((got as RiskpipeError).retryable).toBe(false);
    expect(srv.requests).toHaveLength(1);
  });

  it('fails only the events whose answer was bad', async () => {
    srv.script(CHAT, { body: chatAnswer('garbage') });
    const got = await provider({ concurrency: 1 }).generate([item(), item()]);
    expect(got[0]).toBeInstanceOf(Error);
    expect(Array.isArray(got[1])).toBe(true);
  });

  it('accepts an empty list when the model says there is no incident', async () => {
    srv.script(CHAT, { body: chatAnswer('{"incidents": []}') });
    expect(await provider().generate([item()])).toEqual([[]]);
  });
});

describe('remote embedder against a local OpenAI-compatible server', () => {
  let srv: FakeOpenAI;
  beforeAll(async () => {
    srv = await startFakeOpenAI();
    srv.setDefault('/v1/embeddings', embeddingsReply(12));
  });
  afterAll(() => srv.close());

  it('finds the dimension, batches, keeps order and normalises', async () => {
    const e = await RemoteEmbedder.connect({ baseUrl: srv.baseUrl, model: 'emb-test', batchSize: 2 });
    expect(e.dim).toBe(12);
    expect(e.id).toBe('openai-embeddings:emb-test');
    srv.requests.length = 0;
    const texts = ['alpha', 'beta', 'gamma'];
    const out = await e.embed(texts);
    expect(out).toHaveLength(3);
    expect(srv.requests.map((r) => r.body.input)).toEqual([['alpha', 'beta'], ['gamma']]);
    for (const v of out) expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    expect(out[0]).not.toEqual(out[1]);
  });

  it('orders vectors by their index field', async () => {
    srv.script('/v1/embeddings', {
      body: { data: [{ index: 1, embedding: [0, 1] }, { index: 0, embedding: [1, 0] }] },
    });
    const e = await RemoteEmbedder.connect({ baseUrl: srv.baseUrl, model: 'm', dim: 2 });
    const [a, b] = await e.embed(['first', 'second']);
    expect(Array.from(a)).toEqual([1, 0]);
    expect(Array.from(b)).toEqual([0, 1]);
  });

  it('rejects answers of the wrong size or count, and retries 503', async () => {
    const e = await RemoteEmbedder.connect({ baseUrl: srv.baseUrl, model: 'm', dim: 12, baseDelayMs: 1 });
    srv.script('/v1/embeddings', { body: { data: [{ index: 0, embedding: [1, 2, 3] }] } });
    await expect(e.embed(['x'])).rejects.toThrow(/3-dimensional vector, expected 12/);
    srv.script('/v1/embeddings', { body: { data: [] } });
    await expect(e.embed(['x'])).rejects.toThrow(/0 vectors for 1 texts/);
    srv.script('/v1/embeddings', { status: 503, body: {} });
    expect(await e.embed(['x'])).toHaveLength(1);
  });
});
