import { RiskpipeError } from '../../common/errors.js';
import type { StreamEntry } from '../tail/tail.js';

/*
 * `riskpipe tail-stream` against `riskpipe up`: the in-process bus lives inside the `up` process,
 * so its streams are followed over HTTP (GET /v1/streams/:stream/entries, a long poll) instead
 * of XREAD on Redis.
 */

export const UP_DEFAULT_URL = 'http://127.0.0.1:8001';

export interface HttpTailOptions {
  url: string;
  apiKey?: string;
  stream: string;
  fromStart: boolean;
  count?: number;
  blockMs: number;
  signal: AbortSignal;
  onStart?: (afterId: string, stream: string) => void;
  onEntry: (e: StreamEntry) => void;
}

/** Whether a `riskpipe up` answers at `url` (a quick probe: tail-stream's default when no Redis URL was given). */
export async function upAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  try {
    const res = await fetch(`${url}/v1/streams`, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 401) return true;
    if (!res.ok) return false;
    const body = (await res.json()) as { kind?: unknown };
    return typeof body.kind === 'string';
  } catch {
    return false;
  }
}

export async function tailOverHttp(o: HttpTailOptions): Promise<void> {
  const base = o.url.replace(/\/+$/, '');
  let after = o.fromStart ? '0-0' : '$';
  let printed = 0;
  let started = false;
  while (!o.signal.aborted && (o.count === undefined || printed < o.count)) {
    const want = Math.min(1000, o.count === undefined ? 1000 : o.count - printed);
    const q = new URLSearchParams({ after, count: String(want), wait_ms: String(o.blockMs) });
    let res: Response;
    try {
      res = await fetch(`${base}/v1/streams/${encodeURIComponent(o.stream)}/entries?${q}`, {
        headers: { accept: 'application/json', ...(o.apiKey ? { 'api-key': o.apiKey } : {}) },
        signal: AbortSignal.any([o.signal, AbortSignal.timeout(o.blockMs + 10_000)]),
      });
    } catch (err) {
      if (o.signal.aborted) return;
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new RiskpipeError('RP_ERR_UPSTREAM_UNAVAILABLE', `cannot reach ${base} (${cause}): is \`riskpipe up\` running there? Point --url at it, or --redis-url at a Redis`);
    }
    const body = (await res.json().catch(() => null)) as { detail?: string; stream?: string; entries?: { id: string; fields: Record<string, string> }[]; last_id?: string } | null;
    if (!res.ok || !body || !Array.isArray(body.entries)) {
      const code = res.status === 401 ? 'RP_ERR_UNAUTHORIZED' : res.status === 404 ? 'RP_ERR_NOT_FOUND' : 'RP_ERR_UPSTREAM_REJECTED';
      throw new RiskpipeError(code, `${base}: ${res.status} ${body?.detail ?? 'not a riskpipe up stream API'}`);
    }
    if (!started) {
      started = true;
      o.onStart?.(o.fromStart ? '0-0' : (body.entries[0]?.id ?? body.last_id ?? '$'), body.stream ?? o.stream);
    }
    for (const e of body.entries) {
      if (o.signal.aborted || (o.count !== undefined && printed >= o.count)) return;
      o.onEntry({ stream: body.stream ?? o.stream, id: e.id, fields: e.fields });
      printed++;
    }
    after = body.last_id ?? after;
  }
}
