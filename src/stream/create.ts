import type { Logger } from '../common/logger.js';
import type { Bus, BusOptions } from './types.js';

/** Which bus, and how to reach it. Built by the CLI from the settings. */
export type BusConfig =
  | ({ kind: 'redis'; redisUrl: string; prefix?: string; hashTag?: string; role: 'producer' | 'consumer' } & BusOptions)
  | ({
      kind: 'memory';
      /** Journal accepted entries here and replay them on start; none = in memory only. */
      dataDir?: string;
      prefix?: string;
    } & BusOptions);

/** A bus from its config. The implementation is loaded lazily (`riskpipe up` never loads ioredis' scripts, serve-ingest never the journal). */
export async function createBus(cfg: BusConfig, log?: Logger): Promise<Bus> {
  if (cfg.kind === 'redis') {
    const { RedisBus } = await import('./redis/bus.js');
    return RedisBus.connect(cfg, log);
  }
  const { MemoryBus } = await import('./memory/bus.js');
  return MemoryBus.open(cfg, log);
}
