import { Store } from './store.js';
import { createPgliteClient, createPostgresClient, type PgliteOptions, type PostgresOptions } from './sql.js';

export * from './store.js';
export { MIGRATIONS, migrate, migrationChecksum, type Migration, type MigrationResult } from './migrations.js';
export { createPgliteClient, createPostgresClient, type SqlClient, type SqlQuery, type PgliteOptions, type PostgresOptions } from './sql.js';

/** The store on Postgres (`url`) or on PGlite (`pglite`: a data directory, or in memory when it is omitted). */
export type StoreOptions = ({ url: string } & Omit<PostgresOptions, 'url'>) | { pglite: PgliteOptions };

/** Opens the store and applies pending migrations (`migrate: false` skips them). */
export async function openStore(opts: StoreOptions & { migrate?: boolean }): Promise<Store> {
  const db = 'url' in opts ? createPostgresClient(opts) : await createPgliteClient(opts.pglite);
  const store = new Store(db);
  if (opts.migrate !== false) {
    try {
      await store.migrate();
    } catch (err) {
      await store.close().catch(() => {});
      throw err;
    }
  }
  return store;
}
