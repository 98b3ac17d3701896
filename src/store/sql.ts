import pg from 'pg';
import { PermanentError } from '../common/errors.js';

/** What a query returns: rows as plain objects. */
export interface SqlResult<R> {
  rows: R[];
}

/** One connection's worth of querying: a pool outside a transaction, the transaction's connection inside one. */
export interface SqlQuery {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<SqlResult<R>>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/**
 * The store's view of a database: Postgres through a pg Pool, or PGlite (Postgres compiled to
 * WebAssembly) in-process. The store issues the same SQL to both; see migrations.ts for the rules
 * that keeps.
 */
export interface SqlClient extends SqlQuery {
  readonly kind: 'postgres' | 'pglite';
  /** The schema the tables live in, when one was chosen (migrate creates it). */
  readonly schema?: string;
  /** Runs `fn` between BEGIN and COMMIT on one connection; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: SqlQuery) => Promise<T>): Promise<T>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** postgres://user@host:port/db */
  url: string;
  /** Tables live in this schema (created if missing); default the connection's search_path (public). */
  schema?: string;
  /** Pool size. Default 4: one index worker writes one batch at a time per concurrency slot. */
  maxConnections?: number;
  /** A connection attempt gives up after this. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** A statement is cancelled by the server after this. Default 30000 ms. */
  statementTimeoutMs?: number;
  /** application_name in pg_stat_activity. Default "riskpipe". */
  applicationName?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new PermanentError('RP_ERR_CONFIG', `schema name ${JSON.stringify(schema)} must match ${SCHEMA_NAME}`);
  return schema;
}

/** int8 (count(*), bigserial) as a JS number, as PGlite returns it: counts here stay far below 2^53. */
pg.types.setTypeParser(20, (v) => Number(v));

export function createPostgresClient(opts: PostgresOptions): SqlClient {
  const schema = opts.schema === undefined ? undefined : checkSchemaName(opts.schema);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 4,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    application_name: opts.applicationName ?? 'riskpipe',
    // The schema is a start-up parameter, so every pooled connection uses it from its first query.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process; the
  // next query gets a fresh connection.
  pool.on('error', () => {});
  let closed: Promise<void> | undefined;
  return {
    kind: 'postgres',
    schema,
    query: async <R>(sql: string, params?: unknown[]) => {
      const r = await pool.query(sql, params as unknown[]);
      return { rows: r.rows as R[] };
    },
    exec: async (sql: string) => void (await pool.query(sql)),
    async transaction<T>(fn: (tx: SqlQuery) => Promise<T>): Promise<T> {
      const conn = await pool.connect();
      let broken = false;
      try {
        await conn.query('BEGIN');
        const out = await fn({
          query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await conn.query(sql, params as unknown[])).rows as R[] }),
          exec: async (sql: string) => void (await conn.query(sql)),
        });
        await conn.query('COMMIT');
        return out;
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => (broken = true));
        throw err;
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: drop it from the pool.
        conn.release(broken);
      }
    },
    close: () => (closed ??= pool.end()),
  };
}

export interface PgliteOptions {
  /** A directory for the database files; unset = in memory (gone on close). */
  dataDir?: string;
  /** As for Postgres: tables live in this schema. */
  schema?: string;
}

/**
 * PGlite runs one backend in this process: queries are serialised by PGlite itself, and a
 * transaction holds the only connection until it ends.
 */
export async function createPgliteClient(opts: PgliteOptions = {}): Promise<SqlClient> {
  // Loaded only when asked for: the Postgres path never loads the WebAssembly build.
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(opts.dataDir);
  const schema = opts.schema === undefined ? undefined : checkSchemaName(opts.schema);
  if (schema) await db.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
  let closed: Promise<void> | undefined;
  return {
    kind: 'pglite',
    schema,
    query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await db.query<R>(sql, params)).rows }),
    exec: async (sql: string) => void (await db.exec(sql)),
    transaction: <T>(fn: (tx: SqlQuery) => Promise<T>) =>
      db.transaction(async (tx) =>
        fn({
          query: async <R>(sql: string, params?: unknown[]) => ({ rows: (await tx.query<R>(sql, params)).rows }),
          exec: async (sql: string) => void (await tx.exec(sql)),
        }),
      ),
    close: () => (closed ??= db.close()),
  };
}
