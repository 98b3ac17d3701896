import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HashEmbedder } from '../src/embed/index.js';
import { DiskEventIndex } from '../src/vector/disk-index.js';
import { PLATFORMS } from '../src/models/index.js';
const dir = mkdtempSync(join(tmpdir(), 'rp-fs-'));
const e = new HashEmbedder();
const idx = new DiskEventIndex({ dir, dim: e.dim });
await idx.open();
const W = ['raid','server','mods','stream','tonight','discord','lobby','guild','match','ranked','chat','clip'];
for (let i = 0; i < 100000; i += 1000) {
  const texts = Array.from({ length: 1000 }, (_, j) => `message ${W[(i+j)%12]} ${W[((i+j)*7)%12]} number ${i+j} you better watch ${W[(i+j*3)%12]}`);
  const v = await e.embed(texts);
  await idx.upsert(v.map((vector, j) => ({ vector, payload: { event_id: `m${i+j}`, platform: PLATFORMS[(i+j)%7], channel_id: null, author_id: 'a', risk_category: 'threat', risk_level: 'HIGH', risk_score: 0.9, flags: [], created_at: '2026-11-01T00:00:00Z', content: texts[j] } })));
}
const [q] = await e.embed(['threats against moderators in ranked chat']);
for (const [name, filter] of [['none', undefined], ['platform', { platform: 'discord' }], ['since', { since: '2026-10-01T00:00:00Z' }]] as const) {
  const ts: number[] = [];
  for (let r = 0; r < 60; r++) { const t0 = performance.now(); await idx.search(q, { k: 10, filter: filter as any }); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b); console.log(name.padEnd(10), 'p50', ts[30].toFixed(2), 'p99', ts[59].toFixed(2));
}
{
  const a: any = idx; const t: Record<string, number[]> = { sel: [], ok: [], scan: [] };
  for (let r = 0; r < 60; r++) {
    let t0 = performance.now(); const rows = a.selectRows({ since: '2026-10-01T00:00:00Z' }); t.sel.push(performance.now() - t0);
    t0 = performance.now(); const ok = new Uint8Array(a.rows); for (const x of rows) ok[x] = 1; t.ok.push(performance.now() - t0);
    t0 = performance.now(); a.scanAll(q, 36, (x: number) => ok[x] === 1); t.scan.push(performance.now() - t0);
  }
  for (const [k, v] of Object.entries(t)) console.log(k, v.sort((x, y) => x - y)[30].toFixed(2));
}
await idx.close(); rmSync(dir, { recursive: true, force: true });
