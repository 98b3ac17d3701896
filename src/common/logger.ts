import { pino, stdSerializers, stdTimeFunctions, destination, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The one root logger. Components take `logger.child({ component })`. Message content is only
 * ever logged at debug level.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? 'info',
    base: { service: 'riskpipe' },
    timestamp: stdTimeFunctions.isoTime,
    serializers: { err: stdSerializers.err },
  };
  return pino(options, opts.destination ?? destination({ fd: 2, sync: true }));
}

/** A logger that writes nothing, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
