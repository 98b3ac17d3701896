import { z } from 'zod';
import { createConsumerRedis } from '../../common/redis.js';
import { nonNegativeInt, positiveInt, resolveSettings, sharedSettings } from '../settings.js';
import { formatEntry, tailStream } from '../tail/tail.js';

export const tailSettings = {
  redisUrl: sharedSettings.redisUrl,
  prefix: sharedSettings.prefix,
  count: { flag: 'count', schema: nonNegativeInt().optional() },
  blockMs: { flag: 'blockMs', schema: positiveInt(60_000), default: 5000 },
  json: { flag: 'json', schema: z.boolean(), default: false },
  fromStart: { flag: 'fromStart', schema: z.boolean(), default: false },
};

/** `riskpipe tail-stream <stream>`: prints entries as they arrive until --count or a signal. */
export async function run(stream: string, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(tailSettings, flags, env);
  const name = cfg.prefix + stream;
  const redis = createConsumerRedis(cfg.redisUrl, { lazyConnect: true });
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // `riskpipe tail-stream x | head` closes stdout early: stop quietly instead of crashing.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stop();
  });
  try {
    await redis.connect();
    await tailStream(redis, name, {
      fromStart: cfg.fromStart,
      count: cfg.count,
      blockMs: cfg.blockMs,
      signal: controller.signal,
      onEntry: (e) => {
        if (!controller.signal.aborted) process.stdout.write(`${formatEntry(e, cfg.json, process.stdout.columns)}\n`);
      },
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    redis.disconnect();
  }
}
