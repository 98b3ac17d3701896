import { z } from 'zod';
import { Event } from './event.js';
import { RiskPrediction } from './risk.js';

/** Bumped when a stream entry's fields change incompatibly; readers reject versions they do not know. */
export const STREAM_SCHEMA_VERSION = '1';

/** Default stream and group names; src/stream/keys.ts puts them behind the prefix and hash tag. */
export const STREAMS = {
  raw: 'events:raw',
  reasoning: 'events:reasoning_queue',
  lowRisk: 'events:low_risk',
  deadletter: 'events:deadletter',
} as const;
export const GROUPS = { screening: 'risk-screening', indexing: 'indexing' } as const;

/** Fields of an `events:raw` entry (all strings, as Redis stores them). */
export const RawEntry = z.object({
  v: z.string(),
  event_id: z.string(),
  event: z.string(), // JSON of Event
  ingested_at: z.string(), // ISO 8601
  batch_id: z.string(),
  traceparent: z.string(),
});
export type RawEntry = z.infer<typeof RawEntry>;

/** Fields of an entry routed by the screening stage (`events:reasoning_queue`, `events:low_risk`). */
export const RoutedEntry = z.object({
  v: z.string(),
  event_id: z.string(),
  event: z.string(), // JSON of Event
  prediction: z.string(), // JSON of RiskPrediction
  source_id: z.string(), // the events:raw entry id
  traceparent: z.string(),
  screened_at: z.string(),
  /** The batch the event was ingested in (riskpipe ≥ 0.2). */
  batch_id: z.string().optional(),
});
export type RoutedEntry = z.infer<typeof RoutedEntry>;

/** Fields of an `events:deadletter` entry: enough to inspect and replay. */
export const DeadletterEntry = z.object({
  v: z.string(),
  stage: z.string(),
  source_stream: z.string(),
  source_id: z.string(),
  error: z.string(),
  error_code: z.string(),
  deliveries: z.string(),
  fields: z.string(), // JSON object of the original entry's fields
  failed_at: z.string(),
  traceparent: z.string().optional(),
});
export type DeadletterEntry = z.infer<typeof DeadletterEntry>;

/** Parses a routed entry back into typed parts. Throws a ZodError on a malformed entry. */
export function decodeRouted(fields: Record<string, string>): { event: Event; prediction: RiskPrediction; entry: RoutedEntry } {
  const entry = RoutedEntry.parse(fields);
  return { entry, event: Event.parse(JSON.parse(entry.event)), prediction: RiskPrediction.parse(JSON.parse(entry.prediction)) };
}

/** Redis returns fields as a flat [k, v, k, v] array; this makes it an object. */
export function fieldsToObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
