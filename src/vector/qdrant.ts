import { QdrantClient } from '@qdrant/js-client-rest';
import { PermanentError, RiskpipeError } from '../common/errors.js';
import { pointId, type EventDoc, type EventFilter, type EventHit, type EventIndex, type EventPayload } from './event-index.js';

export interface QdrantEventIndexOptions {
  /** e.g. http://127.0.0.1:6333 */
  url: string;
  apiKey?: string;
  /** Default "riskpipe_events". */
  collection?: string;
  dim: number;
  /** A request gives up after this. Default 10000 ms. */
  timeoutMs?: number;
}

/** Fields with a payload index, so filtered searches do not scan: the keyword fields and the time. */
const KEYWORD_FIELDS = ['platform', 'risk_category', 'risk_level', 'channel_id', 'author_id'] as const;
/** created_at as epoch ms, for range filters (`since`). */
const TIME_FIELD = 'created_at_ms';

type QdrantFilter = { must: Record<string, unknown>[] };

/** Our filter in Qdrant's terms: `match.value` / `match.any` per field, a range on created_at_ms. */
export function toQdrantFilter(filter: EventFilter | undefined): QdrantFilter | undefined {
  if (!filter) return undefined;
  const must: Record<string, unknown>[] = [];
  const add = (key: string, v: string | string[] | undefined) => {
    if (v === undefined) return;
    must.push({ key, match: Array.isArray(v) ? { any: v } : { value: v } });
  };
  add('platform', filter.platform);
  add('risk_category', filter.risk_category);
  add('risk_level', filter.risk_level);
  add('channel_id', filter.channel_id);
  add('author_id', filter.author_id);
  const range: Record<string, number> = {};
  if (filter.since !== undefined) range.gte = Date.parse(filter.since);
  if (filter.until !== undefined) range.lt = Date.parse(filter.until);
  if (Object.keys(range).length > 0) must.push({ key: TIME_FIELD, range });
  return must.length > 0 ? { must } : undefined;
}

/**
 * Events in a Qdrant collection (cosine distance, one unnamed vector per point). Point ids are
 * pointId(event_id); the payload is EventPayload plus created_at_ms. open() creates the collection
 * with the embedder's dimension when it is missing, refuses one with another dimension, and
 * creates the payload indexes (idempotent in Qdrant).
 */
export class QdrantEventIndex implements EventIndex {
  readonly kind = 'qdrant' as const;
  readonly dim: number;
  readonly location: string;
  readonly collection: string;
  private readonly client: QdrantClient;

  constructor(opts: QdrantEventIndexOptions) {
    this.dim = opts.dim;
    this.collection = opts.collection ?? 'riskpipe_events';
    this.location = `${opts.url.replace(/\/+$/, '')}/collections/${this.collection}`;
    // No version probe at construction: it would run (and warn) before open(), even in tests.
    this.client = new QdrantClient({ url: opts.url, apiKey: opts.apiKey, timeout: opts.timeoutMs ?? 10_000, checkCompatibility: false });
  }

  async open(): Promise<{ created: boolean }> {
    let created = false;
    const { exists } = await this.client.collectionExists(this.collection);
    if (!exists) {
      try {
        await this.client.createCollection(this.collection, { vectors: { size: this.dim, distance: 'Cosine' } });
        created = true;
      } catch (err) {
        // Another worker created it first: fine if it now exists (checked below).
        if (!(await this.client.collectionExists(this.collection)).exists) throw err;
      }
    }
    const info = await this.client.getCollection(this.collection);
    const vectors = info.config?.params?.vectors as { size?: number; distance?: string } | Record<string, unknown> | undefined;
    const size = vectors && typeof (vectors as { size?: unknown }).size === 'number' ? (vectors as { size: number }).size : undefined;
    if (size === undefined) {
      throw new PermanentError('RP_ERR_CONFIG', `Qdrant collection ${this.collection} uses named vectors; riskpipe needs one unnamed ${this.dim}-dimensional cosine vector per point (choose another --collection)`);
    }
    if (size !== this.dim) {
      throw new PermanentError(
        'RP_ERR_CONFIG',
        `Qdrant collection ${this.collection} holds ${size}-dimensional vectors, but the embedder makes ${this.dim}: use the embedder it was built with, or another --collection`,
      );
    }
    const distance = (vectors as { distance?: string }).distance;
    if (distance && distance !== 'Cosine') {
      throw new PermanentError('RP_ERR_CONFIG', `Qdrant collection ${this.collection} uses ${distance} distance; riskpipe needs Cosine (choose another --collection)`);
    }
    for (const field of KEYWORD_FIELDS) await this.client.createPayloadIndex(this.collection, { field_name: field, field_schema: 'keyword', wait: true });
    await this.client.createPayloadIndex(this.collection, { field_name: TIME_FIELD, field_schema: 'integer', wait: true });
    return { created };
  }

  async upsert(docs: EventDoc[]): Promise<void> {
    if (docs.length === 0) return;
    for (const d of docs) {
      if (d.vector.length !== this.dim) throw new PermanentError('RP_ERR_INTERNAL', `vector has ${d.vector.length} dimensions, the collection has ${this.dim}`);
    }
    await this.client.upsert(this.collection, {
      wait: true,
      points: docs.map((d) => ({ id: pointId(d.payload.event_id), vector: Array.from(d.vector), payload: { ...d.payload, [TIME_FIELD]: Date.parse(d.payload.created_at) } })),
    });
  }

  async remove(eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    await this.client.delete(this.collection, { wait: true, points: eventIds.map(pointId) });
  }

  async search(vector: Float32Array, opts: { k: number; filter?: EventFilter }): Promise<EventHit[]> {
    if (vector.length !== this.dim) throw new RiskpipeError('RP_ERR_BAD_REQUEST', `query vector has ${vector.length} dimensions, the collection has ${this.dim}`);
    const k = Math.max(0, Math.floor(opts.k));
    if (k === 0) return [];
    const res = await this.client.query(this.collection, { query: Array.from(vector), limit: k, filter: toQdrantFilter(opts.filter), with_payload: true });
    return res.points.map((p) => {
      const { [TIME_FIELD]: _ms, ...payload } = (p.payload ?? {}) as unknown as EventPayload & { [TIME_FIELD]?: number };
      return { event_id: payload.event_id, score: p.score, payload };
    });
  }

  async count(): Promise<number> {
    return (await this.client.count(this.collection, { exact: true })).count;
  }

  async ping(): Promise<void> {
    await this.client.collectionExists(this.collection);
  }

  async close(): Promise<void> {}
}
