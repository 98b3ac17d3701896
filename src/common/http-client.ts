import { PermanentError, RiskpipeError } from './errors.js';

/*
 * JSON over HTTP to the services stage 3 calls (OpenAI-compatible chat completions and
 * embeddings): a timeout per attempt, retries with exponential backoff and full jitter on 429,
 * 5xx, timeouts and connection errors, honouring Retry-After (seconds or an HTTP date). Other
 * 4xx answers are not retried: the request itself is wrong (bad key, unknown model).
 */

export interface RetryOptions {
  /** One attempt gives up after this. Default 30000 ms. */
  timeoutMs?: number;
  /** Retries after the first attempt. Default 3. */
  maxRetries?: number;
  /** First backoff; doubles per retry. Default 250 ms. */
  baseDelayMs?: number;
  /** Longest wait between attempts, Retry-After included: a longer Retry-After ends the retries. Default 20000 ms. */
  maxDelayMs?: number;
  /** Tests shorten waits through this. */
  sleep?: (ms: number) => Promise<void>;
}

export interface JsonRequest extends RetryOptions {
  url: string;
  body: unknown;
  headers?: Record<string, string>;
  /** Names the service in errors, e.g. "incident LLM". */
  what: string;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Milliseconds a Retry-After header asks for, or undefined. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const s = Number(header);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * POSTs JSON and returns the parsed JSON answer. Throws RP_ERR_UPSTREAM_UNAVAILABLE (retryable)
 * when the retries ran out, RP_ERR_UPSTREAM_REJECTED (permanent) on another 4xx, and
 * RP_ERR_UPSTREAM_INVALID when a 2xx answer is not JSON.
 */
export async function postJson(req: JsonRequest): Promise<unknown> {
  const timeoutMs = req.timeoutMs ?? 30_000;
  const maxRetries = req.maxRetries ?? 3;
  const base = req.baseDelayMs ?? 250;
  const maxDelay = req.maxDelayMs ?? 20_000;
  const sleep = req.sleep ?? defaultSleep;
  let last = '';
  for (let attempt = 0; ; attempt++) {
    let wait: number | undefined;
    try {
      const res = await fetch(req.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...req.headers },
        body: JSON.stringify(req.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.ok) {
        try {
          return JSON.parse(text);
        } catch {
          throw new RiskpipeError('RP_ERR_UPSTREAM_INVALID', `${req.what} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
        }
      }
      last = `${req.what} answered ${res.status}: ${text.slice(0, 300)}`;
      if (res.status !== 429 && res.status < 500) throw new PermanentError('RP_ERR_UPSTREAM_REJECTED', last);
      wait = retryAfterMs(res.headers.get('retry-after'));
    } catch (err) {
      if (err instanceof RiskpipeError) throw err;
      const e = err as Error & { cause?: { code?: string; message?: string } };
      last =
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `${req.what} did not answer within ${timeoutMs} ms`
          : `${req.what} is unreachable: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
    }
    if (attempt >= maxRetries) break;
    if (wait !== undefined && wait > maxDelay) {
      last += ` (asked to retry after ${Math.round(wait)} ms, more than the ${maxDelay} ms allowed)`;
      break;
    }
    await sleep(wait ?? Math.random() * Math.min(maxDelay, base * 2 ** attempt));
  }
  throw new RiskpipeError('RP_ERR_UPSTREAM_UNAVAILABLE', `${last} (after ${maxRetries + 1} attempts)`);
}
