import type { Logger } from '../common/logger.js';

/**
 * Resolves on the first SIGTERM or SIGINT after running `close` (bounded by `deadlineMs`); a second
 * signal exits at once. Only the CLI layer touches process signals. `signals`: which to listen
 * for (a worker of `--workers` listens for SIGTERM only: src/cli/workers.ts).
 */
export function untilSignal(close: () => Promise<void>, log: Logger, deadlineMs = 25_000, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT']): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal: sig }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      log.info({ signal: sig }, 'shutting down: intake stopped, finishing in-flight work');
      const timer = setTimeout(() => {
        log.error({ deadlineMs }, 'shutdown deadline passed; exiting');
        process.exit(1);
      }, deadlineMs);
      timer.unref();
      close()
        .catch((err) => log.error({ err }, 'error during shutdown'))
        .finally(() => {
          clearTimeout(timer);
          for (const s of signals) process.off(s, onSignal);
          log.info('stopped');
          resolve();
        });
    };
    for (const s of signals) process.on(s, onSignal);
    // A worker ignores SIGINT rather than dying of it (Node's default) — its supervisor decides.
    if (!signals.includes('SIGINT')) process.on('SIGINT', () => {});
  });
}
