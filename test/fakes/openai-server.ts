import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local server speaking the OpenAI HTTP protocol for POST /v1/chat/completions and
 * POST /v1/embeddings. Each request takes the next scripted reply for its path (or the default
 * reply when the script is empty): a status, a body, headers, and a delay before answering (to
 * trip client timeouts).
 */

export interface Reply {
  status?: number;
  body?: unknown;
  /** Sent as it is instead of JSON (malformed answers). */
  raw?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

export interface FakeOpenAI {
  url: string;
  /** The base URL clients are configured with: url + "/v1". */
  baseUrl: string;
  requests: { path: string; headers: IncomingMessage['headers']; body: any }[];
  script(path: '/v1/chat/completions' | '/v1/embeddings', ...replies: Reply[]): void;
  setDefault(path: '/v1/chat/completions' | '/v1/embeddings', reply: Reply | ((body: any) => Reply)): void;
  close(): Promise<void>;
}

/** A chat-completions answer whose message content is `content`. */
export function chatAnswer(content: string, finish = 'stop'): unknown {
  return {
    id: 'chatcmpl-test',
    object: 'chat.completion',
    created: 1_764_000_000,
    model: 'test-model',
    choices: [{ index: 0, finish_reason: finish, message: { role: 'assistant', content, refusal: null } }],
    usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
  };
}

/** Deterministic fake embeddings: `dim` numbers from the text's character codes. */
export function fakeEmbedding(text: string, dim: number): number[] {
  const v = new Array<number>(dim).fill(0);
  for (let i = 0; i < text.length; i++) v[(text.charCodeAt(i) * 31 + i) % dim] += 1;
  return v;
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const scripts = new Map<string, Reply[]>();
  const defaults = new Map<string, Reply | ((body: any) => Reply)>();
  const requests: FakeOpenAI['requests'] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      let body: any;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      requests.push({ path, headers: req.headers, body });
      const queued = scripts.get(path)?.shift();
      const d = defaults.get(path);
      const reply: Reply = queued ?? (typeof d === 'function' ? d(body) : d) ?? { status: 404, body: { error: { message: `no route ${path}` } } };
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
        res.end(reply.raw ?? JSON.stringify(reply.body ?? {}));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    script: (path, ...replies) => scripts.set(path, [...(scripts.get(path) ?? []), ...replies]),
    setDefault: (path, reply) => defaults.set(path, reply),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The default embeddings reply: fakeEmbedding of every input. */
export function embeddingsReply(dim: number): (body: any) => Reply {
  return (body) => ({
    body: {
      object: 'list',
      model: body.model,
      data: (body.input as string[]).map((t, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(t, dim) })),
      usage: { prompt_tokens: 1, total_tokens: 1 },
    },
  });
}
