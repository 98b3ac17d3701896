import { migrateSettings } from '../index-settings.js';
import { resolveSettings } from '../settings.js';

/** `riskpipe migrate`: applies the store's pending migrations to Postgres (or a PGlite data directory) and says what it did. */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(migrateSettings, flags, env);
  const { openStore, MIGRATIONS } = await import('../../store/index.js');
  const where = cfg.pglite ? `PGlite ${cfg.pglite}` : `${cfg.databaseUrl.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')}${cfg.dbSchema ? ` (schema ${cfg.dbSchema})` : ''}`;
  const store = await openStore({ ...(cfg.pglite ? { pglite: { dataDir: cfg.pglite, schema: cfg.dbSchema } } : { url: cfg.databaseUrl, schema: cfg.dbSchema }), migrate: false });
  try {
    const r = await store.migrate();
    if (cfg.json) {
      process.stdout.write(`${JSON.stringify({ database: where, applied: r.applied, version: r.version, latest: MIGRATIONS.at(-1)!.version })}\n`);
    } else if (r.applied.length === 0) {
      process.stdout.write(`${where}: up to date (schema version ${r.version})\n`);
    } else {
      for (const v of r.applied) process.stdout.write(`applied ${v}: ${MIGRATIONS.find((m) => m.version === v)!.name}\n`);
      process.stdout.write(`${where}: now at schema version ${r.version}\n`);
    }
  } finally {
    await store.close();
  }
}
