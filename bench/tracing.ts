// What tracing costs per event and per stage: the no-op (OTEL_EXPORTER_OTLP_ENDPOINT unset) and
// the live SDK exporting over OTLP/HTTP to a local receiver that discards. Prints a table or --json.
//   npx tsx bench/tracing.ts [--events 200000] [--json]
import { createServer } from 'node:http';
import { createTracing, noopTracing, type Tracing } from '../src/ops/tracing.js';
import { traceparentFor } from '../src/common/trace.js';

const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--events') + 1]) || 200_000;
const json = args.includes('--json');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200).end('{}'));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;

function perEvent(t: Tracing, events: number): number {
  const parent = traceparentFor();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events; i++) {
    const s = t.span('screen', parent, { kind: 'consumer', attributes: { 'riskpipe.event_id': 'evt-1', 'messaging.message.id': '1-0' } });
    s.setAttributes({ 'riskpipe.risk_score': 0.5, 'riskpipe.route': 'low_risk' });
    if (s.traceparent.length !== 55) throw new Error('bad traceparent');
    s.end();
  }
  return Number(process.hrtime.bigint() - t0) / events;
}
/** The baseline the no-op replaces: what the stages did before tracing (one traceparentFor). */
function baseline(events: number): number {
  const parent = traceparentFor();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < events; i++) if (traceparentFor(parent).length !== 55) throw new Error('bad');
  return Number(process.hrtime.bigint() - t0) / events;
}

const live = await createTracing({ serviceName: 'bench', endpoint });
perEvent(noopTracing, 20_000); // warm-up
perEvent(live, 20_000);
baseline(20_000);
const rows: { mode: string; ns_per_event: number }[] = [];
for (let round = 0; round < 3; round++) {
  rows.push({ mode: 'before tracing (traceparentFor only)', ns_per_event: baseline(n) });
  rows.push({ mode: 'tracing off (no-op)', ns_per_event: perEvent(noopTracing, n) });
  rows.push({ mode: 'tracing on (OTLP/HTTP, batched)', ns_per_event: perEvent(live, Math.min(n, 8000)) });
  await live.forceFlush();
}
await live.shutdown();
server.close();
const median = (mode: string) => {
  const v = rows.filter((r) => r.mode === mode).map((r) => r.ns_per_event).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const out = [...new Set(rows.map((r) => r.mode))].map((mode) => ({ mode, ns_per_event: Math.round(median(mode)) }));
if (json) console.log(JSON.stringify({ events: n, results: out }));
else {
  console.log('mode                                   ns/event (median of 3)');
  for (const r of out) console.log(`${r.mode.padEnd(38)} ${String(r.ns_per_event).padStart(8)}`);
}
