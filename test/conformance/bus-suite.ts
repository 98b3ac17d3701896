import { describe, expect, it } from 'vitest';
import { STREAM_SCHEMA_VERSION } from '../../src/models/index.js';
import { Consumer, type Bus, type GroupRef } from '../../src/stream/index.js';

/*
 * One conformance suite for every Bus implementation: test/conformance/bus.test.ts runs it
 * against the Redis bus and the memory bus, unchanged. `make` gives a fresh, empty bus (its own
 * prefix) each time; `after` releases it.
 */

export interface BusFactory {
  name: string;
  make(): Promise<Bus>;
}

const raw = (i: number, batchId = 'b1'): Record<string, string> => ({
  v: STREAM_SCHEMA_VERSION,
  event_id: `e-${i}`,
  event: JSON.stringify({ event_id: `e-${i}`, content: `hello ${i}` }),
  ingested_at: '2026-12-01T09:00:00.000Z',
  batch_id: batchId,
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});
const item = (i: number, batchId = 'b1', content = `hello ${i}`) => ({ eventId: `e-${i}`, contentHash: `h-${content}`, fields: raw(i, batchId) });
const G: GroupRef = { stream: 'raw', group: 'risk-screening' };
const opts = { maxDepth: 1000, dedupWindowS: 60 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function busConformance(f: BusFactory): void {
  const withBus = (name: string, fn: (bus: Bus) => Promise<void>, timeout = 15_000) =>
    it(
      name,
      async () => {
        const bus = await f.make();
        try {
          await fn(bus);
        } finally {
          await bus.close();
        }
      },
      timeout,
    );

  describe(`bus conformance: ${f.name}`, () => {
    withBus('append: queues, dedups by event id and content, keeps fields and their order', async (bus) => {
      const res = await bus.append('raw', [item(1), item(2), item(1), { ...item(3), contentHash: 'h-hello 2' }], opts);
      expect(res.outcomes.map((o) => o.status)).toEqual(['queued', 'queued', 'duplicate', 'duplicate']);
      expect(res.outcomes[2]).toEqual({ status: 'duplicate', duplicateOf: 'event_id' });
      expect(res.outcomes[3]).toEqual({ status: 'duplicate', duplicateOf: 'content' });
      const entries = await bus.range('raw');
      expect(entries).toHaveLength(2);
      expect(Object.keys(entries[0].fields)).toEqual(['v', 'event_id', 'event', 'ingested_at', 'batch_id', 'traceparent']);
      expect(entries[0].fields).toEqual(raw(1));
      // A content duplicate does not mark its event id as seen.
      expect((await bus.append('raw', [{ ...item(3), contentHash: 'h-new' }], opts)).outcomes[0].status).toBe('queued');
      expect(await bus.length('raw')).toBe(3);
      expect(await bus.lastId('raw')).toBe((await bus.range('raw')).at(-1)!.id);
    });

    withBus('append: dedup under concurrency: 8 concurrent copies, one queued', async (bus) => {
      const batch = Array.from({ length: 20 }, (_, i) => item(i));
      const results = await Promise.all(Array.from({ length: 8 }, () => bus.append('raw', batch, opts)));
      const queued = results.flatMap((r) => r.outcomes).filter((o) => o.status === 'queued');
      expect(queued).toHaveLength(20);
      expect(await bus.length('raw')).toBe(20);
    });

    withBus('append: the dedup window is exact, across the Redis bus\' time buckets too', async (bus) => {
      // Window 1 s: probing for 0.9 s crosses a bucket boundary (buckets are 1 s there) 9 times in 10.
      const w = { ...opts, dedupWindowS: 1 };
      const started = Date.now();
      expect((await bus.append('raw', [item(1)], w)).outcomes[0].status).toBe('queued');
      while (Date.now() - started < 850) {
        const [byId, byContent] = (await bus.append('raw', [item(1), { ...item(2), contentHash: item(1).contentHash }], w)).outcomes;
        expect(byId).toEqual({ status: 'duplicate', duplicateOf: 'event_id' });
        expect(byContent).toEqual({ status: 'duplicate', duplicateOf: 'content' });
        await sleep(100);
      }
      await sleep(1_100 - (Date.now() - started));
      expect((await bus.append('raw', [item(1)], w)).outcomes[0].status).toBe('queued');
      // The content duplicates above never marked e-2's id as seen.
      expect((await bus.append('raw', [{ ...item(2), contentHash: 'h-other' }], w)).outcomes[0].status).toBe('queued');
      expect(await bus.length('raw')).toBe(3);
    });

    withBus('append: backpressure per item takes each item as its own request (coalesced single events)', async (bus) => {
      await bus.append('raw', [item(1)], opts);
      const per = { ...opts, maxDepth: 3, backpressure: 'item' as const };
      const res = await bus.append('raw', [item(2), item(1), item(3), item(4), item(5)], per);
      expect(res.outcomes.map((o) => o.status)).toEqual(['queued', 'duplicate', 'queued', 'full', 'full']);
      expect(res.outcomes[3]).toEqual({ status: 'full', depth: 3 });
      expect(await bus.length('raw')).toBe(3);
      // A refused item was not marked as seen; at the limit every item is refused, nothing thrown.
      expect((await bus.append('raw', [item(4), item(6)], per)).outcomes.map((o) => o.status)).toEqual(['full', 'full']);
      expect((await bus.append('raw', [item(4)], { ...opts, maxDepth: 10 })).outcomes[0].status).toBe('queued');
    });

    withBus('append: backpressure refuses the whole request at maxDepth, by group lag once a group reads', async (bus) => {
      await bus.append('raw', [item(1), item(2), item(3)], opts);
      await expect(bus.append('raw', [item(4)], { ...opts, maxDepth: 3 })).rejects.toMatchObject({ code: 'RP_ERR_QUEUE_FULL' });
      expect(await bus.length('raw')).toBe(3);
      expect(await bus.depth('raw')).toBe(3);
      await bus.ensureGroup(G);
      const r = bus.reader();
      expect(await r.readNew(G, 'c1', 2, 100)).toHaveLength(2);
      await r.close();
      expect(await bus.depth('raw')).toBe(1);
      expect((await bus.append('raw', [item(4)], { ...opts, maxDepth: 3 })).outcomes[0].status).toBe('queued');
    });

    withBus('groups: read new, own pending first, ack, lag / pending / consumers', async (bus) => {
      await bus.ensureGroup(G);
      await bus.ensureGroup(G); // exists: fine
      for (let i = 0; i < 5; i++) await bus.add('raw', raw(i));
      const r = bus.reader();
      const got = await r.readNew(G, 'c1', 3, 100);
      expect(got.map((d) => d.deliveries)).toEqual([1, 1, 1]);
      expect(got[0].fields).toEqual(raw(0));
      let info = await bus.groupInfo(G);
      expect(info).toMatchObject({ lag: 2, pending: 3, consumers: 1 });
      const own = await bus.readOwnPending(G, 'c1', '0-0', 10);
      expect(own.map((d) => d.id)).toEqual(got.map((d) => d.id));
      expect(own[0].deliveries).toBe(2);
      expect(await bus.readOwnPending(G, 'c1', got[1].id, 10)).toHaveLength(1);
      expect(await bus.readOwnPending(G, 'other', '0-0', 10)).toHaveLength(0);
      expect(await bus.ack(G, [got[0].id, got[0].id, '1-1'])).toBe(1);
      info = await bus.groupInfo(G);
      expect(info.pending).toBe(2);
      expect(info.lagSeconds).toBeGreaterThanOrEqual(0);
      // Blocking read: returns [] after blockMs, or as soon as an entry arrives.
      expect(await r.readNew(G, 'c1', 10, 50)).toHaveLength(2);
      const t0 = Date.now();
      expect(await r.readNew(G, 'c1', 10, 150)).toHaveLength(0);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
      const waiting = r.readNew(G, 'c1', 10, 5_000);
      await sleep(50);
      await bus.add('raw', raw(9));
      expect(await waiting).toHaveLength(1);
      await r.close();
    });

    withBus('reader: interrupt ends a blocked read at once; close too', async (bus) => {
      await bus.ensureGroup(G);
      const r = bus.reader();
      const t0 = Date.now();
      const p = r.readNew(G, 'c1', 10, 10_000);
      await sleep(100);
      await r.interrupt();
      expect(await p).toEqual([]);
      expect(Date.now() - t0).toBeLessThan(3_000);
      const q = r.readNew(G, 'c1', 10, 10_000);
      await sleep(50);
      await r.close();
      expect(await q).toEqual([]);
    });

    withBus('claim: idle entries move to the claimer with a delivery count; deleted ones are reported', async (bus) => {
      await bus.ensureGroup(G);
      const ids = [await bus.add('raw', raw(1)), await bus.add('raw', raw(2)), await bus.add('raw', raw(3))];
      const r = bus.reader();
      await r.readNew(G, 'dead', 10, 100);
      await r.close();
      expect((await bus.claimIdle(G, 'rescuer', 10_000, '0-0', 10)).entries).toHaveLength(0);
      await sleep(120);
      await bus.settle(G, [{ id: ids[0], output: { stream: 'lowRisk', fields: { a: '1' } } }], { deleteSource: true });
      const { next, entries, deleted } = await bus.claimIdle(G, 'rescuer', 100, '0-0', 10);
      expect(next).toBe('0-0');
      expect(entries.map((e) => [e.id, e.deliveries])).toEqual([
        [ids[1], 2],
        [ids[2], 2],
      ]);
      expect(deleted).toEqual([]);
      // One message deleted while pending: claim drops it from the group and says so.
      await sleep(120);
      const del = await bus.settle(G, [{ id: ids[1] }], { deleteSource: true });
      expect(del).toEqual(['acked']);
      expect(await bus.length('raw')).toBe(1);
      const again = await bus.claimIdle(G, 'rescuer2', 100, '0-0', 10);
      expect(again.entries.map((e) => [e.id, e.deliveries])).toEqual([[ids[2], 3]]);
      const st = await bus.status([G]);
      const g = st.streams.find((s) => s.id === 'raw')!.groups.find((x) => x.name === G.group)!;
      expect(g.consumerList.find((c) => c.name === 'rescuer2')?.pending).toBe(1);
    });

    withBus('settle: ack first, then write what was acked; batch counters exact under redelivery', async (bus) => {
      await bus.append('raw', [item(1, 'B'), item(2, 'B'), item(3, 'B')], { ...opts, batch: { id: 'B', total: 4 } });
      expect(await bus.batchStatus('B')).toMatchObject({ batch_id: 'B', total: 4, queued: 3, screened: 0, completed: false });
      await bus.ensureGroup(G);
      const r = bus.reader();
      const got = await r.readNew(G, 'c1', 10, 100);
      await r.close();
      const settleAll = () =>
        bus.settle(
          G,
          got.map((d, i) => ({
            id: d.id,
            output: { stream: i === 0 ? 'reasoning' : 'lowRisk', fields: { v: '1', source_id: d.id } },
            batchId: d.fields!.batch_id,
            count: ['screened', i === 0 ? 'escalated' : 'low_risk'],
          })),
        );
      const first = await settleAll();
      expect(first.every((x) => typeof x === 'string' && x !== 'acked')).toBe(true);
      // Settled a second time (a claimer and a slow consumer both finished): nothing twice.
      expect(await settleAll()).toEqual([null, null, null]);
      expect(await bus.length('reasoning')).toBe(1);
      expect(await bus.length('lowRisk')).toBe(2);
      expect((await bus.range('lowRisk'))[0].fields).toEqual({ v: '1', source_id: got[1].id });
      expect(await bus.batchStatus('B')).toMatchObject({ screened: 3, escalated: 1, low_risk: 2, completed: false });
      expect((await bus.groupInfo(G)).pending).toBe(0);

      // The terminal stage: ack + delete from its stream + count indexed.
      const I: GroupRef = { stream: 'reasoning', group: 'indexing' };
      await bus.ensureGroup(I);
      const ri = bus.reader();
      const [esc] = await ri.readNew(I, 'ix', 10, 100);
      await ri.close();
      expect(await bus.settle(I, [{ id: esc.id, batchId: 'B', count: ['indexed'] }], { deleteSource: true })).toEqual(['acked']);
      expect(await bus.settle(I, [{ id: esc.id, batchId: 'B', count: ['indexed'] }], { deleteSource: true })).toEqual([null]);
      expect(await bus.length('reasoning')).toBe(0);
      expect(await bus.batchStatus('B')).toMatchObject({ indexed: 1, completed: true });
      expect(await bus.batchStatus('nope')).toBeNull();
      // Single events have no batch: settle does not make one.
      await bus.add('raw', raw(7, 'single'));
      const r2 = bus.reader();
      const [d] = await r2.readNew(G, 'c1', 1, 100);
      await r2.close();
      await bus.settle(G, [{ id: d.id, batchId: 'single', count: ['screened'] }]);
      expect(await bus.batchStatus('single')).toBeNull();
    });

    withBus('dead-letter: stage, error, code, deliveries, original fields; list / get / replay once / purge', async (bus) => {
      await bus.append('raw', [item(1, 'D'), item(2, 'D')], { ...opts, batch: { id: 'D', total: 2 } });
      await bus.ensureGroup(G);
      const r = bus.reader();
      const got = await r.readNew(G, 'c1', 10, 100);
      await r.close();
      const dl = await bus.deadLetter(G, 'screen', [
        { id: got[0].id, error: 'bad JSON', code: 'RP_ERR_POISON_ENTRY', deliveries: 1, fields: got[0].fields, count: ['failed'] },
        { id: got[1].id, error: 'gone', code: 'RP_ERR_POISON_ENTRY', deliveries: 2, fields: null },
      ]);
      expect(dl[1]).toBe('acked');
      expect(await bus.deadLetter(G, 'screen', [{ id: got[0].id, error: 'x', code: 'RP_ERR_POISON_ENTRY', deliveries: 1, fields: got[0].fields }])).toEqual([null]);
      expect(await bus.deadLetters.count()).toBe(1);
      expect(await bus.batchStatus('D')).toMatchObject({ dead_lettered: 1, failed: 1 });
      const [info] = await bus.deadLetters.list();
      expect(info).toMatchObject({ id: dl[0], stage: 'screen', source: 'raw', sourceStream: bus.names.raw, sourceId: got[0].id, error: 'bad JSON', code: 'RP_ERR_POISON_ENTRY', attempts: 1, eventId: 'e-1', batchId: 'D' });
      expect(info.fields).toEqual(raw(1, 'D'));
      expect(info.ageS).toBeGreaterThanOrEqual(0);
      expect(await bus.deadLetters.list({ stage: 'index' })).toEqual([]);
      expect(await bus.deadLetters.get(dl[0]!)).toMatchObject({ sourceId: got[0].id });
      // Replay twice: one copy, with a fresh delivery count, original fields in order.
      const [a, b] = await Promise.all([bus.deadLetters.replay([dl[0]!]), bus.deadLetters.replay([dl[0]!])]);
      expect(a.replayed.length + b.replayed.length).toBe(1);
      expect(await bus.deadLetters.count()).toBe(0);
      expect(await bus.batchStatus('D')).toMatchObject({ dead_lettered: 0 });
      const r2 = bus.reader();
      const again = await r2.readNew(G, 'c2', 10, 100);
      await r2.close();
      expect(again).toHaveLength(1);
      expect(again[0].deliveries).toBe(1);
      expect(Object.keys(again[0].fields!)).toEqual(Object.keys(raw(1)));
      expect(again[0].fields).toEqual(raw(1, 'D'));
      // Purge.
      await bus.deadLetter(G, 'screen', [{ id: again[0].id, error: 'e', code: 'RP_ERR_INTERNAL', deliveries: 1, fields: again[0].fields }]);
      expect(await bus.deadLetters.purge()).toBe(1);
      expect(await bus.deadLetters.count()).toBe(0);
    });

    withBus('leave, trim, author activity (once per entry), status, readiness', async (bus) => {
      await bus.ensureGroup(G);
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await bus.add('raw', raw(i)));
      const r = bus.reader();
      const got = await r.readNew(G, 'c1', 2, 100);
      await r.close();
      expect(await bus.leave(G, 'c1')).toBe(false);
      await bus.ack(G, got.map((d) => d.id));
      expect(await bus.leave(G, 'c1')).toBe(true);
      await bus.trim('raw');
      expect(await bus.length('raw')).toBeGreaterThanOrEqual(2);
      const left = await bus.range('raw');
      expect(left.map((e) => e.id)).toEqual(expect.arrayContaining(ids.slice(2)));

      const a = await bus.authorActivity(
        [
          { entryId: '1-1', scope: 'discord:u:1', content: 'cA', channel: 'c1' },
          { entryId: '1-2', scope: 'discord:u:1', content: 'cA', channel: 'c2' },
          { entryId: '1-3', scope: 'discord:u:1', content: 'cA', channel: 'c2' },
        ],
        120,
      );
      expect(a).toEqual([
        { messages: 1, channels: 1 },
        { messages: 2, channels: 2 },
        { messages: 3, channels: 2 },
      ]);
      // The same entry again (a redelivery): read, not counted.
      expect(await bus.authorActivity([{ entryId: '1-2', scope: 'discord:u:1', content: 'cA', channel: 'c2' }], 120)).toEqual([{ messages: 3, channels: 2 }]);

      expect((await bus.ready()).ok).toBe(true);
      expect(bus.connected).toBe(true);
      const st = await bus.status([{ stream: 'reasoning', group: 'indexing' }]);
      expect(st.ready).toBe(true);
      expect(st.streams.map((s) => s.id)).toEqual(['raw', 'reasoning', 'lowRisk', 'deadletter']);
      expect(st.streams[0].groups[0]).toMatchObject({ name: G.group, lag: 2, pending: 0 });
      expect(st.streams[1].groups[0]).toMatchObject({ name: 'indexing', consumers: 0 });
    });

    withBus('consumer: a consumer that dies leaves its entries pending; another claims them; every entry settled once', async (bus) => {
      for (let i = 0; i < 30; i++) await bus.add('raw', raw(i));
      const settledIds: string[] = [];
      let hang = false;
      const processor = (name: string) => ({
        decode: (f: Record<string, string>) => f.event_id,
        handle: async (items: { value: string }[]) => {
          if (hang && name === 'victim') await new Promise(() => {});
          return items.map((it) => ({ kind: 'ok' as const, output: it.value }));
        },
        settle: async (done: { delivery: { id: string } }[]) => {
          const out = await bus.settle(G, done.map((d) => ({ id: d.delivery.id, output: { stream: 'lowRisk' as const, fields: { source_id: d.delivery.id } } })));
          out.forEach((o, i) => o !== null && settledIds.push(done[i].delivery.id));
          return out;
        },
      });
      hang = true;
      const victim = new Consumer({ bus, ref: G, stage: 'screen', processor: processor('victim'), consumer: 'victim', batchSize: 10, blockMs: 50, claimIdleMs: 60_000 });
      await victim.start();
      const deadline = Date.now() + 5_000;
      while ((await bus.groupInfo(G)).pending < 20 && Date.now() < deadline) await sleep(20);
      expect((await bus.groupInfo(G)).pending).toBe(20); // two slots, both stuck: then it "dies" (never closed)
      const rescuer = new Consumer({ bus, ref: G, stage: 'screen', processor: processor('rescuer'), consumer: 'rescuer', batchSize: 10, blockMs: 50, claimIdleMs: 200 });
      await rescuer.start();
      const end = Date.now() + 10_000;
      while (settledIds.length < 30 && Date.now() < end) await sleep(20);
      await rescuer.close();
      // The victim is abandoned, as a killed process would be (its reader is released).
      void victim.close(10);
      expect(new Set(settledIds).size).toBe(30);
      expect(settledIds).toHaveLength(30);
      expect(await bus.length('lowRisk')).toBe(30);
      expect((await bus.groupInfo(G)).pending).toBe(0);
    }, 20_000);

    withBus('consumer: permanent → dead-letter; transient → pending, then max deliveries → dead-letter', async (bus) => {
      await bus.add('raw', { ...raw(1), event_id: 'poison' });
      await bus.add('raw', { ...raw(2), event_id: 'permanent' });
      await bus.add('raw', { ...raw(3), event_id: 'transient' });
      await bus.add('raw', { ...raw(4), event_id: 'fine' });
      const c = new Consumer({
        bus,
        ref: G,
        stage: 'screen',
        consumer: 'c',
        blockMs: 50,
        claimIdleMs: 100,
        maxDeliveries: 3,
        processor: {
          decode: (f) => {
            if (f.event_id === 'poison') throw new Error('cannot read');
            return f.event_id;
          },
          handle: async (items) =>
            items.map((it) =>
              it.value === 'permanent'
                ? { kind: 'permanent' as const, error: Object.assign(new Error('never'), { code: 'RP_ERR_INTERNAL' }) }
                : it.value === 'transient'
                  ? { kind: 'transient' as const, error: new Error('busy') }
                  : { kind: 'ok' as const, output: it.value },
            ),
          settle: (done) => bus.settle(G, done.map((d) => ({ id: d.delivery.id, output: { stream: 'lowRisk', fields: { e: d.value } } }))),
        },
      });
      await c.start();
      const end = Date.now() + 10_000;
      while ((await bus.deadLetters.count()) < 3 && Date.now() < end) await sleep(30);
      await c.close();
      const dl = await bus.deadLetters.list();
      const by = Object.fromEntries(dl.map((d) => [d.eventId, d]));
      expect(by.poison).toMatchObject({ stage: 'screen', code: 'RP_ERR_POISON_ENTRY', attempts: 1 });
      expect(by.permanent).toMatchObject({ code: 'RP_ERR_INTERNAL', error: 'never' });
      expect(by.transient).toMatchObject({ code: 'RP_ERR_MAX_DELIVERIES', attempts: 4 });
      expect(await bus.length('lowRisk')).toBe(1);
      expect((await bus.groupInfo(G)).pending).toBe(0);
    }, 20_000);
  });
}
