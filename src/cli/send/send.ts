import type { BatchItemResult, FieldError } from '../../models/index.js';
import { NOT_JSON, type InputItem } from './input.js';
import { summarize, type SendSummary, type Tally } from './summary.js';

export { parseInput, parseJsonLines, readInputFile, textEvent, NOT_JSON, type InputItem } from './input.js';
export { formatSummary, type SendSummary, type RejectionGroup, type Rejection } from './summary.js';

/** serve-ingest's default (and usual) most events per batch request. */
export const MAX_BATCH_SIZE = 500;

export interface SendOptions {
  /** Base URL of serve-ingest, e.g. http://127.0.0.1:8001. */
  url: string;
  /** Sent as the `api-key` header. Default none. */
  apiKey?: string;
  /** Events per batch request. Default 200; capped at 500, the server's default maximum. */
  batchSize?: number;
  /** Batch requests in flight at once. Default 4. */
  concurrency?: number;
  /** Retries of a request answered 503/502/504/429 or not answered at all. Default 8. */
  maxRetries?: number;
  /** First backoff; doubles each retry up to maxBackoffMs, with jitter. Default 250 ms. */
  initialBackoffMs?: number;
  /** Default 10000 ms. A longer Retry-After from the server still wins (up to 60 s). */
  maxBackoffMs?: number;
  /** One request's time limit; a timed-out request is retried. Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Aborting stops new batches and retry waits; requests in flight finish. Unsent events count as failed. */
  signal?: AbortSignal;
  /** Called after each finished batch with the number of events dealt with so far. */
  onProgress?: (done: number, total: number) => void;
}

/** Why a batch was not (fully) delivered; `answered` counts its events that did get an answer before. */
class SendError extends Error {
  answered = 0;
}
/** A 401 or another answer that every other batch would get too: stops the whole run. */
class FatalSendError extends SendError {}
/** This batch could not be delivered (retries exhausted, a 500); other batches go on. */
class BatchFailedError extends SendError {}

type PostAnswer = { kind: 'results'; results: BatchItemResult[] } | { kind: 'too_large'; detail: string };

interface ErrorAnswer {
  detail?: string;
  code?: string;
}

/** Answers worth retrying: the server is overloaded or away, not the request wrong. */
const RETRY_STATUSES = new Set([429, 502, 503, 504]);
const MAX_RETRY_AFTER_MS = 60_000;
const NOT_SENT_AFTER_FATAL = 'not sent after the error above';
const NOT_SENT_INTERRUPTED = 'not sent: interrupted';

/**
 * Sends events to serve-ingest (`POST /v1/events/ingest-batch`) in batches, `concurrency` requests
 * at a time. Overload answers and connection failures are retried with exponential backoff,
 * never sooner than the server's Retry-After; a 401 stops everything; a 413 splits the batch (a
 * server configured with a smaller batch or body limit). Per-event problems never throw: they
 * are counted in the summary. A retried request whose first attempt did reach Redis shows up as
 * duplicates, which is the ingest API's at-least-once contract working as meant.
 */
export async function sendEvents(items: InputItem[], opts: SendOptions): Promise<SendSummary> {
  const startedMs = performance.now();
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 200, MAX_BATCH_SIZE));
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const maxRetries = Math.max(0, opts.maxRetries ?? 8);
  const initialBackoffMs = opts.initialBackoffMs ?? 250;
  const maxBackoffMs = opts.maxBackoffMs ?? 10_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const endpoint = `${opts.url.replace(/\/+$/, '')}/v1/events/ingest-batch`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (opts.apiKey) headers['api-key'] = opts.apiKey;

  const tally: Tally = { total: items.length, sent: 0, queued: 0, duplicates: 0, failed: 0, batches: 0, rejections: [], retryCauses: new Map(), failures: new Map(), fatal: null, interrupted: false };
  for (const it of items) {
    if (it.parseError !== undefined) tally.rejections.push({ line: it.line, at: it.at, event_id: null, error: NOT_JSON, detail: it.parseError });
  }
  const sendable = items.filter((it) => it.parseError === undefined);
  const batches: InputItem[][] = [];
  for (let i = 0; i < sendable.length; i += batchSize) batches.push(sendable.slice(i, i + batchSize));

  let done = tally.rejections.length;
  const stopped = () => tally.fatal !== null || opts.signal?.aborted === true;

  /** One POST, retried while the answer says "later"; returns the per-event results or a 413. */
  const post = async (batch: InputItem[]): Promise<PostAnswer> => {
    const body = JSON.stringify({ events: batch.map((b) => b.event) });
    for (let attempt = 0; ; attempt++) {
      let cause: string;
      let retryAfter: number | undefined;
      let res: Response | undefined;
      try {
        res = await fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(requestTimeoutMs) });
      } catch (err) {
        cause = connectionProblem(err);
      }
      if (res) {
        if (res.ok) {
          const { results, batchId } = await readResults(res, endpoint);
          if (batchId) (tally.batchIds ??= []).push(batchId);
          return { kind: 'results', results };
        }
        const answer = await readError(res);
        const detail = answer.detail ?? res.statusText;
        if (res.status === 401) throw new FatalSendError(`API key rejected: set --api-key or RISKPIPE_API_KEY (server said: ${detail})`);
        if (res.status === 413) return { kind: 'too_large', detail };
        if (!RETRY_STATUSES.has(res.status)) {
          const msg = `${endpoint} answered ${res.status}: ${detail}`;
          // A 500 is this batch's problem; any other 4xx (wrong URL, proxy refusing JSON) would hit every batch.
          throw res.status >= 500 ? new BatchFailedError(msg) : new FatalSendError(msg);
        }
        cause = `${res.status}${answer.code ? ` ${answer.code}` : ''}`;
        retryAfter = retryAfterMs(res.headers.get('retry-after'));
      }
      if (stopped()) throw new BatchFailedError(tally.fatal !== null ? NOT_SENT_AFTER_FATAL : `interrupted while retrying: ${describeCause(cause!, opts.url)}`);
      if (attempt >= maxRetries) {
        throw new BatchFailedError(`gave up after ${attempt + 1} attempt${attempt === 0 ? '' : 's'}: ${describeCause(cause!, opts.url)}`);
      }
      tally.retryCauses.set(cause!, (tally.retryCauses.get(cause!) ?? 0) + 1);
      const waitMs = Math.max(Math.min(retryAfter ?? 0, MAX_RETRY_AFTER_MS), backoffMs(attempt, initialBackoffMs, maxBackoffMs));
      await sleep(waitMs, opts.signal);
    }
  };

  /**
   * Sends one batch, halving it on 413 until it fits; an event too large on its own is rejected.
   * Returns how many of its events got an answer (the rest count as failed).
   */
  const sendBatch = async (batch: InputItem[]): Promise<number> => {
    if (stopped()) throw tally.fatal !== null ? new BatchFailedError(NOT_SENT_AFTER_FATAL) : new BatchFailedError(NOT_SENT_INTERRUPTED);
    tally.batches++;
    const answer = await post(batch);
    if (answer.kind === 'too_large') {
      if (batch.length === 1) {
        const it = batch[0];
        tally.rejections.push({ line: it.line, at: it.at, event_id: eventIdOf(it.event), error: answer.detail });
        return 1;
      }
      const half = Math.ceil(batch.length / 2);
      const first = await sendBatch(batch.slice(0, half));
      try {
        return first + (await sendBatch(batch.slice(half)));
      } catch (err) {
        if (err instanceof SendError) err.answered += first;
        throw err;
      }
    }
    answer.results.forEach((r, i) => {
      const it = batch[typeof r.index === 'number' ? r.index : i];
      if (r.status === 'queued') tally.queued++;
      else if (r.status === 'duplicate') tally.duplicates++;
      else tally.rejections.push({ line: it.line, at: it.at, event_id: r.event_id ?? eventIdOf(it.event), error: r.error ?? 'rejected', errors: r.errors });
    });
    return batch.length;
  };

  let next = 0;
  const worker = async () => {
    while (!stopped() && next < batches.length) {
      const batch = batches[next++];
      let answered = 0;
      try {
        answered = await sendBatch(batch);
      } catch (err) {
        const e = err instanceof SendError ? err : new BatchFailedError(`${endpoint}: ${(err as Error).message}`);
        if (e instanceof FatalSendError) tally.fatal ??= e.message;
        // A batch split after a 413 may have failed half-way: its first half did get answers.
        answered = e.answered;
        const msg = e.message;
        tally.failures.set(msg, (tally.failures.get(msg) ?? 0) + 1);
      }
      tally.sent += answered;
      tally.failed += batch.length - answered;
      done += batch.length;
      opts.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(batches.length, 1)) }, worker));

  const unsent = batches.slice(next).reduce((n, b) => n + b.length, 0);
  if (unsent > 0) {
    tally.failed += unsent;
    const why = tally.fatal !== null ? NOT_SENT_AFTER_FATAL : NOT_SENT_INTERRUPTED;
    tally.failures.set(why, (tally.failures.get(why) ?? 0) + batches.length - next);
  }
  tally.interrupted = opts.signal?.aborted === true;
  return summarize(tally, Math.round(performance.now() - startedMs));
}

async function readResults(res: Response, endpoint: string): Promise<{ results: BatchItemResult[]; batchId?: string }> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { results?: BatchItemResult[]; batch_id?: unknown };
    if (Array.isArray(body.results)) return { results: body.results, batchId: typeof body.batch_id === 'string' ? body.batch_id : undefined };
  } catch {
    /* reported below */
  }
  throw new BatchFailedError(`${endpoint} answered ${res.status} but not like serve-ingest (no "results" array): is --url right?`);
}

async function readError(res: Response): Promise<ErrorAnswer> {
  try {
    const body = (await res.json()) as ErrorAnswer & { errors?: FieldError[] };
    return body && typeof body === 'object' ? body : {};
  } catch {
    return {};
  }
}

function eventIdOf(event: unknown): string | null {
  const id = event && typeof event === 'object' ? (event as { event_id?: unknown }).event_id : undefined;
  return typeof id === 'string' ? id : null;
}

/** A short, groupable cause for a request that got no answer: "timeout", "ECONNREFUSED", … */
function connectionProblem(err: unknown): string {
  const e = err as Error & { cause?: Error & { code?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

function describeCause(cause: string, url: string): string {
  if (/^\d{3}\b/.test(cause)) return `server answered ${cause}`;
  if (cause === 'timeout') return `no answer from ${url} in time`;
  return `cannot reach ${url} (${cause})`;
}

/** Retry-After in ms: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = header.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Exponential backoff with ±25% jitter, so that concurrent batches do not retry in lockstep. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random = Math.random): number {
  return Math.min(initialMs * 2 ** attempt, maxMs) * (0.75 + random() * 0.5);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
