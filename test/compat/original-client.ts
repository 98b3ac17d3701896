import { request } from 'node:http';
import { BIN, ROOT, assertBuilt, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';

/*
 * The original services' clients, as they called them: Python httpx (`httpx.Client(base_url=...,
 * headers={"api-key": KEY})`), JSON bodies for ingestion, query parameters and no body for
 * screening. Requests go over real HTTP with the headers httpx sends, not through inject().
 */

/** The keys of the original deployment (docker-compose `API_KEYS=test-key,dev-key`). */
export const ORIGINAL_KEYS = 'test-key,dev-key';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json(): any;
}

/** A minimal httpx.Client: base URL, default headers, `params=` and `json=`. */
export class HttpxLikeClient {
  constructor(
    readonly baseUrl: string,
    readonly headers: Record<string, string> = {},
  ) {}

  get(path: string, opts: { params?: Record<string, string> } = {}): Promise<Answer> {
    return this.send('GET', path, opts);
  }

  post(path: string, opts: { params?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    return this.send('POST', path, opts);
  }

  private send(method: string, path: string, opts: { params?: Record<string, string>; json?: unknown; headers?: Record<string, string> }): Promise<Answer> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(opts.params ?? {})) url.searchParams.append(k, v);
    // httpx sends Content-Length: 0 and no Content-Type on a POST without a body.
    const body = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json));
    const headers: Record<string, string> = {
      host: url.host,
      accept: '*/*',
      'accept-encoding': 'gzip, deflate',
      connection: 'keep-alive',
      'user-agent': 'python-httpx/0.27.0',
      ...this.headers,
      ...opts.headers,
    };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    } else if (method === 'POST') headers['content-length'] = '0';
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
}

/** An event as the original ingestion service's clients built it (its field names). */
export function originalEvent(over: Record<string, unknown> = {}): Record<string, unknown> {
  const n = Math.random().toString(36).slice(2, 10);
  return {
    event_id: `evt-${n}`,
    event_type: 'message_created',
    platform: 'discord',
    channel_id: 'general',
    user_id: `user-${n}`,
    author_id: `user-${n}`,
    content: `hello everyone, message ${n}`,
    created_at: new Date().toISOString(),
    metadata: { user_reputation: 0.8, account_age_days: 365, previous_violations: 0 },
    ...over,
  };
}

export interface Service {
  url: string;
  port: number;
  output: () => string;
  child: ReturnType<typeof startCli>['child'];
  exited: ReturnType<typeof startCli>['exited'];
  /** SIGTERM, then waits for the exit; SIGKILL after `ms`. */
  stop(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `riskpipe <command>` on a free port and waits until `waitPath` answers below 500 (or 200 when `ready`). */
export async function startService(
  command: 'serve-ingest' | 'screen-worker',
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { ready?: boolean; timeoutMs?: number } = {},
): Promise<Service> {
  assertBuilt();
  const port = await freePort();
  const svc = startCli([command, '--host', '127.0.0.1', '--port', String(port), ...args], { LOG_LEVEL: 'info', ...env });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (ms = 15_000) => {
    if (svc.child.exitCode === null && svc.child.signalCode === null) svc.child.kill('SIGTERM');
    const timer = setTimeout(() => svc.child.kill('SIGKILL'), ms);
    const res = await svc.exited;
    clearTimeout(timer);
    return res;
  };
  try {
    await waitForHttp(`${url}/health`, opts.timeoutMs ?? 30_000);
    if (opts.ready) {
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      while ((await fetch(`${url}/ready`)).status !== 200) {
        if (Date.now() > deadline) throw new Error(`${command} did not get ready:\n${svc.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop(1000);
    throw new Error(`${(err as Error).message}\n--- ${command} output ---\n${svc.output()}`);
  }
  return { url, port, output: svc.output, child: svc.child, exited: svc.exited, stop };
}

export { BIN, ROOT };
