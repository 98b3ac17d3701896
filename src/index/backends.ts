import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import { createEmbedder, HashEmbedder, type EmbedderOptions } from '../embed/index.js';
import type { Embedder } from '../embed/types.js';
import { openStore, type Store, type StoreOptions } from '../store/index.js';
import { DiskEventIndex } from '../vector/disk-index.js';
import type { EventIndex } from '../vector/event-index.js';
import { createIncidentProvider, type IncidentProviderConfig } from './incidents/index.js';
import type { IncidentProvider } from './incidents/types.js';

/** Where stage 3 keeps things, as the CLI (or `riskpipe up`) resolved them. */
export interface IndexBackendsConfig {
  store: StoreOptions;
  /** `embedded`: the on-disk index in `dir` (e.g. <data-dir>/index/events); `qdrant`: a collection. */
  vector: { kind: 'embedded'; dir: string } | { kind: 'qdrant'; url: string; apiKey?: string; collection: string; timeoutMs?: number };
  embedder: EmbedderOptions | ({ kind: 'remote' } & import('../embed/remote.js').RemoteEmbedderOptions);
  incidents: IncidentProviderConfig;
}

export interface IndexBackends {
  store: Store;
  index: EventIndex;
  embedder: Embedder;
  incidents: IncidentProvider;
  /** Closes all four, downstream last. Idempotent. */
  close(): Promise<void>;
}

/** The embedded event index's directory under a data directory. */
export const eventIndexDir = (dataDir: string) => join(dataDir, 'index', 'events');

/**
 * Opens the store (applying migrations), the embedder, the event index (not yet open(): the
 * stage opens it at start) and the incident provider. What opened is closed again when a later
 * one fails.
 */
export async function openIndexBackends(cfg: IndexBackendsConfig, log?: Logger): Promise<IndexBackends> {
  const opened: { close(): Promise<void> }[] = [];
  const undo = async () => {
    for (const o of opened.reverse()) await o.close().catch(() => {});
  };
  try {
    const store = await openStore(cfg.store);
    opened.push(store);
    let embedder: Embedder;
    if (cfg.embedder.kind === 'remote') {
      const { RemoteEmbedder } = await import('../embed/remote.js');
      embedder = await RemoteEmbedder.connect(cfg.embedder);
    } else if (cfg.embedder.kind === 'hash') {
      // Unbatched: the stage embeds a whole read batch per call, and a search query should not
      // wait for a batching window (setTimeout costs ≥ 1 ms).
      embedder = new HashEmbedder({ dim: cfg.embedder.dim });
    } else {
      embedder = await createEmbedder({ maxWaitMs: 0, ...cfg.embedder });
    }
    opened.push(embedder);
    let index: EventIndex;
    if (cfg.vector.kind === 'qdrant') {
      const { QdrantEventIndex } = await import('../vector/qdrant.js');
      index = new QdrantEventIndex({ url: cfg.vector.url, apiKey: cfg.vector.apiKey, collection: cfg.vector.collection, dim: embedder.dim, timeoutMs: cfg.vector.timeoutMs });
    } else {
      index = new DiskEventIndex({ dir: cfg.vector.dir, dim: embedder.dim });
    }
    opened.push(index);
    const incidents = createIncidentProvider(cfg.incidents);
    opened.push(incidents);
    log?.debug({ store: store.kind, index: index.location, embedder: embedder.id, incidents: incidents.id }, 'index backends opened');
    let closing: Promise<void> | undefined;
    return { store, index, embedder, incidents, close: () => (closing ??= undo()) };
  } catch (err) {
    await undo();
    throw err;
  }
}
