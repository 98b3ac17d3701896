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
  const fast = fastParseEvent(input as Record<string, unknown>, now);
  if (fast) return { ok: true, event: fast };
  return parseEventWithZod(input, now);
}

/** parseEvent through the zod model alone (the reference the fast path is tested against). */
export function parseEventWithZod(input: unknown, now: () => Date = () => new Date()): ParseEventResult {
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

// ---- the fast path ---------------------------------------------------------------------------
//
// The same checks and normalisation as EventInput, written out by hand for the common case of a
// valid event: zod was ~40% of the ingest stage's per-event validation. It answers only "valid,
// and here is the event" or "ask zod" (undefined) — every event it is not sure of, and every
// invalid one, goes through EventInput, so error messages have one source. test/unit/models.test.ts
// checks on generated inputs that it never disagrees with zod.

const PLATFORM_SET: ReadonlySet<string> = new Set(PLATFORMS);
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const HAS_ZONE = /[zZ]|[+-]\d{2}:?\d{2}$/;
/** The known metadata keys, in EventMetadata's order (zod writes them first, in this order). */
const METADATA_KEYS = ['user_reputation', 'author_reputation', 'account_age_days', 'previous_violations', 'is_reply_to', 'mentions', 'attachments'] as const;
const METADATA_KEY_SET: ReadonlySet<string> = new Set(METADATA_KEYS);

function fastId(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t.length >= 1 && t.length <= ID_MAX_CHARS && ID_PATTERN.test(t) ? t : undefined;
}

function fastEnum(v: unknown, allowed: ReadonlySet<string>): string | undefined {
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toLowerCase();
  return allowed.has(t) ? t : undefined;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The metadata as EventMetadata outputs it, or undefined to ask zod. */
function fastMetadata(m: Record<string, unknown>): Record<string, unknown> | undefined {
  if (Object.getPrototypeOf(m) !== Object.prototype) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of METADATA_KEYS) {
    if (!Object.prototype.hasOwnProperty.call(m, k)) continue;
    const v = m[k];
    switch (k) {
      case 'user_reputation':
      case 'author_reputation':
        if (!isNumber(v) || v < 0 || v > 1) return undefined;
        break;
      case 'account_age_days':
        if (!isNumber(v) || v < 0) return undefined;
        break;
      case 'previous_violations':
        if (!Number.isSafeInteger(v) || (v as number) < 0) return undefined;
        break;
      case 'is_reply_to':
        if (v !== null && (typeof v !== 'string' || v.length > ID_MAX_CHARS)) return undefined;
        break;
      case 'mentions':
        if (!Array.isArray(v) || v.length > 1000) return undefined;
        for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'string') return undefined;
        break;
      case 'attachments':
        if (!Array.isArray(v) || v.length > 1000) return undefined;
        for (let i = 0; i < v.length; i++) if (v[i] === undefined) return undefined;
        break;
    }
    out[k] = Array.isArray(v) ? v.slice() : v;
  }
  for (const k in m) {
    if (!Object.prototype.hasOwnProperty.call(m, k) || METADATA_KEY_SET.has(k)) continue;
    // Keys that would touch a prototype, and values JSON cannot carry: zod decides.
    if (k === '__proto__' || m[k] === undefined) return undefined;
    out[k] = m[k];
  }
  return out;
}

/** The event as parseEvent would return it, when the input is certainly valid; else undefined. */
export function fastParseEvent(o: Record<string, unknown>, now: () => Date): Event | undefined {
  if (Object.getPrototypeOf(o) !== Object.prototype) return undefined;
  const event_id = fastId(o.event_id);
  const event_type = fastEnum(o.event_type, EVENT_TYPE_SET);
  const platform = fastEnum(o.platform, PLATFORM_SET);
  const user_id = fastId(o.user_id);
  const author_id = fastId(o.author_id);
  if (event_id === undefined || event_type === undefined || platform === undefined || user_id === undefined || author_id === undefined) return undefined;
  let channel_id: string | null = null;
  if (o.channel_id !== undefined && o.channel_id !== null) {
    const c = fastId(o.channel_id);
    if (c === undefined) return undefined;
    channel_id = c;
  }
  if (typeof o.content !== 'string') return undefined;
  const content = o.content.trim();
  if (content.length < CONTENT_MIN_CHARS || content.length > CONTENT_MAX_CHARS) return undefined;
  let created_at: string;
  if (o.created_at === undefined || o.created_at === null) created_at = now().toISOString();
  else {
    if (typeof o.created_at !== 'string') return undefined;
    const t = o.created_at.trim();
    if (!ISO_DATE_TIME.test(t)) return undefined;
    // With a zone (or a date alone) zod's Date.parse check and its transform parse the same text.
    const zoned = HAS_ZONE.test(t) || t.length <= 10;
    if (!zoned && Number.isNaN(Date.parse(t))) return undefined;
    const d = new Date(zoned ? t : `${t}Z`);
    if (Number.isNaN(d.getTime())) return undefined;
    created_at = d.toISOString();
  }
  let metadata: Record<string, unknown> = {};
  if (o.metadata !== undefined && o.metadata !== null) {
    if (typeof o.metadata !== 'object' || Array.isArray(o.metadata)) return undefined;
    const m = fastMetadata(o.metadata as Record<string, unknown>);
    if (!m) return undefined;
    metadata = m;
  }
  return { event_id, event_type: event_type as EventType, platform: platform as Platform, channel_id, user_id, author_id, content, created_at, metadata: metadata as EventMetadata };
}
