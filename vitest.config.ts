import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: files run in parallel but each isolates itself by a unique Redis prefix / PG schema.
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default'],
  },
});
