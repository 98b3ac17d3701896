import { openStore } from '../src/store/index.js';
import { escalated } from '../test/fakes/escalated.js';
const store = await openStore({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'rpscratch_sr' });
const items = Array.from({ length: 5000 }, (_, i) => escalated(`e${i}`));
for (let i = 0; i < items.length; i += 1000) { await store.recordEvents(items.slice(i, i + 1000)); await store.completeIndexed(items.slice(i, i + 1000).map((it, j) => ({ eventId: it.event.event_id, entryId: `${i+j}-0`, delivery: 1, incidents: [], provider: 'rules' }))); }
const ts: number[] = [];
for (let r = 0; r < 200; r++) { const ids = Array.from({ length: 30 }, (_, j) => `e${(r * 37 + j * 101) % 5000}`); const t0 = performance.now(); await store.searchRows(ids); ts.push(performance.now() - t0); }
ts.sort((a, b) => a - b); console.log('searchRows p50', ts[100].toFixed(2), 'p99', ts[198].toFixed(2));
const ts2: number[] = [];
for (let r = 0; r < 200; r++) { const t0 = performance.now(); await store.db.query('SELECT 1'); ts2.push(performance.now() - t0); }
ts2.sort((a, b) => a - b); console.log('select 1 p50', ts2[100].toFixed(2), 'p99', ts2[198].toFixed(2));
const { rows } = await store.db.query(`EXPLAIN ANALYZE SELECT e.event_id FROM events e LEFT JOIN predictions p ON p.event_id = e.event_id WHERE e.event_id = ANY($1::text[]) AND e.status = 'indexed'`, [['e1','e2','e3']]);
console.log(rows.map((r: any) => r['QUERY PLAN']).join('\n'));
await store.db.query('DROP SCHEMA rpscratch_sr CASCADE'); await store.close();
