import { GROUPS, STREAM_SCHEMA_VERSION, type Event, type RiskPrediction } from '../../src/models/index.js';
import { contentHash } from '../../src/stream/hash.js';
import type { Bus } from '../../src/stream/types.js';

const SCREEN = { stream: 'raw' as const, group: GROUPS.screening };

/**
 * Puts escalated events on events:reasoning_queue the way the pipeline does: appended to
 * events:raw in an ingest batch (total/queued counted), then settled by a "screener" into the
 * reasoning stream with screened + escalated counted — real bus operations, no shortcuts.
 */
export async function escalate(bus: Bus, items: { event: Event; prediction: RiskPrediction }[], batchId: string): Promise<void> {
  await bus.ensureGroup(SCREEN);
  await bus.append(
    'raw',
    items.map(({ event }) => ({
      eventId: event.event_id,
      contentHash: contentHash(event),
      fields: { v: STREAM_SCHEMA_VERSION, event_id: event.event_id, event: JSON.stringify(event), ingested_at: new Date().toISOString(), batch_id: batchId, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    })),
    { maxDepth: 1_000_000, dedupWindowS: 3600, batch: { id: batchId, total: items.length } },
  );
  const reader = bus.reader();
  try {
    let left = items.length;
    while (left > 0) {
      const got = await reader.readNew(SCREEN, 'test-screener', left, 1000);
      if (got.length === 0) throw new Error('escalate: the raw entries did not arrive');
      left -= got.length;
      const byId = new Map(items.map((i) => [i.event.event_id, i]));
      await bus.settle(
        SCREEN,
        got.map((d) => {
          const it = byId.get(d.fields!.event_id)!;
          return {
            id: d.id,
            output: {
              stream: 'reasoning' as const,
              fields: {
                v: STREAM_SCHEMA_VERSION,
                event_id: it.event.event_id,
                event: d.fields!.event,
                prediction: JSON.stringify(it.prediction),
                source_id: d.id,
                traceparent: d.fields!.traceparent,
                screened_at: new Date().toISOString(),
                batch_id: batchId,
              },
            },
            batchId,
            count: ['screened', 'escalated'],
          };
        }),
      );
    }
  } finally {
    await reader.close();
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
