import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RiskpipeError } from '../../common/errors.js';

/** One event read from the input, with where it came from (for error reports). */
export interface InputItem {
  /** 1-based line number (JSON Lines) or array index + 1 (JSON array). */
  line: number;
  event?: unknown;
  /** Set when the line could not even be read as JSON. */
  parseError?: string;
}

export interface SendOptions {
  /** Base URL of serve-ingest, e.g. http://127.0.0.1:8001. */
  url: string;
  apiKey?: string;
  /** Events per batch request. Default 200 (the server allows 500). */
  batchSize?: number;
  /** Batch requests in flight at once. Default 4. */
  concurrency?: number;
  /** Retries of a request answered 503 or not answered at all. Default 8. */
  maxRetries?: number;
  /** First backoff; doubles each retry, capped at 10 s. A Retry-After header wins. Default 250 ms. */
  initialBackoffMs?: number;
  /** Called after each finished batch with the running totals. */
  onProgress?: (done: number, total: number) => void;
}

export interface Rejection {
  line: number;
  event_id: string | null;
  error: string;
}

export interface SendSummary {
  total: number;
  queued: number;
  duplicates: number;
  rejected: number;
  /** Events that could not be delivered (retries exhausted, or a fatal HTTP answer). */
  failed: number;
  /** Requests retried after 503 or a connection failure. */
  retries: number;
  /** Rejections grouped by error message, most frequent first. */
  rejection_reasons: { error: string; count: number; examples: { line: number; event_id: string | null }[] }[];
  rejections: Rejection[];
  failures: string[];
  elapsed_ms: number;
}

/** Reads events from JSON Lines or a JSON array (`[...]` or `{"events": [...]}`). */
export function parseInput(text: string, source: string): InputItem[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && /^\{\s*"events"\s*:/.test(trimmed))) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      // Could still be JSON Lines whose first object starts with "events"; fall through if so.
      if (trimmed.startsWith('[')) throw new RiskpipeError('RP_ERR_CLI_INPUT', `${source}: not valid JSON: ${(err as Error).message}`);
      doc = undefined;
    }
    if (doc !== undefined) {
      const arr = Array.isArray(doc) ? doc : (doc as { events?: unknown }).events;
      if (!Array.isArray(arr)) throw new RiskpipeError('RP_ERR_CLI_INPUT', `${source}: expected a JSON array of events or {"events": [...]}`);
      return arr.map((event, i) => ({ line: i + 1, event }));
    }
  }
  const items: InputItem[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    try {
      items.push({ line: i + 1, event: JSON.parse(line) });
    } catch (err) {
      items.push({ line: i + 1, parseError: `line ${i + 1} is not valid JSON: ${(err as Error).message}` });
    }
  });
  return items;
}

export function readInputFile(path: string, stdin: () => string): InputItem[] {
  if (path === '-') return parseInput(stdin(), 'stdin');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return parseInput(text, path);
}

/** One quick message with generated ids, for `send --text`. */
export function textEvent(text: string, opts: { platform?: string; author?: string; channel?: string } = {}): Record<string, unknown> {
  const author = opts.author ?? 'cli-user';
  return {
    event_id: `cli-${randomUUID()}`,
    event_type: 'message_created',
    platform: opts.platform ?? 'web_chat',
    channel_id: opts.channel ?? 'cli',
    user_id: author,
    author_id: author,
    content: text,
    created_at: new Date().toISOString(),
  };
}

class FatalHttpError extends Error {}

interface BatchResultLine {
  index: number;
  event_id: string | null;
  status: 'queued' | 'duplicate' | 'rejected';
  error?: string;
}

/**
 * Sends events to serve-ingest in batches with bounded concurrency. 503 answers (queue full,
 * Redis away) and connection failures are retried with exponential backoff; 401 stops everything.
 * Never throws for per-event problems: they are counted in the summary.
 */
export async function sendEvents(items: InputItem[], opts: SendOptions): Promise<SendSummary> {
  const started = performance.now();
  const batchSize = Math.min(opts.batchSize ?? 200, 500);
  const concurrency = opts.concurrency ?? 4;
  const maxRetries = opts.maxRetries ?? 8;
  const initialBackoffMs = opts.initialBackoffMs ?? 250;
  const endpoint = `${opts.url.replace(/\/+$/, '')}/v1/events/ingest-batch`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers['api-key'] = opts.apiKey;

  const summary: SendSummary = {
    total: items.length, queued: 0, duplicates: 0, rejected: 0, failed: 0, retries: 0,
    rejection_reasons: [], rejections: [], failures: [], elapsed_ms: 0,
  };
  for (const it of items) {
    if (it.parseError) {
      summary.rejected++;
      summary.rejections.push({ line: it.line, event_id: null, error: it.parseError.replace(/^line \d+ is /, '') });
    }
  }
  const sendable = items.filter((it) => !it.parseError);
  const batches: InputItem[][] = [];
  for (let i = 0; i < sendable.length; i += batchSize) batches.push(sendable.slice(i, i + batchSize));

  let done = summary.rejected;
  let answered = 0; // events in batches the server answered
  let fatal: Error | undefined;

  const postBatch = async (batch: InputItem[]): Promise<BatchResultLine[]> => {
    const body = JSON.stringify({ events: batch.map((b) => b.event) });
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      let problem: string;
      try {
        res = await fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
      } catch (err) {
        problem = `cannot reach ${opts.url}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`;
      }
      if (res) {
        if (res.status === 200) return ((await res.json()) as { results: BatchResultLine[] }).results;
        const payload = (await res.json().catch(() => ({}))) as { detail?: string };
        if (res.status === 401) throw new FatalHttpError(`API key rejected (${payload.detail ?? 'unauthorized'}): set --api-key or RISKPIPE_API_KEY`);
        if (res.status !== 503) throw new FatalHttpError(`${endpoint} answered ${res.status}: ${payload.detail ?? res.statusText}`);
        problem = `${res.status}: ${payload.detail ?? 'service unavailable'}`;
        const retryAfterS = Number(res.headers.get('retry-after'));
        if (attempt < maxRetries) {
          summary.retries++;
          await sleep(Number.isFinite(retryAfterS) && retryAfterS > 0 ? Math.min(retryAfterS * 1000, 30_000) : backoff(attempt, initialBackoffMs));
          continue;
        }
      } else if (attempt < maxRetries) {
        summary.retries++;
        await sleep(backoff(attempt, initialBackoffMs));
        continue;
      }
      throw new Error(`gave up after ${maxRetries + 1} attempts: ${problem!}`);
    }
  };

  let next = 0;
  const worker = async () => {
    while (!fatal && next < batches.length) {
      const batch = batches[next++];
      try {
        const results = await postBatch(batch);
        answered += batch.length;
        results.forEach((r, i) => {
          const item = batch[r.index ?? i];
          if (r.status === 'queued') summary.queued++;
          else if (r.status === 'duplicate') summary.duplicates++;
          else {
            summary.rejected++;
            summary.rejections.push({ line: item.line, event_id: r.event_id, error: r.error ?? 'rejected' });
          }
        });
      } catch (err) {
        if (err instanceof FatalHttpError) fatal = err;
        summary.failures.push((err as Error).message);
      }
      done += batch.length;
      opts.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(batches.length, 1)) }, worker));
  // Failed: every event not answered, including batches never started after a fatal answer.
  summary.failed = sendable.length - answered;

  const groups = new Map<string, { error: string; count: number; examples: { line: number; event_id: string | null }[] }>();
  for (const r of summary.rejections.sort((a, b) => a.line - b.line)) {
    const g = groups.get(r.error) ?? { error: r.error, count: 0, examples: [] };
    g.count++;
    if (g.examples.length < 3) g.examples.push({ line: r.line, event_id: r.event_id });
    groups.set(r.error, g);
  }
  summary.rejection_reasons = [...groups.values()].sort((a, b) => b.count - a.count);
  summary.failures = [...new Set(summary.failures)];
  summary.elapsed_ms = Math.round(performance.now() - started);
  return summary;
}

function backoff(attempt: number, initialMs: number): number {
  return Math.min(initialMs * 2 ** attempt, 10_000) * (0.75 + Math.random() * 0.5);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The summary as a person reads it. */
export function formatSummary(s: SendSummary): string {
  const lines = [
    `sent ${s.total} events in ${(s.elapsed_ms / 1000).toFixed(1)}s: ${s.queued} queued, ${s.duplicates} duplicates, ${s.rejected} rejected, ${s.failed} failed` +
      (s.retries > 0 ? ` (${s.retries} retries after 503 or connection errors)` : ''),
  ];
  for (const r of s.rejection_reasons) {
    const ex = r.examples.map((e) => `line ${e.line}${e.event_id ? ` (${e.event_id})` : ''}`).join(', ');
    lines.push(`  rejected ×${r.count}: ${r.error} — ${ex}${r.count > r.examples.length ? ', …' : ''}`);
  }
  for (const f of s.failures) lines.push(`  failed: ${f}`);
  return lines.join('\n');
}
