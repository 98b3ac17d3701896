import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../../common/logger.js';
import type { UpConfig } from './compose.js';

/*
 * `riskpipe up --workers N` (Redis only): N-1 more screening workers as child processes
 * (`riskpipe screen-worker`, each on a port of its own choosing) in the same consumer group as
 * the one inside `up`, so screening uses more cores. They stop with `up`.
 */

/** The CLI entry next to this file (dist/cli/index.js, or src/cli/index.ts under tsx). */
const CLI_URL = new URL(`../index${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

export interface WorkerPool {
  readonly pids: number[];
  /** SIGTERM to each, then waits for them (each drains its batches). Idempotent. */
  close(): Promise<void>;
}

export function startScreenWorkers(cfg: UpConfig, extra: number, log: Logger): WorkerPool {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: cfg.redisUrl,
    RISKPIPE_PREFIX: cfg.prefix,
    RISKPIPE_HASH_TAG: cfg.hashTag,
    RISKPIPE_EMBEDDER: cfg.embedder,
    RISKPIPE_MODEL_DIR: cfg.modelDir ?? '',
    SCREENING_THRESHOLD: cfg.threshold === undefined ? '' : String(cfg.threshold),
    RISKPIPE_NEIGHBORS: cfg.neighbors,
    RISKPIPE_CLAIM_IDLE_MS: String(cfg.claimIdleMs),
    RISKPIPE_MAX_DELIVERIES: String(cfg.maxDeliveries),
    RISKPIPE_BATCH_SIZE: String(cfg.batchSize),
    RISKPIPE_API_KEYS: cfg.apiKeys.join(','),
    LOG_LEVEL: cfg.logLevel,
  };
  const children: ChildProcess[] = [];
  let closing = false;
  for (let i = 0; i < extra; i++) {
    // Through an IPC channel: when `up` dies, even by kill -9, the channel closes and the worker
    // stops itself (SIGTERM: it drains its batches) instead of living on as an orphan.
    const script = [
      "process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));",
      `const { main } = await import(${JSON.stringify(CLI_URL)});`,
      "process.exitCode = await main([process.argv[0], 'riskpipe', 'screen-worker', '--host', '127.0.0.1', '--port', '0']);",
      "if (process.connected) process.disconnect();",
    ].join('\n');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('exit', (code, signal) => {
      if (!closing) log.warn({ pid: child.pid, code, signal }, 'a screening worker process exited; its pending entries are claimed by the others');
    });
    children.push(child);
  }
  let closed: Promise<void> | undefined;
  return {
    pids: children.map((c) => c.pid!).filter(Boolean),
    close() {
      closing = true;
      closed ??= Promise.all(
        children.map(
          (c) =>
            new Promise<void>((ok) => {
              if (c.exitCode !== null || c.signalCode !== null) return ok();
              c.once('exit', () => ok());
              c.kill('SIGTERM');
            }),
        ),
      ).then(() => undefined);
      return closed;
    },
  };
}
