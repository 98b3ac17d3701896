import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A local server speaking the part of Qdrant's REST API that QdrantEventIndex uses (the shapes of
 * Qdrant 1.x's OpenAPI: {"result", "status", "time"} envelopes):
 *   GET  /collections/{name}/exists        PUT  /collections/{name}           GET /collections/{name}
 *   PUT  /collections/{name}/index          PUT  /collections/{name}/points    (upsert)
 *   POST /collections/{name}/points/delete  POST /collections/{name}/points/query
 *   POST /collections/{name}/points/count
 * Filters: `must` of `match.value`, `match.any` and `range`. Scores are cosine similarities.
 * `failNext(status, n)` answers the next n requests with that status; `requests` logs every call.
 */

interface Point {
  id: string | number;
  vector: number[];
  payload: Record<string, unknown>;
}
interface Collection {
  size: number;
  distance: string;
  points: Map<string, Point>;
  indexes: Map<string, string>;
}

export interface FakeQdrant {
  url: string;
  collections: Map<string, Collection>;
  requests: { method: string; path: string; body: unknown }[];
  failNext(status: number, n?: number): void;
  close(): Promise<void>;
}

function cosine(a: number[], b: number[]): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : d / Math.sqrt(na * nb);
}

function matches(payload: Record<string, unknown>, filter: { must?: Record<string, any>[] } | undefined): boolean {
  for (const cond of filter?.must ?? []) {
    const v = payload[cond.key];
    if (cond.match) {
      if ('value' in cond.match && v !== cond.match.value) return false;
      if ('any' in cond.match && !cond.match.any.includes(v)) return false;
    }
    if (cond.range) {
      if (typeof v !== 'number') return false;
      if (cond.range.gte !== undefined && !(v >= cond.range.gte)) return false;
      if (cond.range.gt !== undefined && !(v > cond.range.gt)) return false;
      if (cond.range.lt !== undefined && !(v < cond.range.lt)) return false;
      if (cond.range.lte !== undefined && !(v <= cond.range.lte)) return false;
    }
  }
  return true;
}

export async function startFakeQdrant(): Promise<FakeQdrant> {
  const collections = new Map<string, Collection>();
  const requests: FakeQdrant['requests'] = [];
  let failures: { status: number; n: number } | undefined;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const ok = (res: ServerResponse, result: unknown) => send(res, 200, { result, status: 'ok', time: 0.0001 });
  const notFound = (res: ServerResponse, name: string) => send(res, 404, { status: { error: `Not found: Collection \`${name}\` doesn't exist!` }, time: 0 });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const body = raw ? JSON.parse(raw) : undefined;
    requests.push({ method: req.method ?? '', path: url.pathname, body });
    if (failures && failures.n > 0) {
      failures.n--;
      return send(res, failures.status, { status: { error: 'injected failure' }, time: 0 });
    }
    const m = /^\/collections\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m) return req.method === 'GET' && url.pathname === '/' ? ok(res, undefined) : send(res, 404, { status: { error: 'no route' } });
    const name = decodeURIComponent(m[1]);
    const rest = m[2] ?? '';
    const col = collections.get(name);
    const route = `${req.method} ${rest}`;
    if (route === 'GET /exists') return ok(res, { exists: collections.has(name) });
    if (route === 'PUT ') {
      if (col) return send(res, 409, { status: { error: `Wrong input: Collection \`${name}\` already exists!` }, time: 0 });
      collections.set(name, { size: body.vectors.size, distance: body.vectors.distance, points: new Map(), indexes: new Map() });
      return ok(res, true);
    }
    if (!col) return notFound(res, name);
    switch (route) {
      case 'GET ':
        return ok(res, {
          status: 'green',
          points_count: col.points.size,
          config: { params: { vectors: { size: col.size, distance: col.distance } } },
          payload_schema: Object.fromEntries([...col.indexes].map(([k, t]) => [k, { data_type: t, points: col.points.size }])),
        });
      case 'PUT /index':
        col.indexes.set(body.field_name, body.field_schema);
        return ok(res, { operation_id: 1, status: 'completed' });
      case 'PUT /points':
        for (const p of body.points as Point[]) {
          if (p.vector.length !== col.size) return send(res, 400, { status: { error: `Wrong input: Vector dimension error: expected dim: ${col.size}, got ${p.vector.length}` } });
        }
        for (const p of body.points as Point[]) col.points.set(String(p.id), p);
        return ok(res, { operation_id: 2, status: 'completed' });
      case 'POST /points/delete':
        for (const id of body.points) col.points.delete(String(id));
        return ok(res, { operation_id: 3, status: 'completed' });
      case 'POST /points/count':
        return ok(res, { count: [...col.points.values()].filter((p) => matches(p.payload, body?.filter)).length });
      case 'POST /points/query': {
        const hits = [...col.points.values()]
          .filter((p) => matches(p.payload, body.filter))
          .map((p) => ({ id: p.id, version: 1, score: cosine(p.vector, body.query), payload: body.with_payload ? p.payload : undefined }))
          .sort((a, b) => b.score - a.score)
          .slice(0, body.limit ?? 10);
        return ok(res, { points: hits });
      }
      default:
        return send(res, 404, { status: { error: `no route ${route}` } });
    }
  };

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      try {
        handle(req, res, raw);
      } catch (err) {
        send(res, 500, { status: { error: String(err) } });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    collections,
    requests,
    failNext: (status, n = 1) => (failures = { status, n }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
