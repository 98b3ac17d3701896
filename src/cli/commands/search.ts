import { RiskpipeError } from '../../common/errors.js';
import { searchSettings } from '../index-settings.js';
import { resolveSettings } from '../settings.js';

/** `riskpipe up` serves the index API on its own port: tried after the index worker's default. */
const UP_DEFAULT_URL = 'http://127.0.0.1:8001';

/**
 * The base URLs to try: the one given (--url / RISKPIPE_INDEX_URL) alone, or, when none was given,
 * the index worker's default (8003) and then `riskpipe up`'s (8001), so the commands work against
 * either without flags.
 */
export function indexBases(url: string, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  return flags.url !== undefined || env.RISKPIPE_INDEX_URL ? [url] : [url, UP_DEFAULT_URL];
}

/** The base that answered last, so a polling command does not knock on a closed port every time. */
let answering: string | undefined;

/** One JSON request to the index API; error answers become RiskpipeErrors with the server's detail. */
export async function callIndexApi<T>(bases: string | string[], apiKey: string | undefined, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const list = typeof bases === 'string' ? [bases] : answering && bases.includes(answering) ? [answering] : bases;
  let res: Response | undefined;
  let url = '';
  const refused: string[] = [];
  for (const base of list) {
    url = `${base.replace(/\/+$/, '')}${path}`;
    try {
      res = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(apiKey ? { 'api-key': apiKey } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      answering = base;
      break;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      refused.push(`${base} (${cause})`);
    }
  }
  if (!res) {
    throw new RiskpipeError('RP_ERR_UPSTREAM_UNAVAILABLE', `cannot reach ${refused.join(' or ')}: is \`riskpipe index-worker\` (or \`riskpipe up\`) running there? Point --url / RISKPIPE_INDEX_URL at it`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    throw new RiskpipeError('RP_ERR_UPSTREAM_INVALID', `${url} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const detail = (json as { detail?: string } | null)?.detail ?? text.slice(0, 300);
    const code = res.status === 404 ? 'RP_ERR_NOT_FOUND' : res.status === 401 ? 'RP_ERR_UNAUTHORIZED' : res.status === 400 ? 'RP_ERR_CLI_INPUT' : 'RP_ERR_UPSTREAM_REJECTED';
    throw new RiskpipeError(code, `${method} ${path}: ${res.status} ${detail}`);
  }
  return json as T;
}

interface SearchAnswer {
  results: { event_id: string; score: number; content: string; platform: string; risk_category: string | null; risk_level: string | null; risk_score: number | null; incidents: { type: string; severity: string }[]; created_at: string }[];
  took_ms: number;
  index: string;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s).replace(/\s+/g, ' ');

/** `riskpipe search "…"`: asks a running index API, prints a table (or the JSON answer). */
export async function run(query: string, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(searchSettings, flags, env);
  const filters: Record<string, unknown> = {};
  if (cfg.platform) filters.platform = cfg.platform;
  if (cfg.category) filters.category = cfg.category;
  if (cfg.level) filters.level = cfg.level;
  if (cfg.since) filters.since = cfg.since;
  const answer = await callIndexApi<SearchAnswer>(indexBases(cfg.url, flags, env), cfg.apiKey, 'POST', '/v1/search', { query, k: cfg.k, filters });
  if (cfg.json) {
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return;
  }
  if (answer.results.length === 0) {
    process.stdout.write(`no indexed events match (${answer.took_ms} ms)\n`);
    return;
  }
  const rows = answer.results.map((r) => [
    r.score.toFixed(3),
    r.risk_level ?? '',
    r.risk_category ?? '',
    r.platform,
    r.created_at.slice(0, 16).replace('T', ' '),
    r.incidents.map((i) => `${i.type}/${i.severity}`).join(',') || '-',
    r.event_id,
    clip(r.content, 60),
  ]);
  const head = ['score', 'level', 'category', 'platform', 'created (UTC)', 'incidents', 'event_id', 'content'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n${answer.results.length} result(s) in ${answer.took_ms} ms (${answer.index} index)\n`);
}
