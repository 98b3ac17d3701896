import { createHash } from 'node:crypto';
import { PermanentError } from '../common/errors.js';
import type { SqlClient } from './sql.js';

/**
 * Versioned schema migrations, applied in order at start-up (`index-worker`, `up`) and by
 * `riskpipe migrate`. An applied migration is never edited: change the schema with a new one.
 * Its checksum is recorded, and a database whose applied migration differs from this list stops
 * the start-up instead of drifting.
 *
 * The same SQL runs on Postgres (pg) and PGlite, so it keeps to what both accept: plain DDL, no
 * extensions, no CREATE INDEX CONCURRENTLY, no server-side functions.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, predictions, incidents, delivery attempts',
    sql: `
CREATE TABLE events (
  event_id        text PRIMARY KEY,
  event_type      text NOT NULL,
  platform        text NOT NULL,
  channel_id      text,
  user_id         text NOT NULL,
  author_id       text NOT NULL,
  content         text NOT NULL,
  created_at      timestamptz NOT NULL,
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
  batch_id        text,
  traceparent     text,
  -- processing: recorded, not yet in every sink; indexed: incidents, vector and record all written;
  -- failed: the last attempt failed and a retry is due; dead_lettered: gave up (replay brings it back).
  status          text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'indexed', 'failed', 'dead_lettered')),
  attempts        integer NOT NULL DEFAULT 0,
  last_error      text,
  last_error_code text,
  first_seen_at   timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  indexed_at      timestamptz
);
CREATE INDEX events_batch_id_idx ON events (batch_id);
CREATE INDEX events_created_at_idx ON events (created_at);

CREATE TABLE predictions (
  event_id           text PRIMARY KEY REFERENCES events (event_id) ON DELETE CASCADE,
  risk_score         double precision NOT NULL,
  risk_level         text NOT NULL,
  risk_category      text NOT NULL,
  confidence         double precision NOT NULL,
  flags              text[] NOT NULL,
  details            jsonb NOT NULL,
  screening_time_ms  double precision NOT NULL,
  model_version      text NOT NULL,
  policy_fingerprint text NOT NULL,
  screened_at        timestamptz
);
CREATE INDEX predictions_category_idx ON predictions (risk_category);
CREATE INDEX predictions_policy_fingerprint_idx ON predictions (policy_fingerprint);

CREATE TABLE incidents (
  event_id    text NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
  ordinal     integer NOT NULL,
  type        text NOT NULL,
  description text NOT NULL,
  target      text,
  severity    text NOT NULL,
  confidence  double precision NOT NULL,
  evidence    text NOT NULL,
  provider    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, ordinal)
);
CREATE INDEX incidents_type_idx ON incidents (type);

-- One row per delivery of a stream entry and its outcome. No foreign key: a delivery whose
-- record task failed is logged before (or without) its event row.
CREATE TABLE delivery_attempts (
  event_id   text NOT NULL,
  entry_id   text NOT NULL,
  delivery   integer NOT NULL,
  outcome    text NOT NULL CHECK (outcome IN ('indexed', 'failed', 'dead_lettered')),
  error_code text,
  error      text,
  consumer   text,
  at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, entry_id, delivery, outcome)
);
`,
  },
];

export function migrationChecksum(m: Migration): string {
  return createHash('sha256').update(m.sql).digest('hex').slice(0, 16);
}

export interface MigrationResult {
  /** Versions applied by this call, in order. */
  applied: number[];
  /** The schema version after the call. */
  version: number;
}

/**
 * Applies the migrations not yet applied, each in its own transaction. Several processes may
 * start at once: a transaction-scoped advisory lock lets one apply while the others wait and then
 * find nothing to do.
 */
export async function migrate(db: SqlClient, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    if (db.schema) await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${db.schema}`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS riskpipe_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
      const { rows } = await tx.query<{ checksum: string }>('SELECT checksum FROM riskpipe_migrations WHERE version = $1', [m.version]);
      if (rows.length > 0) {
        if (rows[0].checksum !== migrationChecksum(m)) {
          throw new PermanentError('RP_ERR_CONFIG', `migration ${m.version} (${m.name}) was applied with checksum ${rows[0].checksum}, but this build's is ${migrationChecksum(m)}: the database was migrated by a different riskpipe version`);
        }
        return false;
      }
      await tx.exec(m.sql);
      await tx.query('INSERT INTO riskpipe_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, migrationChecksum(m)]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  const { rows } = await db.query<{ v: number | null }>('SELECT max(version)::int AS v FROM riskpipe_migrations');
  const version = rows[0]?.v ?? 0;
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (version > known) throw new PermanentError('RP_ERR_CONFIG', `the database is at schema version ${version}, newer than this build knows (${known}): upgrade riskpipe`);
  return { applied, version };
}

/** Arbitrary constant naming riskpipe's migration lock among the database's advisory locks. */
const LOCK_KEY = 7_310_442_021;
