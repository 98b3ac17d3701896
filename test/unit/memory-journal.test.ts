import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBus } from '../../src/stream/memory/bus.js';

/* The memory bus' journal: replay, torn last line, compaction of what is done. */

const dirs: string[] = [];
const dir = () => {
  const d = mkdtempSync(join(tmpdir(), 'rp-journal-unit-'));
  dirs.push(d);
  return d;
};
const G = { stream: 'raw' as const, group: 'g' };
const item = (i: number) => ({ eventId: `e-${i}`, contentHash: `h-${i}`, fields: { v: '1', event_id: `e-${i}`, batch_id: 'B' } });

describe('memory bus journal', () => {
  it('replays: unacked entries are delivered again, acked ones never; dedup and batch counters survive', async () => {
    const d = dir();
    let bus = MemoryBus.open({ dataDir: d });
    await bus.ensureGroup(G);
    await bus.append('raw', [item(1), item(2), item(3)], { maxDepth: 100, dedupWindowS: 60, batch: { id: 'B', total: 3 } });
    const r = bus.reader();
    const got = await r.readNew(G, 'c', 10, 10);
    await r.close();
    await bus.settle(G, [{ id: got[0].id, output: { stream: 'lowRisk', fields: { s: got[0].id } }, batchId: 'B', count: ['screened', 'low_risk'] }]);
    // No close(): as if the process died here.
    bus = MemoryBus.open({ dataDir: d });
    const r2 = bus.reader();
    const again = await r2.readNew(G, 'c2', 10, 10);
    await r2.close();
    expect(again.map((x) => x.id)).toEqual([got[1].id, got[2].id]);
    expect(await bus.length('lowRisk')).toBe(1);
    expect(await bus.batchStatus('B')).toMatchObject({ total: 3, queued: 3, screened: 1, low_risk: 1 });
    expect((await bus.append('raw', [item(2)], { maxDepth: 100, dedupWindowS: 60 })).outcomes[0]).toEqual({ status: 'duplicate', duplicateOf: 'event_id' });
    // New ids keep growing after a replay.
    const id = await bus.add('raw', { v: '1' });
    expect(id > got[2].id || Number(id.split('-')[0]) >= Number(got[2].id.split('-')[0])).toBe(true);
    await bus.close();
  });

  it('drops a torn last line (a write cut by a crash) and keeps working', async () => {
    const d = dir();
    let bus = MemoryBus.open({ dataDir: d });
    await bus.add('raw', { v: '1', event_id: 'x' });
    appendFileSync(join(d, 'bus.journal'), '{"t":"add","e":[["raw","9-9",{"v":');
    bus = MemoryBus.open({ dataDir: d });
    expect(await bus.length('raw')).toBe(1);
    await bus.add('raw', { v: '1', event_id: 'y' });
    bus = MemoryBus.open({ dataDir: d });
    expect((await bus.range('raw')).map((e) => e.fields.event_id)).toEqual(['x', 'y']);
    await bus.close();
  });

  it('compacts what every group is done with', async () => {
    const d = dir();
    const bus = MemoryBus.open({ dataDir: d, compactBytes: 64 * 1024, retainDone: 100 });
    await bus.ensureGroup(G);
    const r = bus.reader();
    for (let i = 0; i < 2000; i++) {
      await bus.add('raw', { v: '1', event_id: `e-${i}`, event: 'x'.repeat(100) });
      const [d1] = await r.readNew(G, 'c', 1, 10);
      await bus.settle(G, [{ id: d1.id }], { deleteSource: true });
    }
    await r.close();
    expect(statSync(join(d, 'bus.journal')).size).toBeLessThan(256 * 1024);
    await bus.close();
    const again = MemoryBus.open({ dataDir: d });
    expect(await again.length('raw')).toBe(0);
    expect((await again.groupInfo(G)).lag).toBe(0);
    await again.close();
  });
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
