import type { Logger } from '../common/logger.js';
import type { Bus, BusOptions } from './types.js';

/** Which bus, and how to reach it. Built by the CLI from the settings. */
export type BusConfig =
  | ({ kind: 'redis'; redisUrl: string; prefix?: string; hashTag?: string; role: 'producer' | 'consumer' } & BusOptions)
  | ({ kind: 'memory'; /** Journal accepted entries here and replay them on start; none = in memory only. */ dataDir?: string; dedupWindowS?: number } & BusOptions);

/** A bus from its config (loads the implementation lazily: `riskpipe up` never loads ioredis' scripts, serve-ingest never the journal). */
// Implementations land in the next commits (src/stream/redis/bus.ts, src/stream/memory/bus.ts).
export declare function createBus(cfg: BusConfig, log?: Logger): Promise<Bus>;
