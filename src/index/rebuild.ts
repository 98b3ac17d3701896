import type { Logger } from '../common/logger.js';
import type { Embedder } from '../embed/types.js';
import type { Store } from '../store/index.js';
import type { EventIndex } from '../vector/event-index.js';

/**
 * Fills an event index from the store's indexed events (the embedded index when its files are
 * missing, or a new Qdrant collection): pages in event_id order, embeds, upserts. Returns how
 * many events went in.
 */
export async function rebuildIndex(store: Store, embedder: Embedder, index: EventIndex, log?: Logger, pageSize = 512): Promise<number> {
  let after: string | null = null;
  let total = 0;
  const t0 = performance.now();
  for (;;) {
    const rows = await store.pageIndexed(after, pageSize);
    if (rows.length === 0) break;
    const vectors = await embedder.embed(rows.map((r) => r.content));
    await index.upsert(rows.map((r, i) => ({ vector: vectors[i], payload: { ...r } })));
    total += rows.length;
    after = rows[rows.length - 1].event_id;
  }
  if (total > 0) log?.info({ events: total, ms: Math.round(performance.now() - t0), index: index.location }, 'event index rebuilt from the store');
  return total;
}
