import { createServer, type IncomingMessage } from 'node:http';

/** A local OTLP/HTTP receiver: collects the JSON export requests POSTed to /v1/traces. */
export async function startOtlpReceiver() {
  const requests: { path: string; body: any; headers: IncomingMessage['headers'] }[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (d) => (data += d));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers, body: data ? JSON.parse(data) : null });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const spans = () =>
    requests.flatMap((r) =>
      (r.body?.resourceSpans ?? []).flatMap((rs: any) => {
        const service = rs.resource.attributes.find((a: any) => a.key === 'service.name')?.value.stringValue;
        return rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => ({ ...s, service })));
      }),
    );
  return { endpoint: `http://127.0.0.1:${port}`, requests, spans, close: () => new Promise<void>((r) => server.close(() => r())) };
}
