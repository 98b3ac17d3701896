import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { beforeAll } from 'vitest';
import { PrivateRedis } from '../helpers/redis-server.js';
import { scenario } from './up-scenario.js';

/*
 * The same scenario with every real backend swapped in by configuration alone: REDIS_URL (a
 * private redis-server, plus a unique prefix), DATABASE_URL (the shared Postgres, a schema of
 * its own, dropped afterwards).
 */
let redis: PrivateRedis;
const schema = `rp_up_${randomBytes(4).toString('hex')}`;
const DATABASE_URL = process.env.RISKPIPE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
scenario({
  name: 'Redis + Postgres',
  env: () => ({ REDIS_URL: redis.url, RISKPIPE_PREFIX: `rptest:up:${schema}:`, DATABASE_URL, RISKPIPE_DB_SCHEMA: schema }),
  cleanup: async () => {
    await redis?.stop();
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  },
});
beforeAll(async () => {
  redis = await PrivateRedis.start();
});
