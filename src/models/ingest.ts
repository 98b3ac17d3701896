import { z } from 'zod';
import type { FieldError } from './event.js';

export const IngestStatus = z.enum(['queued', 'duplicate']);
export type IngestStatus = z.infer<typeof IngestStatus>;

/** Answer to `POST /v1/events/ingest`. */
export interface IngestResponse {
  event_id: string;
  status: IngestStatus;
  stream_id: string | null;
  /** The stream entry id again, under the original service's name. */
  position: string | null;
  ingestion_time_ms: number;
  duplicate_of?: 'content' | 'event_id';
}

/** One line of a batch answer, in input order. */
export interface BatchItemResult {
  index: number;
  event_id: string | null;
  status: 'queued' | 'duplicate' | 'rejected';
  stream_id?: string | null;
  /** The stream entry id again, under the original service's name (null unless queued). */
  position?: string | null;
  /** The whole batch's time so far: its events are queued in one round trip. */
  ingestion_time_ms?: number;
  duplicate_of?: 'content' | 'event_id';
  /** Rejected items: the original service's failed-item shape `{status_code, detail}`. */
  status_code?: number;
  detail?: string;
  error?: string;
  errors?: FieldError[];
}

/** Answer to `POST /v1/events/ingest-batch`. */
export interface BatchResponse {
  batch_id: string;
  total: number;
  queued: number;
  duplicates: number;
  errors: number;
  results: BatchItemResult[];
  batch_time_ms: number;
}

/** Error body of every non-2xx answer, as the original Python services sent it. */
export interface ErrorBody {
  detail: string;
  code?: string;
  errors?: FieldError[];
}
