import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../common/logger.js';
import { untilSignal } from './signals.js';

/*
 * `--workers N` for any long-running command (serve-ingest, screen-worker, index-worker): N
 * processes of the same command under one supervisor.
 *   - N = 1 (the default): the command runs in this process, exactly as without the option.
 *   - N > 1: this process becomes the supervisor (node:cluster primary) and forks N workers that
 *     run the same argv. Their HTTP servers share the port (the primary hands out connections
 *     round-robin); consumers join the same consumer group, each under its own consumer name.
 *   - SIGTERM / SIGINT on the supervisor fans out as SIGTERM to every worker; each closes under its
 *     own deadline (stop intake, drain, release), and the supervisor exits when all have — killing
 *     any left after `stopDeadlineMs`. Workers ignore SIGINT (a terminal's Ctrl-C reaches the whole
 *     process group; the supervisor's SIGTERM is the one that counts, so it is not a "second signal").
 *   - A worker that exits while nobody asked it to is reported (error log with its exit code or
 *     signal) and restarted; more than `maxRestarts` restarts within `restartWindowMs` means
 *     something is wrong for good: the supervisor stops the rest and exits 1.
 * A worker whose supervisor disappears (kill -9) shuts itself down.
 *
 * A command adopts it in one line: `await runWorkers({ workers: cfg.workers, log }, (log, w) => start(cfg, log))`.
 */

/** Who this process is among the workers of one command: null when it runs alone. */
export interface WorkerIdentity {
  /** 0-based, stable across restarts of the same slot. */
  index: number;
  count: number;
}

export interface Closeable {
  close(): Promise<void>;
}

export interface RunWorkersOptions {
  workers: number;
  log: Logger;
  /** Default 5 restarts within 60 s. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** How long the supervisor waits for its workers to stop before killing them. Default 30 s (a worker's own close deadline is 25 s). */
  stopDeadlineMs?: number;
}

const INDEX_ENV = 'RISKPIPE_WORKER_INDEX';
const COUNT_ENV = 'RISKPIPE_WORKER_COUNT';

/** This process's identity when it was forked by runWorkers, else null. */
export function workerIdentity(env: NodeJS.ProcessEnv = process.env): WorkerIdentity | null {
  if (!cluster.isWorker || env[INDEX_ENV] === undefined) return null;
  return { index: Number(env[INDEX_ENV]), count: Number(env[COUNT_ENV]) };
}

/**
 * A consumer name per worker slot: the configured name plus `-w<index>`, so a restarted worker
 * takes back its own pending entries at once instead of waiting for a sibling's claim. Without a
 * configured name the default (hostname-pid-random) is unique already.
 */
export function workerConsumerName(name: string | undefined, w: WorkerIdentity | null): string | undefined {
  return name !== undefined && w ? `${name}-w${w.index}` : name;
}

/** Runs the command (`start` → a running thing with close()) as one process or N supervised workers; resolves when everything has stopped. */
export async function runWorkers(opts: RunWorkersOptions, start: (log: Logger, w: WorkerIdentity | null) => Promise<Closeable>): Promise<void> {
  const me = workerIdentity();
  if (me) return runAsWorker(me, opts.log.child({ worker: me.index }), start);
  if (opts.workers <= 1) {
    const running = await start(opts.log, null);
    await untilSignal(() => running.close(), opts.log);
    return;
  }
  return supervise(opts);
}

async function runAsWorker(me: WorkerIdentity, log: Logger, start: (log: Logger, w: WorkerIdentity | null) => Promise<Closeable>): Promise<void> {
  // The supervisor vanished (kill -9): nobody would stop this worker any more.
  cluster.worker!.on('disconnect', () => {
    if (!done) process.kill(process.pid, 'SIGTERM');
  });
  let done = false;
  const running = await start(log, me);
  process.send?.({ riskpipe: 'ready', index: me.index });
  await untilSignal(() => running.close(), log, 25_000, ['SIGTERM']);
  done = true;
  // The IPC channel would keep the process alive.
  if (cluster.worker!.isConnected()) cluster.worker!.disconnect();
}

function supervise(opts: RunWorkersOptions): Promise<void> {
  const { workers: n, log } = opts;
  const maxRestarts = opts.maxRestarts ?? 5;
  const restartWindowMs = opts.restartWindowMs ?? 60_000;
  const stopDeadlineMs = opts.stopDeadlineMs ?? 30_000;
  const slots = new Map<Worker, number>();
  const restarts: number[] = [];
  let stopping = false;
  let failed = false;
  let ready = 0;

  return new Promise((resolve) => {
    const fork = (index: number) => {
      const w = cluster.fork({ [INDEX_ENV]: String(index), [COUNT_ENV]: String(n) });
      slots.set(w, index);
      w.on('message', (m: { riskpipe?: string }) => {
        if (m?.riskpipe === 'ready' && ++ready === n) log.info({ workers: n }, 'all workers ready');
      });
    };

    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ reason, workers: slots.size }, 'stopping all workers');
      for (const w of slots.keys()) w.process.kill('SIGTERM');
      const timer = setTimeout(() => {
        log.error({ stopDeadlineMs, left: slots.size }, 'workers still running after the deadline: killing them');
        failed = true;
        for (const w of slots.keys()) w.process.kill('SIGKILL');
      }, stopDeadlineMs);
      timer.unref();
      if (slots.size === 0) finish();
    };

    const finish = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      if (failed) process.exitCode = 1;
      log.info('all workers stopped');
      resolve();
    };

    cluster.on('exit', (w, code, signal) => {
      const index = slots.get(w);
      slots.delete(w);
      if (index === undefined) return;
      if (stopping) {
        if (code !== 0) {
          failed = true;
          log.error({ worker: index, pid: w.process.pid, code, signal }, 'worker stopped with an error');
        }
        if (slots.size === 0) finish();
        return;
      }
      failed = true;
      const now = Date.now();
      while (restarts.length > 0 && restarts[0]! < now - restartWindowMs) restarts.shift();
      if (restarts.length >= maxRestarts) {
        log.error({ worker: index, pid: w.process.pid, code, signal, restarts: restarts.length, restartWindowMs }, 'worker exited; too many restarts: stopping');
        stop('too many restarts');
        return;
      }
      restarts.push(now);
      log.error({ worker: index, pid: w.process.pid, code, signal }, 'worker exited unexpectedly: restarting it');
      ready = Math.max(0, ready - 1);
      fork(index);
    });

    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: killing the workers');
        for (const w of slots.keys()) w.process.kill('SIGKILL');
        return;
      }
      // Stopping on request is a clean exit, whatever happened to the workers before.
      failed = false;
      stop(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    log.info({ workers: n, pid: process.pid }, 'starting workers');
    for (let i = 0; i < n; i++) fork(i);
  });
}
