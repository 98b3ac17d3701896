import { RiskpipeError } from '../common/errors.js';
import { fieldsToObject } from '../models/index.js';
import type { Keys } from './keys.js';
import { BATCH_COUNTERS, type BatchStatus, type DeadLetterInfo } from './types.js';

export { fieldsToObject };

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ]);
}

/** The refusal of an append at or above the queue's depth limit (HTTP 503 with Retry-After). */
export function queueFullError(depth: number | string, maxDepth: number): RiskpipeError {
  return new RiskpipeError('RP_ERR_QUEUE_FULL', `Queue is full (depth ${depth} >= max ${maxDepth}); retry later`, { headers: { 'retry-after': '5' } });
}

/** A batch's counters as stored (strings or numbers) → BatchStatus. */
export function batchStatusFrom(batchId: string, h: Record<string, string | number>): BatchStatus {
  const c = Object.fromEntries(BATCH_COUNTERS.map((k) => [k, Math.max(0, Number(h[k] ?? 0))])) as Record<(typeof BATCH_COUNTERS)[number], number>;
  const terminal = c.low_risk + c.indexed + c.dead_lettered;
  return { batch_id: batchId, ...c, completed: c.queued > 0 ? terminal >= c.queued : c.total > 0 };
}

/** A dead-letter entry's fields → DeadLetterInfo. */
export function deadLetterInfo(id: string, f: Record<string, string>, keys: Pick<Keys, 'streamId'>, nowMs = Date.now()): DeadLetterInfo {
  let fields: Record<string, string> | null = null;
  try {
    const parsed: unknown = f.fields ? JSON.parse(f.fields) : null;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) fields = parsed as Record<string, string>;
  } catch {
    fields = null;
  }
  const failedMs = Date.parse(f.failed_at ?? '');
  return {
    id,
    stage: f.stage ?? '',
    sourceStream: f.source_stream ?? '',
    source: keys.streamId(f.source_stream ?? ''),
    sourceId: f.source_id ?? '',
    error: f.error ?? '',
    code: f.error_code ?? '',
    attempts: Number(f.deliveries ?? 0),
    failedAt: f.failed_at ?? '',
    ageS: Number.isNaN(failedMs) ? 0 : Math.max(0, (nowMs - failedMs) / 1000),
    fields,
    eventId: fields?.event_id ?? null,
    batchId: fields?.batch_id ?? null,
  };
}
