import type { Event, Incident, RiskPrediction } from '../models/index.js';
import { migrate, type MigrationResult } from './migrations.js';
import type { SqlClient } from './sql.js';

/*
 * The system of record of stage 3. Every write is an idempotent upsert keyed by event_id, a whole
 * read batch per statement (the rows travel as one JSON parameter: jsonb_to_recordset), inside one
 * transaction. Running any write twice leaves the same rows as running it once, so a redelivered
 * entry (a crash between commit and ack) doubles nothing.
 */

export const EVENT_STATUSES = ['processing', 'indexed', 'failed', 'dead_lettered'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Task C's input: an event as screened. */
export interface EventRecordInput {
  event: Event;
  prediction: RiskPrediction;
  batchId?: string | null;
  traceparent?: string | null;
  /** When the screening stage routed it (ISO 8601). */
  screenedAt?: string | null;
}

/** One delivery of a stream entry, as the attempt log keys it. */
export interface DeliveryRef {
  eventId: string;
  /** The stream entry id (events:reasoning_queue). */
  entryId: string;
  /** 1 for the first delivery. */
  delivery: number;
  consumer?: string | null;
}

/** Finishing an event: its incidents replace any earlier ones and it becomes `indexed`. */
export interface IndexedInput extends DeliveryRef {
  incidents: Incident[];
  /** The incident provider that wrote them, e.g. "rules" or "openai:gpt-4o-mini". */
  provider: string;
}

export interface FailureInput extends DeliveryRef {
  error: string;
  errorCode: string;
  /** True when this was the last allowed attempt and the entry goes to the dead-letter stream. */
  deadLettered: boolean;
}

export interface StoredIncident extends Incident {
  provider: string;
}

/** One stored event with its prediction, incidents and delivery state (GET /v1/events/:id). */
export interface StoredEvent extends Event {
  batch_id: string | null;
  status: EventStatus;
  attempts: number;
  last_error: string | null;
  last_error_code: string | null;
  first_seen_at: string;
  updated_at: string;
  indexed_at: string | null;
  prediction: (Omit<RiskPrediction, 'event_id'> & { screened_at: string | null }) | null;
  incidents: StoredIncident[];
}

/** What a search hit is joined with. */
export interface SearchRow {
  event_id: string;
  content: string;
  platform: string;
  channel_id: string | null;
  author_id: string;
  risk_category: string | null;
  risk_level: string | null;
  risk_score: number | null;
  incidents: Incident[];
  created_at: string;
}

/** An indexed event as the vector index needs it when it is rebuilt. */
export interface IndexableRow {
  event_id: string;
  content: string;
  platform: string;
  channel_id: string | null;
  author_id: string;
  risk_category: string;
  risk_level: string;
  risk_score: number;
  flags: string[];
  created_at: string;
}

export interface DeliveryAttempt {
  entry_id: string;
  delivery: number;
  outcome: 'indexed' | 'failed' | 'dead_lettered';
  error_code: string | null;
  error: string | null;
  consumer: string | null;
  at: string;
}

export type StatusCounts = Record<EventStatus, number>;

const iso = (d: unknown): string => (d instanceof Date ? d.toISOString() : String(d));
const isoOrNull = (d: unknown): string | null => (d === null || d === undefined ? null : iso(d));

/**
 * Last one wins (an UPSERT may not touch the same row twice in one statement), in id order: two
 * workers writing overlapping batches (a claimed entry done twice) then lock rows in the same
 * order and cannot deadlock.
 */
function lastById<T>(items: T[], id: (t: T) => string): T[] {
  const m = new Map<string, T>();
  for (const t of items) m.set(id(t), t);
  return [...m.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map(([, t]) => t);
}

export class Store {
  constructor(readonly db: SqlClient) {}

  get kind(): SqlClient['kind'] {
    return this.db.kind;
  }

  migrate(): Promise<MigrationResult> {
    return migrate(this.db);
  }

  /** Round trip to the database, for /health and /ready. */
  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  /**
   * Task C: upserts events and their predictions. An event already `indexed` stays so (this is a
   * redelivery of finished work); any other becomes `processing` until completeIndexed.
   */
  async recordEvents(items: EventRecordInput[]): Promise<void> {
    const rows = lastById(items, (i) => i.event.event_id);
    if (rows.length === 0) return;
    const events = rows.map(({ event: e, batchId, traceparent }) => ({
      event_id: e.event_id,
      event_type: e.event_type,
      platform: e.platform,
      channel_id: e.channel_id,
      user_id: e.user_id,
      author_id: e.author_id,
      content: e.content,
      created_at: e.created_at,
      metadata: e.metadata,
      batch_id: batchId ?? null,
      traceparent: traceparent ?? null,
    }));
    const predictions = rows.map(({ event, prediction: p, screenedAt }) => ({
      event_id: event.event_id,
      risk_score: p.risk_score,
      risk_level: p.risk_level,
      risk_category: p.risk_category,
      confidence: p.confidence,
      flags: p.flags,
      details: p.details,
      screening_time_ms: p.screening_time_ms,
      model_version: p.model_version,
      policy_fingerprint: p.policy_fingerprint,
      screened_at: screenedAt ?? null,
    }));
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO events (event_id, event_type, platform, channel_id, user_id, author_id, content, created_at, metadata, batch_id, traceparent, status)
         SELECT x.event_id, x.event_type, x.platform, x.channel_id, x.user_id, x.author_id, x.content, x.created_at, COALESCE(x.metadata, '{}'::jsonb), x.batch_id, x.traceparent, 'processing'
         FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, event_type text, platform text, channel_id text, user_id text, author_id text,
                                                  content text, created_at timestamptz, metadata jsonb, batch_id text, traceparent text)
         ON CONFLICT (event_id) DO UPDATE SET
           event_type = EXCLUDED.event_type, platform = EXCLUDED.platform, channel_id = EXCLUDED.channel_id, user_id = EXCLUDED.user_id,
           author_id = EXCLUDED.author_id, content = EXCLUDED.content, created_at = EXCLUDED.created_at, metadata = EXCLUDED.metadata,
           batch_id = COALESCE(EXCLUDED.batch_id, events.batch_id), traceparent = EXCLUDED.traceparent,
           status = CASE WHEN events.status = 'indexed' THEN 'indexed' ELSE 'processing' END,
           updated_at = now()`,
        [JSON.stringify(events)],
      );
      await tx.query(
        `INSERT INTO predictions (event_id, risk_score, risk_level, risk_category, confidence, flags, details, screening_time_ms, model_version, policy_fingerprint, screened_at)
         SELECT x.event_id, x.risk_score, x.risk_level, x.risk_category, x.confidence, x.flags, x.details, x.screening_time_ms, x.model_version, x.policy_fingerprint, x.screened_at
         FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, risk_score double precision, risk_level text, risk_category text, confidence double precision,
                                                  flags text[], details jsonb, screening_time_ms double precision, model_version text, policy_fingerprint text, screened_at timestamptz)
         ON CONFLICT (event_id) DO UPDATE SET
           risk_score = EXCLUDED.risk_score, risk_level = EXCLUDED.risk_level, risk_category = EXCLUDED.risk_category, confidence = EXCLUDED.confidence,
           flags = EXCLUDED.flags, details = EXCLUDED.details, screening_time_ms = EXCLUDED.screening_time_ms, model_version = EXCLUDED.model_version,
           policy_fingerprint = EXCLUDED.policy_fingerprint, screened_at = EXCLUDED.screened_at`,
        [JSON.stringify(predictions)],
      );
    });
  }

  /**
   * The commit step, after all three tasks succeeded: replaces the events' incidents, logs the
   * delivery and marks them `indexed`, in one transaction. `attempts` is the number of distinct
   * deliveries logged, so repeating this call changes nothing. Returns the event ids it found
   * (an event missing here was never recorded: the caller treats that as a failure).
   */
  async completeIndexed(items: IndexedInput[]): Promise<string[]> {
    const rows = lastById(items, (i) => i.eventId);
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.eventId);
    const incidents = rows.flatMap((r) =>
      r.incidents.map((inc, ordinal) => ({ event_id: r.eventId, ordinal, ...inc, provider: r.provider })),
    );
    return this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM incidents WHERE event_id = ANY($1::text[])', [ids]);
      if (incidents.length > 0) {
        await tx.query(
          `INSERT INTO incidents (event_id, ordinal, type, description, target, severity, confidence, evidence, provider)
           SELECT x.event_id, x.ordinal, x.type, x.description, x.target, x.severity, x.confidence, x.evidence, x.provider
           FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, ordinal integer, type text, description text, target text, severity text,
                                                    confidence double precision, evidence text, provider text)`,
          [JSON.stringify(incidents)],
        );
      }
      await this.logAttempts(tx, rows.map((r) => ({ ...r, outcome: 'indexed' as const, error: null, errorCode: null })));
      const { rows: updated } = await tx.query<{ event_id: string }>(
        // A join on the id list (not = ANY): the planner then looks each id up by primary key
        // even before the table has statistics.
        `UPDATE events e SET status = 'indexed', indexed_at = now(), updated_at = now(), last_error = NULL, last_error_code = NULL,
           attempts = (SELECT count(DISTINCT (a.entry_id, a.delivery))::int FROM delivery_attempts a WHERE a.event_id = e.event_id)
         FROM unnest($1::text[]) AS i(event_id)
         WHERE e.event_id = i.event_id
         RETURNING e.event_id`,
        [ids],
      );
      return updated.map((u) => u.event_id);
    });
  }

  /**
   * Logs failed deliveries and their errors. An event not yet indexed becomes `failed` (a retry
   * is due) or `dead_lettered`; an indexed one stays indexed (its data is complete: this was a
   * redelivery) and only its last error is noted. Returns the ids that are (still) indexed.
   */
  async recordFailures(items: FailureInput[]): Promise<{ indexed: string[] }> {
    const rows = lastById(items, (i) => i.eventId);
    if (rows.length === 0) return { indexed: [] };
    return this.db.transaction(async (tx) => {
      await this.logAttempts(tx, rows.map((r) => ({ ...r, outcome: r.deadLettered ? ('dead_lettered' as const) : ('failed' as const) })));
      const { rows: updated } = await tx.query<{ event_id: string; status: EventStatus }>(
        `UPDATE events e SET
           status = CASE WHEN e.status = 'indexed' THEN 'indexed' WHEN x.dead THEN 'dead_lettered' ELSE 'failed' END,
           last_error = x.error, last_error_code = x.error_code, updated_at = now(),
           attempts = (SELECT count(DISTINCT (a.entry_id, a.delivery))::int FROM delivery_attempts a WHERE a.event_id = e.event_id)
         FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, error text, error_code text, dead boolean)
         WHERE e.event_id = x.event_id
         RETURNING e.event_id, e.status`,
        [JSON.stringify(rows.map((r) => ({ event_id: r.eventId, error: r.error, error_code: r.errorCode, dead: r.deadLettered })))],
      );
      return { indexed: updated.filter((u) => u.status === 'indexed').map((u) => u.event_id) };
    });
  }

  private async logAttempts(
    tx: { query: SqlClient['query'] },
    rows: (DeliveryRef & { outcome: DeliveryAttempt['outcome']; error: string | null; errorCode: string | null })[],
  ): Promise<void> {
    await tx.query(
      `INSERT INTO delivery_attempts (event_id, entry_id, delivery, outcome, error_code, error, consumer)
       SELECT x.event_id, x.entry_id, x.delivery, x.outcome, x.error_code, x.error, x.consumer
       FROM jsonb_to_recordset($1::jsonb) AS x(event_id text, entry_id text, delivery integer, outcome text, error_code text, error text, consumer text)
       ON CONFLICT DO NOTHING`,
      [
        JSON.stringify(
          rows.map((r) => ({ event_id: r.eventId, entry_id: r.entryId, delivery: r.delivery, outcome: r.outcome, error_code: r.errorCode, error: r.error, consumer: r.consumer ?? null })),
        ),
      ],
    );
  }

  /** One event with its prediction and incidents, whatever its status; null when unknown. */
  async getEvent(eventId: string): Promise<StoredEvent | null> {
    const { rows } = await this.db.query<Record<string, unknown>>(
      `SELECT e.*, p.event_id AS p_event_id, p.risk_score, p.risk_level, p.risk_category, p.confidence, p.flags, p.details, p.screening_time_ms,
              p.model_version, p.policy_fingerprint, p.screened_at
       FROM events e LEFT JOIN predictions p ON p.event_id = e.event_id WHERE e.event_id = $1`,
      [eventId],
    );
    if (rows.length === 0) return null;
    const r = rows[0];
    const { rows: inc } = await this.db.query<StoredIncident & { ordinal: number }>(
      'SELECT type, description, target, severity, confidence, evidence, provider FROM incidents WHERE event_id = $1 ORDER BY ordinal',
      [eventId],
    );
    return {
      event_id: r.event_id as string,
      event_type: r.event_type as Event['event_type'],
      platform: r.platform as Event['platform'],
      channel_id: (r.channel_id as string | null) ?? null,
      user_id: r.user_id as string,
      author_id: r.author_id as string,
      content: r.content as string,
      created_at: iso(r.created_at),
      metadata: (r.metadata as Event['metadata']) ?? {},
      batch_id: (r.batch_id as string | null) ?? null,
      status: r.status as EventStatus,
      attempts: r.attempts as number,
      last_error: (r.last_error as string | null) ?? null,
      last_error_code: (r.last_error_code as string | null) ?? null,
      first_seen_at: iso(r.first_seen_at),
      updated_at: iso(r.updated_at),
      indexed_at: isoOrNull(r.indexed_at),
      prediction:
        r.p_event_id === null || r.p_event_id === undefined
          ? null
          : {
              risk_score: r.risk_score as number,
              risk_level: r.risk_level as RiskPrediction['risk_level'],
              risk_category: r.risk_category as RiskPrediction['risk_category'],
              confidence: r.confidence as number,
              flags: r.flags as RiskPrediction['flags'],
              details: r.details as RiskPrediction['details'],
              screening_time_ms: r.screening_time_ms as number,
              model_version: r.model_version as string,
              policy_fingerprint: r.policy_fingerprint as string,
              screened_at: isoOrNull(r.screened_at),
            },
      incidents: inc.map(({ type, description, target, severity, confidence, evidence, provider }) => ({ type, description, target, severity, confidence, evidence, provider })),
    };
  }

  /** The delivery log of one event, oldest first. */
  async attempts(eventId: string): Promise<DeliveryAttempt[]> {
    const { rows } = await this.db.query<DeliveryAttempt & { at: unknown }>(
      'SELECT entry_id, delivery, outcome, error_code, error, consumer, at FROM delivery_attempts WHERE event_id = $1 ORDER BY at, delivery',
      [eventId],
    );
    return rows.map((r) => ({ ...r, at: iso(r.at) }));
  }

  /** Indexed events by id with what a search answer shows, in no particular order. */
  async searchRows(eventIds: string[]): Promise<Map<string, SearchRow>> {
    const out = new Map<string, SearchRow>();
    if (eventIds.length === 0) return out;
    const { rows } = await this.db.query<SearchRow & { created_at: unknown }>(
      `SELECT e.event_id, e.content, e.platform, e.channel_id, e.author_id, p.risk_category, p.risk_level, p.risk_score, e.created_at,
              COALESCE((SELECT jsonb_agg(jsonb_build_object('type', i.type, 'description', i.description, 'target', i.target, 'severity', i.severity,
                                                            'confidence', i.confidence, 'evidence', i.evidence) ORDER BY i.ordinal)
                        FROM incidents i WHERE i.event_id = e.event_id), '[]'::jsonb) AS incidents
       FROM unnest($1::text[]) AS i(event_id) JOIN events e ON e.event_id = i.event_id LEFT JOIN predictions p ON p.event_id = e.event_id
       WHERE e.status = 'indexed'`,
      [eventIds],
    );
    for (const r of rows) out.set(r.event_id, { ...r, created_at: iso(r.created_at) });
    return out;
  }

  /** Indexed events after `afterEventId` in id order, for rebuilding a vector index. */
  async pageIndexed(afterEventId: string | null, limit: number): Promise<IndexableRow[]> {
    const { rows } = await this.db.query<IndexableRow & { created_at: unknown }>(
      `SELECT e.event_id, e.content, e.platform, e.channel_id, e.author_id, p.risk_category, p.risk_level, p.risk_score, p.flags, e.created_at
       FROM events e JOIN predictions p ON p.event_id = e.event_id
       WHERE e.status = 'indexed' AND ($1::text IS NULL OR e.event_id > $1::text)
       ORDER BY e.event_id LIMIT $2`,
      [afterEventId, limit],
    );
    return rows.map((r) => ({ ...r, created_at: iso(r.created_at) }));
  }

  /** Events per status, overall or of one ingest batch. */
  async statusCounts(batchId?: string): Promise<StatusCounts> {
    const { rows } = await this.db.query<{ status: EventStatus; n: number }>(
      batchId === undefined
        ? 'SELECT status, count(*)::int AS n FROM events GROUP BY status'
        : 'SELECT status, count(*)::int AS n FROM events WHERE batch_id = $1 GROUP BY status',
      batchId === undefined ? [] : [batchId],
    );
    const out = Object.fromEntries(EVENT_STATUSES.map((s) => [s, 0])) as StatusCounts;
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
