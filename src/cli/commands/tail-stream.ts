import { z } from 'zod';
import { RiskpipeError } from '../../common/errors.js';
import { createConsumerRedis } from '../../common/redis.js';
import { createKeys } from '../../stream/keys.js';
import { resolveSettings, tailSettings } from '../settings.js';
import { formatEntry, tailStream } from '../tail/tail.js';
import { tailOverHttp, upAnswers, UP_DEFAULT_URL } from '../up/http-tail.js';

// Declared once, in ../settings.ts.
export { tailSettings };

/** How long the first connection may take before tail-stream says Redis is not there. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * `riskpipe tail-stream <stream>`: prints entries as they arrive until --count entries were
 * printed, a signal, or the reader of stdout goes away (`| head`); all three exit 0.
 */
export async function run(stream: string, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(tailSettings, flags, env);
  // `riskpipe up` keeps its streams in-process: follow them over its HTTP API when asked to
  // (--url), or when no Redis was named and an `up` answers on its default port.
  const redisNamed = flags.redisUrl !== undefined || (env.REDIS_URL ?? '') !== '';
  const upUrl = cfg.url ?? (!redisNamed && (await upAnswers(UP_DEFAULT_URL)) ? UP_DEFAULT_URL : undefined);
  if (upUrl) return runOverHttp(stream, upUrl, cfg);
  // Our streams by their default names (events:low_risk), anything else with the prefix before it.
  const name = createKeys({ prefix: cfg.prefix, hashTag: cfg.hashTag }).resolveStream(stream);
  let connected = false;
  // A dedicated connection: disconnecting it is how a stop interrupts the blocking XREAD. It
  // reconnects forever once it has connected, but not before: nobody is there at all is reported
  // at once, and the connection ends cleanly instead of lingering in "reconnecting".
  const redis = createConsumerRedis(cfg.redisUrl, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => (connected ? Math.min(100 * times, 2_000) : null),
  });
  const controller = new AbortController();
  const stop = () => controller.abort();
  let lastRedisError = '';
  // After the first connect the connection retries forever (a tail rides out a Redis restart): say
  // so once per distinct problem instead of letting ioredis print every failed attempt. Before it,
  // the failure is reported once, as the command's error.
  redis.on('error', (err: Error) => {
    if (connected && err.message !== lastRedisError) process.stderr.write(`riskpipe: redis: ${err.message} (reconnecting)\n`);
    lastRedisError = err.message;
  });
  redis.on('ready', () => {
    if (connected && lastRedisError) process.stderr.write('riskpipe: redis: reconnected\n');
    lastRedisError = '';
  });
  let stdoutError: NodeJS.ErrnoException | undefined;
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    // EPIPE: `tail-stream ... | head` and head has what it wanted. Anything else ends the run too.
    stdoutError ??= err;
    stop();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', onStdoutError);
  try {
    try {
      await redis.connect();
    } catch (err) {
      // connect() itself only says "Connection is closed"; the error event had the reason.
      const why = lastRedisError || (err as Error).message;
      throw new RiskpipeError('RP_ERR_REDIS_UNAVAILABLE', `cannot reach Redis at ${redactUrl(cfg.redisUrl)}: ${why}`, { cause: err });
    }
    connected = true;
    await tailStream(redis, name, {
      fromStart: cfg.fromStart,
      count: cfg.count,
      blockMs: cfg.blockMs,
      signal: controller.signal,
      onStart: (afterId) => {
        if (process.stderr.isTTY && !cfg.json) process.stderr.write(`tailing ${name} ${afterId === '0-0' ? 'from the start' : `after ${afterId}`} (Ctrl-C to stop)\n`);
      },
      onEntry: (e) => {
        if (!controller.signal.aborted) process.stdout.write(`${formatEntry(e, cfg.json, process.stdout.columns)}\n`);
      },
    });
    if (stdoutError && stdoutError.code !== 'EPIPE') throw new RiskpipeError('RP_ERR_INTERNAL', `cannot write to stdout: ${stdoutError.message}`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    // Not twice: ioredis' disconnect() arms a 2 s timer that only the socket's close event clears,
    // so on a connection that already ended (a stop disconnected it) it would hold the process 2 s.
    // The error handlers stay: ioredis may still report the disconnect, and a late EPIPE must not crash.
    if (redis.status !== 'end') redis.disconnect();
  }
}

async function runOverHttp(stream: string, url: string, cfg: ReturnType<typeof resolveSettings<typeof tailSettings>>): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  const onStdoutError = () => stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', onStdoutError);
  try {
    await tailOverHttp({
      url,
      apiKey: cfg.apiKey,
      stream,
      fromStart: cfg.fromStart,
      count: cfg.count,
      blockMs: cfg.blockMs,
      signal: controller.signal,
      onStart: (afterId, name) => {
        if (process.stderr.isTTY && !cfg.json) process.stderr.write(`tailing ${name} on ${url} ${afterId === '0-0' ? 'from the start' : 'from now'} (Ctrl-C to stop)\n`);
      },
      onEntry: (e) => {
        if (!controller.signal.aborted) process.stdout.write(`${formatEntry(e, cfg.json, process.stdout.columns)}\n`);
      },
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
