import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashEmbedder } from '../../src/embed/hash.js';
import { DiskEventIndex } from '../../src/vector/disk-index.js';
import { pointId, type EventIndex, type EventPayload } from '../../src/vector/event-index.js';
import { QdrantEventIndex } from '../../src/vector/qdrant.js';
import { startFakeQdrant, type FakeQdrant } from '../fakes/qdrant-server.js';

/*
 * One conformance suite for every EventIndex backend: the embedded on-disk index and Qdrant (here
 * against a local server speaking Qdrant's REST API for the calls the backend makes).
 */

const DIM = 64;
const embedder = new HashEmbedder({ dim: DIM });
const embed = async (t: string) => (await embedder.embed([t]))[0];

function payload(id: string, content: string, over: Partial<EventPayload> = {}): EventPayload {
  return {
    event_id: id,
    platform: 'discord',
    channel_id: 'general',
    author_id: 'a1',
    risk_category: 'threat',
    risk_level: 'HIGH',
    risk_score: 0.9,
    flags: ['threat_language'],
    created_at: '2026-11-01T00:00:00.000Z',
    content,
    ...over,
  };
}

const CORPUS: [string, string, Partial<EventPayload>][] = [
  ['e1', 'I will find you and hurt you', {}],
  ['e2', 'i will find you and hurt you tomorrow', { platform: 'slack', created_at: '2026-11-20T00:00:00.000Z' }],
  ['e3', 'free nitro at discord-gift.xyz claim now', { risk_category: 'spam', risk_level: 'MEDIUM', risk_score: 0.75, flags: ['spam_links'] }],
  ['e4', 'buy cheap followers at promo.example', { risk_category: 'spam', risk_level: 'MEDIUM', platform: 'twitch', created_at: '2026-11-25T00:00:00.000Z' }],
  ['e5', 'nobody would miss me if i was gone', { risk_category: 'self_harm', author_id: 'a2', channel_id: 'vent' }],
];

interface Backend {
  name: string;
  make(dim?: number): EventIndex;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
}

let fake: FakeQdrant;
let dir: string;
const backends: Backend[] = [
  {
    name: 'embedded',
    make: (dim = DIM) => new DiskEventIndex({ dir: join(dir, 'events'), dim }),
    setup: async () => void (dir = mkdtempSync(join(tmpdir(), 'rp-event-index-'))),
    teardown: async () => rmSync(dir, { recursive: true, force: true }),
  },
  {
    name: 'qdrant',
    make: (dim = DIM) => new QdrantEventIndex({ url: fake.url, collection: 'events_test', dim }),
    setup: async () => void (fake = await startFakeQdrant()),
    teardown: () => fake.close(),
  },
];

describe.each(backends)('event index conformance: $name', (backend) => {
  let index: EventIndex;
  beforeAll(async () => {
    await backend.setup?.();
    index = backend.make();
  });
  afterAll(async () => {
    await index.close();
    await backend.teardown?.();
  });

  it('opens as created the first time', async () => {
    expect(await index.open()).toEqual({ created: true });
    expect(await index.count()).toBe(0);
    expect(await index.search(await embed('anything'), { k: 5 })).toEqual([]);
  });

  it('upserts and finds the nearest first, with its payload', async () => {
    await index.upsert(await Promise.all(CORPUS.map(async ([id, text, over]) => ({ vector: await embed(text), payload: payload(id, text, over) }))));
    expect(await index.count()).toBe(5);
    const hits = await index.search(await embed('I will find you and hurt you'), { k: 3 });
    expect(hits[0].event_id).toBe('e1');
    expect(hits[0].score).toBeCloseTo(1, 4);
    expect(hits[1].event_id).toBe('e2');
    expect(hits[0].payload).toEqual(payload('e1', 'I will find you and hurt you'));
    expect(hits.length).toBe(3);
    expect(hits[0].score).toBeGreaterThanOrEqual(hits[1].score);
  });

  it('upserting the same event again replaces it instead of adding one', async () => {
    const text = 'I will find you and hurt you';
    await index.upsert([{ vector: await embed(text), payload: payload('e1', text, { risk_level: 'MEDIUM' }) }]);
    await index.upsert([{ vector: await embed(text), payload: payload('e1', text, { risk_level: 'MEDIUM' }) }]);
    expect(await index.count()).toBe(5);
    const hits = await index.search(await embed(text), { k: 10 });
    expect(hits.filter((h) => h.event_id === 'e1')).toHaveLength(1);
    expect(hits.find((h) => h.event_id === 'e1')!.payload.risk_level).toBe('MEDIUM');
  });

  it('filters by platform, category, level, author, channel and time', async () => {
    const q = await embed('i will find you and hurt you');
    const ids = async (filter: Parameters<EventIndex['search']>[1]['filter']) => (await index.search(q, { k: 10, filter })).map((h) => h.event_id).sort();
    expect(await ids({ platform: 'slack' })).toEqual(['e2']);
    expect(await ids({ platform: ['slack', 'twitch'] })).toEqual(['e2', 'e4']);
    expect(await ids({ risk_category: 'spam' })).toEqual(['e3', 'e4']);
    expect(await ids({ risk_category: 'spam', platform: 'discord' })).toEqual(['e3']);
    expect(await ids({ risk_level: 'HIGH' })).toEqual(['e2', 'e5']);
    expect(await ids({ author_id: 'a2' })).toEqual(['e5']);
    expect(await ids({ channel_id: 'vent' })).toEqual(['e5']);
    expect(await ids({ since: '2026-11-15T00:00:00Z' })).toEqual(['e2', 'e4']);
    expect(await ids({ since: '2026-11-15T00:00:00Z', until: '2026-11-22T00:00:00Z' })).toEqual(['e2']);
    expect(await ids({ platform: 'reddit' })).toEqual([]);
  });

  it('honours k', async () => {
    expect(await index.search(await embed('hurt'), { k: 2 })).toHaveLength(2);
    expect(await index.search(await embed('hurt'), { k: 0 })).toEqual([]);
  });

  it('removes by event id', async () => {
    await index.remove(['e5', 'never-indexed']);
    expect(await index.count()).toBe(4);
    expect((await index.search(await embed('nobody would miss me'), { k: 10 })).map((h) => h.event_id)).not.toContain('e5');
  });

  it('keeps what it holds across a reopen, and opens as not created', async () => {
    await index.close();
    index = backend.make();
    expect(await index.open()).toEqual({ created: false });
    expect(await index.count()).toBe(4);
    expect((await index.search(await embed('free nitro at discord-gift.xyz claim now'), { k: 1 }))[0].event_id).toBe('e3');
  });

  it('refuses to open what holds another dimension, with a clear message', async () => {
    const other = backend.make(DIM * 2);
    await expect(other.open()).rejects.toThrow(/64-dimensional.*makes 128/);
    await other.close();
  });

  it('refuses a vector of the wrong size', async () => {
    await expect(index.upsert([{ vector: new Float32Array(3), payload: payload('bad', 'x') }])).rejects.toThrow(/dimensions/);
  });

  it('answers ping while it is reachable', async () => {
    await expect(index.ping()).resolves.toBeUndefined();
  });
});

describe('pointId', () => {
  it('is a stable UUID per event id', () => {
    expect(pointId('evt-1')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(pointId('evt-1')).toBe(pointId('evt-1'));
    expect(pointId('evt-1')).not.toBe(pointId('evt-2'));
  });
});

describe('embedded index on disk', () => {
  it('ignores a torn last line and a payload whose vector never reached the file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rp-event-index-torn-'));
    try {
      const idx = new DiskEventIndex({ dir: d, dim: DIM });
      await idx.open();
      await idx.upsert([{ vector: await embed('one'), payload: payload('one', 'one') }]);
      await idx.close();
      // A killed process: a line pointing past the vectors file, and half a line.
      appendFileSync(join(d, 'docs.jsonl'), `${JSON.stringify({ r: 7, p: payload('ghost', 'ghost') })}\n{"r": 1, "p": {"event_`);
      const again = new DiskEventIndex({ dir: d, dim: DIM });
      await again.open();
      expect(await again.count()).toBe(1);
      await again.upsert([{ vector: await embed('two'), payload: payload('two', 'two') }]);
      expect((await again.search(await embed('two'), { k: 1 }))[0].event_id).toBe('two');
      await again.close();
      const third = new DiskEventIndex({ dir: d, dim: DIM });
      await third.open();
      expect(await third.count()).toBe(2);
      await third.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('opens an index of 250,000 events (its row count is found without spreading every row into Math.max)', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rp-event-index-big-'));
    try {
      const n = 250_000;
      const dim = 2;
      // The files as upserts leave them, written directly: a unit vector per row, a payload line per row.
      writeFileSync(join(d, 'meta.json'), JSON.stringify({ format: 1, dim, created_at: '2026-12-01T00:00:00.000Z' }));
      const vectors = new Float32Array(n * dim);
      const lines: string[] = new Array(n);
      for (let r = 0; r < n; r++) {
        vectors[r * dim] = Math.cos(r);
        vectors[r * dim + 1] = Math.sin(r);
        lines[r] = JSON.stringify({ r, p: payload(`big-${r}`, `message ${r}`) });
      }
      writeFileSync(join(d, 'vectors.f32'), Buffer.from(vectors.buffer));
      writeFileSync(join(d, 'docs.jsonl'), lines.join('\n') + '\n');
      const idx = new DiskEventIndex({ dir: d, dim });
      await idx.open();
      expect(await idx.count()).toBe(n);
      const [hit] = await idx.search(new Float32Array([Math.cos(n - 1), Math.sin(n - 1)]), { k: 1 });
      expect(hit.score).toBeCloseTo(1, 5);
      await idx.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('compacts a log that is mostly superseded lines when it opens', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rp-event-index-compact-'));
    try {
      const idx = new DiskEventIndex({ dir: d, dim: DIM });
      await idx.open();
      const v = await embed('same');
      for (let i = 0; i < 1200; i++) await idx.upsert([{ vector: v, payload: payload('same', `same ${i}`) }]);
      await idx.close();
      expect(readFileSync(join(d, 'docs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1200);
      const again = new DiskEventIndex({ dir: d, dim: DIM });
      await again.open();
      expect(readFileSync(join(d, 'docs.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
      expect((await again.search(v, { k: 1 }))[0].payload.content).toBe('same 1199');
      await again.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('searches a broad and a selective filter over many rows exactly', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rp-event-index-many-'));
    try {
      const idx = new DiskEventIndex({ dir: d, dim: 8 });
      await idx.open();
      const rnd = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
      const r = rnd(7);
      const docs = Array.from({ length: 3000 }, (_, i) => ({
        vector: Float32Array.from({ length: 8 }, r),
        payload: payload(`m${i}`, `m${i}`, { platform: i % 10 === 0 ? 'slack' : 'discord' }),
      }));
      await idx.upsert(docs);
      const q = Float32Array.from({ length: 8 }, r);
      const brute = (keep: (i: number) => boolean) =>
        docs
          .map((doc, i) => ({ i, s: cos(doc.vector, q) }))
          .filter(({ i }) => keep(i))
          .sort((a, b) => b.s - a.s)
          .slice(0, 5)
          .map(({ i }) => `m${i}`);
      expect((await idx.search(q, { k: 5, filter: { platform: 'discord' } })).map((h) => h.event_id)).toEqual(brute((i) => i % 10 !== 0));
      expect((await idx.search(q, { k: 5, filter: { platform: 'slack' } })).map((h) => h.event_id)).toEqual(brute((i) => i % 10 === 0));
      expect((await idx.search(q, { k: 5 })).map((h) => h.event_id)).toEqual(brute(() => true));
      await idx.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('qdrant backend specifics', () => {
  let q: FakeQdrant;
  beforeAll(async () => void (q = await startFakeQdrant()));
  afterAll(() => q.close());

  it('creates the collection with the dimension, cosine distance and payload indexes', async () => {
    const idx = new QdrantEventIndex({ url: q.url, collection: 'c1', dim: 16 });
    await idx.open();
    const col = q.collections.get('c1')!;
    expect(col).toMatchObject({ size: 16, distance: 'Cosine' });
    expect(Object.fromEntries(col.indexes)).toEqual({
      platform: 'keyword',
      risk_category: 'keyword',
      risk_level: 'keyword',
      channel_id: 'keyword',
      author_id: 'keyword',
      created_at_ms: 'integer',
    });
  });

  it('stores points under the id derived from the event id', async () => {
    const idx = new QdrantEventIndex({ url: q.url, collection: 'c1', dim: 16 });
    await idx.upsert([{ vector: new Float32Array(16).fill(0.25), payload: payload('evt-x', 'x') }]);
    expect([...q.collections.get('c1')!.points.keys()]).toEqual([pointId('evt-x')]);
    expect(q.collections.get('c1')!.points.get(pointId('evt-x'))!.payload.created_at_ms).toBe(Date.parse('2026-11-01T00:00:00.000Z'));
  });

  it('surfaces a server error to the caller (the stage retries the entry)', async () => {
    const idx = new QdrantEventIndex({ url: q.url, collection: 'c1', dim: 16 });
    q.failNext(503);
    await expect(idx.upsert([{ vector: new Float32Array(16).fill(0.1), payload: payload('evt-y', 'y') }])).rejects.toThrow();
  });

  it('fails when the server is gone', async () => {
    const idx = new QdrantEventIndex({ url: 'http://127.0.0.1:1', collection: 'c1', dim: 16, timeoutMs: 500 });
    await expect(idx.ping()).rejects.toThrow();
  });
});

function cos(a: Float32Array, b: Float32Array): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

describe('embedded index lock', () => {
  it('refuses a second open of the same directory while the first holds it', async () => {
    const d = mkdtempSync(join(tmpdir(), 'rp-event-index-lock-'));
    try {
      const a = new DiskEventIndex({ dir: d, dim: DIM });
      await a.open();
      // A live process other than this one holds it (the parent of this test process).
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(d, 'LOCK'), String(process.ppid));
      const b = new DiskEventIndex({ dir: d, dim: DIM });
      await expect(b.open()).rejects.toThrow(/in use by process .*Qdrant/);
      await a.close();
      // A lock left by a killed process is taken over.
      writeFileSync(join(d, 'LOCK'), '999999999');
      const c = new DiskEventIndex({ dir: d, dim: DIM });
      await c.open();
      await c.close();
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
