import { openStore } from '../src/store/index.js';
import { escalated } from '../test/fakes/escalated.js';
import { rulesIncidents } from '../src/index/incidents/rules.js';
const store = await openStore({ url: 'postgres://postgres@127.0.0.1:5432/test', schema: 'rpscratch_st2' });
const db = store.db as any;
const orig = db.transaction.bind(db);
const times: Record<string, number[]> = {};
db.transaction = (fn: any) => orig((tx: any) => fn({ ...tx, query: async (sql: string, p: unknown[]) => { const t0 = performance.now(); try { return await tx.query(sql, p); } finally { const k = sql.trim().slice(0, 30); (times[k] ??= []).push(performance.now() - t0); } } }));
for (let b = 0; b < 20; b++) {
  const items = Array.from({ length: 256 }, (_, i) => escalated(`e${b}-${i}`));
  await store.recordEvents(items);
  await store.completeIndexed(items.map((it, j) => ({ eventId: it.event.event_id, entryId: `${b}-${j}`, delivery: 1, incidents: rulesIncidents(it), provider: 'rules' })));
}
for (const [k, v] of Object.entries(times)) console.log(k.padEnd(32), v.sort((a, b) => a - b)[10].toFixed(1));
await store.db.query('DROP SCHEMA rpscratch_st2 CASCADE'); await store.close();
