import { z } from 'zod';
import { ConfigError, type FieldProblem } from '../common/errors.js';

/**
 * A setting read from a flag, else an environment variable, else its default. Only the CLI layer
 * reads argv and process.env; library code is handed the typed result.
 */
export interface Setting<T extends z.ZodType = z.ZodType> {
  /** commander's camelCase option key, e.g. "maxQueueDepth" for --max-queue-depth */
  flag?: string;
  env?: string;
  schema: T;
  default?: z.input<T>;
}

export type SettingsSpec = Record<string, Setting>;
export type Resolved<S extends SettingsSpec> = { [K in keyof S]: z.output<S[K]['schema']> };

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Where a setting comes from, for error messages: "--port / RISKPIPE_PORT". */
export function settingSources(s: Setting): string {
  return [s.flag ? `--${kebab(s.flag)}` : null, s.env].filter(Boolean).join(' / ');
}

export function resolveSettings<S extends SettingsSpec>(spec: S, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Resolved<S> {
  const out: Record<string, unknown> = {};
  const problems: FieldProblem[] = [];
  for (const [name, s] of Object.entries(spec)) {
    let raw: unknown = s.flag !== undefined ? flags[s.flag] : undefined;
    if (raw === undefined && s.env && env[s.env] !== undefined && env[s.env] !== '') raw = env[s.env];
    if (raw === undefined) raw = s.default;
    const res = s.schema.safeParse(raw);
    if (res.success) out[name] = res.data;
    else {
      const where = settingSources(s);
      for (const issue of res.error.issues) {
        problems.push({ path: where ? `${name} (${where})` : name, message: `${issue.message} (got ${JSON.stringify(raw)})` });
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Resolved<S>;
}

// Reusable setting schemas ------------------------------------------------------------------

export const port = z.coerce
  .number({ error: 'must be a number' })
  .int({ error: 'must be a whole number' })
  .min(0, { error: 'must be between 0 and 65535' })
  .max(65535, { error: 'must be between 0 and 65535' });

export const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(max, { error: `must be at most ${max}` });

export const nonNegativeInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be 0 or more' })
    .max(max, { error: `must be at most ${max}` });

export const unitInterval = z.coerce
  .number({ error: 'must be a number' })
  .min(0, { error: 'must be between 0 and 1' })
  .max(1, { error: 'must be between 0 and 1' });

export const redisUrl = z
  .string()
  .refine((s) => /^rediss?:\/\/[^\s]+$/.test(s) || /^redis\+unix:\/\//.test(s), { error: 'must be a redis:// or rediss:// URL' });

/** Key/stream prefix: printable, no spaces; "" means none. */
export const prefix = z.string().regex(/^[A-Za-z0-9_.:{}\-]*$/, { error: 'may use only letters, digits and _ . : { } -' }).max(100);

/**
 * Comma-separated API keys; empty means authentication is off. Short keys (the original
 * deployment's `test-key,dev-key`) are accepted and warned about at start-up; only an empty key
 * between commas is refused.
 */
export const apiKeys = z
  .string()
  .transform((s) => (s.trim() === '' ? [] : s.split(',').map((k) => k.trim())))
  .refine((keys) => keys.every((k) => k.length > 0), { error: 'a key is empty (a stray comma?)' });

export const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Settings every Redis-backed command shares. */
export const sharedSettings = {
  redisUrl: { flag: 'redisUrl', env: 'REDIS_URL', schema: redisUrl, default: 'redis://127.0.0.1:6379' },
  prefix: { flag: 'prefix', env: 'RISKPIPE_PREFIX', schema: prefix, default: '' },
  logLevel: { flag: 'logLevel', env: 'LOG_LEVEL', schema: logLevel, default: 'info' },
} satisfies SettingsSpec;
