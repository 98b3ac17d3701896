import { z } from 'zod';

/** Platforms an event may come from. Input is matched case-insensitively. */
export const PLATFORMS = ['discord', 'slack', 'twitch', 'telegram', 'web_chat', 'twitter', 'reddit'] as const;
/** Event types. Input is matched case-insensitively. */
export const EVENT_TYPES = [
  'message_created',
  'message_edited',
  'message_deleted',
  'reaction_added',
  'reaction_removed',
  'user_mentioned',
  'thread_created',
  'channel_created',
  'user_joined',
  'user_left',
] as const;

export const CONTENT_MIN_CHARS = 1;
export const CONTENT_MAX_CHARS = 10_000;
export const ID_MAX_CHARS = 500;
/** Ids are opaque to us but end up in Redis keys, logs and URLs: keep them to a safe set. */
export const ID_PATTERN = /^[A-Za-z0-9_.:@#\/+=-]+$/;

/** The fields a client must send; reported together as "Missing required fields: [...]". */
export const REQUIRED_EVENT_FIELDS = ['event_id', 'event_type', 'platform', 'content', 'user_id', 'author_id'] as const;

function caseInsensitiveEnum<const T extends readonly [string, ...string[]]>(values: T, what: string) {
  return z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() : v),
    z.enum(values, { error: (iss) => (iss.input === undefined ? `Missing required field` : `Invalid ${what}: ${JSON.stringify(iss.input)} (allowed: ${values.join(', ')})`) }),
  );
}

export const Platform = caseInsensitiveEnum(PLATFORMS, 'platform');
export type Platform = (typeof PLATFORMS)[number];
export const EventType = caseInsensitiveEnum(EVENT_TYPES, 'event_type');
export type EventType = (typeof EVENT_TYPES)[number];

function idField(name: string) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? 'Missing required field' : `${name} must be a string`) })
    .trim()
    .min(1, { error: `${name} must not be empty` })
    .max(ID_MAX_CHARS, { error: `${name} too long (max: ${ID_MAX_CHARS})` })
    .regex(ID_PATTERN, { error: `${name} has characters outside A-Z a-z 0-9 _ . : @ # / + = -` });
}

const unit = (name: string) =>
  z.number({ error: `${name} must be a number` }).min(0, { error: `${name} must be between 0 and 1` }).max(1, { error: `${name} must be between 0 and 1` });

/**
 * Context about the author and the message. Known keys are checked; unknown keys are kept as they
 * are so that clients can pass their own context through the pipeline.
 */
export const EventMetadata = z
  .object({
    user_reputation: unit('user_reputation').optional(),
    author_reputation: unit('author_reputation').optional(),
    account_age_days: z.number({ error: 'account_age_days must be a number' }).min(0, { error: 'account_age_days must be >= 0' }).optional(),
    previous_violations: z
      .number({ error: 'previous_violations must be a number' })
      .int({ error: 'previous_violations must be an integer' })
      .min(0, { error: 'previous_violations must be >= 0' })
      .optional(),
    is_reply_to: z.string({ error: 'is_reply_to must be a string' }).max(ID_MAX_CHARS).nullable().optional(),
    mentions: z.array(z.string()).max(1000).optional(),
    attachments: z.array(z.unknown()).max(1000).optional(),
  })
  .loose();
export type EventMetadata = z.infer<typeof EventMetadata>;

/** ISO 8601 date-time with a time zone (or Z); normalised to UTC `toISOString()` form. */
const IsoDateTime = z
  .string({ error: 'created_at must be an ISO 8601 string' })
  .trim()
  .refine((s) => /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s)), {
    error: 'created_at must be an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z',
  })
  .transform((s) => new Date(/[zZ]|[+-]\d{2}:?\d{2}$/.test(s) || s.length <= 10 ? s : `${s}Z`).toISOString());

/** An event as a client sends it; parsing normalises it into an `Event`. */
export const EventInput = z.object({
  event_id: idField('event_id'),
  event_type: EventType,
  platform: Platform,
  channel_id: idField('channel_id').nullable().optional(),
  user_id: idField('user_id'),
  author_id: idField('author_id'),
  content: z
    .string({ error: (iss) => (iss.input === undefined ? 'Missing required field' : 'content must be a string') })
    .trim()
    .min(CONTENT_MIN_CHARS, { error: `Content too short (min: ${CONTENT_MIN_CHARS})` })
    .max(CONTENT_MAX_CHARS, { error: `Content too long (max: ${CONTENT_MAX_CHARS})` }),
  created_at: z.preprocess((v) => (v === null ? undefined : v), IsoDateTime.optional()),
  metadata: z.preprocess((v) => (v === null ? undefined : v), EventMetadata.optional()),
});
export type EventInput = z.input<typeof EventInput>;

/** A validated, normalised event: what every stage passes around. */
export const Event = z.object({
  event_id: z.string(),
  event_type: z.enum(EVENT_TYPES),
  platform: z.enum(PLATFORMS),
  channel_id: z.string().nullable(),
  user_id: z.string(),
  author_id: z.string(),
  content: z.string().min(CONTENT_MIN_CHARS).max(CONTENT_MAX_CHARS),
  created_at: z.string(),
  metadata: EventMetadata,
});
export type Event = z.infer<typeof Event>;

export interface FieldError {
  path: string;
  message: string;
}

export type ParseEventResult = { ok: true; event: Event } | { ok: false; detail: string; errors: FieldError[] };

/**
 * Validates and normalises one event. Every problem is reported (not just the first); missing
 * required fields are gathered into one "Missing required fields: [...]" error, as the original
 * Python service did.
 */
export function parseEvent(input: unknown, now: () => Date = () => new Date()): ParseEventResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, detail: 'Event must be a JSON object', errors: [{ path: '', message: 'Event must be a JSON object' }] };
  }
  const res = EventInput.safeParse(input);
  if (res.success) {
    const e = res.data;
    return {
      ok: true,
      event: {
        event_id: e.event_id,
        event_type: e.event_type,
        platform: e.platform,
        channel_id: e.channel_id ?? null,
        user_id: e.user_id,
        author_id: e.author_id,
        content: e.content,
        created_at: e.created_at ?? now().toISOString(),
        metadata: e.metadata ?? {},
      },
    };
  }
  const obj = input as Record<string, unknown>;
  const missing = REQUIRED_EVENT_FIELDS.filter((f) => obj[f] === undefined || obj[f] === null);
  const errors: FieldError[] = [];
  for (const f of missing) errors.push({ path: f, message: 'Missing required field' });
  for (const issue of res.error.issues) {
    const path = issue.path.map(String).join('.');
    if (missing.includes(path as (typeof REQUIRED_EVENT_FIELDS)[number])) continue;
    errors.push({ path, message: issue.message });
  }
  const others = errors.filter((e) => !missing.includes(e.path as (typeof REQUIRED_EVENT_FIELDS)[number])).map((e) => `${e.path}: ${e.message}`);
  const detail = [missing.length > 0 ? `Missing required fields: [${missing.join(', ')}]` : '', ...others].filter(Boolean).join('; ');
  return { ok: false, detail, errors };
}
