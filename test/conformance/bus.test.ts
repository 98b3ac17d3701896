import { afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '../../src/stream/memory/bus.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { busConformance } from './bus-suite.js';

/* The bus conformance suite on every implementation: Redis (real server, own prefix per test), memory, memory with a journal. */

const prefixes: string[] = [];
const dirs: string[] = [];

busConformance({
  name: 'redis',
  async make() {
    const prefix = uniquePrefix('conf');
    prefixes.push(prefix);
    return RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix });
  },
});

// Redis Cluster layout: every key under one hash tag (a cluster would refuse a cross-slot script).
busConformance({
  name: 'redis with a hash tag',
  async make() {
    const prefix = uniquePrefix('conf-tag');
    prefixes.push(prefix);
    return RedisBus.connect({ redisUrl: REDIS_URL, role: 'consumer', prefix, hashTag: 'rp' });
  },
});

busConformance({ name: 'memory', make: async () => MemoryBus.open({}) });

busConformance({
  name: 'memory + journal',
  async make() {
    const dir = mkdtempSync(join(tmpdir(), 'rp-bus-'));
    dirs.push(dir);
    return MemoryBus.open({ dataDir: dir });
  },
});

afterAll(async () => {
  const admin = await connectTestRedis();
  for (const p of prefixes) await cleanupPrefix(admin, p);
  admin.disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
