import { scrubError, scrubUrl } from './scrub.js';
import { pino, stdTimeFunctions, destination, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The one root logger. Components take `logger.child({ component })`. Errors (`err`) pass
 * through `scrubError` and URLs lose their query string, at every level: command arguments
 * and message content never reach the log.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service: 'riskpipe' },
    timestamp: stdTimeFunctions.isoTime,
    serializers: { err: scrubError, error: scrubError, url: scrubUrl },
  };
  return pino(options, opts.destination ?? destination({ fd: 2, sync: true }));
}

/** A logger that writes nothing, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
