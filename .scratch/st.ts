import { openStore } from '../src/store/index.js';
import { escalated } from '../test/fakes/escalated.js';
import { rulesIncidents } from '../src/index/incidents/rules.js';
const store = await openStore({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'rpscratch_st' });
const rec: number[] = [], com: number[] = [];
for (let b = 0; b < 20; b++) {
  const items = Array.from({ length: 256 }, (_, i) => escalated(`e${b}-${i}`));
  let t0 = performance.now(); await store.recordEvents(items); rec.push(performance.now() - t0);
  t0 = performance.now(); await store.completeIndexed(items.map((it, j) => ({ eventId: it.event.event_id, entryId: `${b}-${j}`, delivery: 1, incidents: rulesIncidents(it), provider: 'rules' }))); com.push(performance.now() - t0);
}
const med = (x: number[]) => x.sort((a, b) => a - b)[10].toFixed(1);
console.log('record 256 ms', med(rec), 'commit 256 ms', med(com));
for (const q of ['record', 'commit']) {}
const { rows } = await store.db.query(`EXPLAIN ANALYZE UPDATE events e SET status = 'indexed', attempts = (SELECT count(DISTINCT (a.entry_id, a.delivery))::int FROM delivery_attempts a WHERE a.event_id = e.event_id) WHERE e.event_id = ANY($1::text[])`, [Array.from({ length: 256 }, (_, i) => `e3-${i}`)]);
console.log(rows.map((r: any) => r['QUERY PLAN']).join('\n'));
await store.db.query('DROP SCHEMA rpscratch_st CASCADE'); await store.close();
