import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // One private redis-server for the whole run (REDIS_URL points every test at it): the suite
    // never scans or fills the shared Redis, and cannot depend on what else is in it.
    globalSetup: ['test/helpers/global-redis.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: files run in parallel but each isolates itself by a unique Redis prefix / PG schema.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
