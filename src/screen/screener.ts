/*
 * The Screener scores events offline and in the worker:
 *
 *   1. embed     every text of the batch in one embedder call
 *   2. kNN       the k nearest labelled vectors per text: the exemplar bank (data/exemplars.jsonl)
 *                and recently escalated events (one index call for the batch: VectorIndex.searchMany)
 *   3. score     fusion.scoreEvent per item (rules + similarity + author behaviour)
 *   4. stamp     screening_time_ms (its share of the embed call plus its own kNN and scoring),
 *                model_version = embedder id, policy_fingerprint
 * With `neighbors: 'when-evidence'` the rules run first and only the events they found evidence
 * in are embedded and searched (same routing, a fraction of the cost; see ScreenerOptions).
 *
 * Escalated events join the index (source 'escalated') so that variants of a fresh campaign are
 * recognised. At most `maxEscalated` (default 10000) are kept, oldest forgotten. The VectorIndex
 * interface cannot delete, so when the bound is passed the Screener rebuilds its index from the
 * exemplar vectors and the newest 90% of escalated ones (once per `maxEscalated / 10` additions).
 * A Screener built directly around an index it did not fill cannot rebuild it: it then stops
 * adding escalated events at the bound and counts the ones it skipped (`escalatedSkipped`).
 *
 * The Screener owns the embedder it is given: close() closes it.
 */
import { PermanentError, RiskpipeError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import type { Event, Neighbor, RiskPrediction } from '../models/index.js';
import { createEmbedder } from '../embed/index.js';
import { DEFAULT_EXEMPLARS_PATH, exemplarBankHash, indexExemplars, loadExemplars } from './exemplars.js';
import { scoreEvent, type Scored } from './fusion.js';
import { defaultPolicy, policyFingerprint, policyForEmbedder, type Policy } from './policy.js';
import type { AuthorStats, Embedder, VectorIndex, VectorMeta } from './types.js';
import { createVectorIndex } from '../vector/index.js';
import { loadClassifier, type Classify } from './classifier/index.js';

export interface ScreenerOptions {
  embedder: Embedder;
  index: VectorIndex;
  policy: Policy;
  /** exemplarBankHash() of what the index was filled with: part of the fingerprint. */
  exemplarBankHash: string;
  /** Neighbours per event. Default 8. */
  k?: number;
  log?: Logger;
  /** Escalated events kept in the index. Default 10000. */
  maxEscalated?: number;
  /** What the index was filled with and how to make an empty one: lets the Screener forget old escalated events. */
  rebuild?: { exemplars: { id: string; vector: Float32Array; meta: VectorMeta }[]; createIndex: () => VectorIndex };
  /**
   * Which events get an embedding and a kNN search. 'always' (default) gives every prediction its
   * neighbours. 'when-evidence' searches only for events some rule found evidence in: similarity
   * alone adds at most `weights.similarity` (0.4 by default, below any routing threshold) so the
   * routing is the same, at a fraction of the cost; rule-free events then score what the
   * classifier alone gives (0 without one) with no neighbours instead of up to 0.4 (MEDIUM) from
   * similarity. Events the classifier alone puts near the threshold are searched too.
   */
  neighbors?: 'always' | 'when-evidence';
  /** The trained classifier fused with the rules (src/screen/classifier/); none: rules and kNN only. */
  classifier?: Classify;
}

interface Stored {
  id: string;
  vector: Float32Array;
  meta: VectorMeta;
}

export class Screener {
  readonly modelId: string;
  readonly dim: number;
  readonly device: string;
  readonly fingerprint: string;
  /** The policy in force, its similarity calibration set for this embedder. */
  readonly policy: Policy;
  private readonly embedder: Embedder;
  private index: VectorIndex;
  private readonly k: number;
  private readonly log: Logger;
  private readonly maxEscalated: number;
  private readonly rebuildFrom?: ScreenerOptions['rebuild'];
  private readonly neighborsFor: 'always' | 'when-evidence';
  /** The classifier in the fusion, if any. */
  readonly classifier?: Classify;
  private escalated: Stored[] = [];
  private readonly escalatedIds = new Set<string>();
  /** Escalated events not added because the bound was reached and the index cannot be rebuilt. */
  escalatedSkipped = 0;
  private closed = false;

  constructor(opts: ScreenerOptions) {
    this.embedder = opts.embedder;
    this.index = opts.index;
    this.modelId = opts.embedder.id;
    this.dim = opts.embedder.dim;
    this.device = opts.embedder.device;
    this.policy = policyForEmbedder(opts.policy, opts.embedder.id);
    this.k = opts.k ?? 8;
    this.log = opts.log ?? silentLogger;
    this.maxEscalated = opts.maxEscalated ?? 10_000;
    this.rebuildFrom = opts.rebuild;
    this.neighborsFor = opts.neighbors ?? 'always';
    this.classifier = opts.classifier;
    if (opts.index.dim !== opts.embedder.dim) throw new PermanentError('RP_ERR_CONFIG', `index has ${opts.index.dim} dimensions, embedder ${opts.embedder.id} makes ${opts.embedder.dim}`);
    // The classifier is part of what produced a verdict: its id (with its training fingerprint) joins the embedder's.
    this.fingerprint = policyFingerprint(opts.policy, opts.classifier ? `${opts.embedder.id}+${opts.classifier.id}` : opts.embedder.id, opts.exemplarBankHash);
  }

  /**
   * A Screener on the defaults: the hash embedder, the default policy, the shipped exemplar
   * bank indexed into a fresh usearch index, and the shipped classifier (data/models/screening/;
   * `classifier: false` leaves it out, a folder path loads another one).
   */
  static async create(
    opts: {
      embedder?: Embedder;
      policy?: Policy;
      exemplarsPath?: string;
      k?: number;
      log?: Logger;
      maxEscalated?: number;
      neighbors?: ScreenerOptions['neighbors'];
      classifier?: false | string | Classify;
    } = {},
  ): Promise<Screener> {
    const log = opts.log ?? silentLogger;
    const embedder = opts.embedder ?? (await createEmbedder({ kind: 'hash' }));
    try {
      const classifier = opts.classifier === false ? undefined : typeof opts.classifier === 'object' ? opts.classifier : await loadClassifier(opts.classifier);
      const exemplars = loadExemplars(opts.exemplarsPath ?? DEFAULT_EXEMPLARS_PATH);
      const index = createVectorIndex(embedder.dim);
      // Remember the exemplar vectors as they go in, so the index can be rebuilt without re-embedding.
      const kept: Stored[] = [];
      const recorder: VectorIndex = {
        dim: index.dim,
        add: (id, vector, meta) => {
          kept.push({ id, vector, meta });
          index.add(id, vector, meta);
        },
        search: (v, k) => index.search(v, k),
        size: () => index.size(),
      };
      await indexExemplars(embedder, recorder, exemplars);
      const screener = new Screener({
        embedder,
        index,
        policy: opts.policy ?? defaultPolicy,
        exemplarBankHash: exemplarBankHash(exemplars),
        k: opts.k,
        log,
        maxEscalated: opts.maxEscalated,
        neighbors: opts.neighbors,
        rebuild: { exemplars: kept, createIndex: () => createVectorIndex(embedder.dim) },
        classifier,
      });
      log.info({ embedder: embedder.id, device: embedder.device, exemplars: exemplars.length, classifier: classifier?.id ?? 'none', fingerprint: screener.fingerprint }, 'screener ready');
      return screener;
    } catch (err) {
      if (!opts.embedder) await embedder.close().catch(() => undefined);
      throw err;
    }
  }

  async screen(event: Event, author?: AuthorStats): Promise<RiskPrediction> {
    const [p] = await this.screenBatch([{ event, author }]);
    return p;
  }

  async screenBatch(items: { event: Event; author?: AuthorStats }[]): Promise<RiskPrediction[]> {
    if (this.closed) throw new RiskpipeError('RP_ERR_NOT_READY', 'screener is closed');
    if (items.length === 0) return [];
    const out = new Array<RiskPrediction>(items.length);
    // Which items get neighbours: all, or only those some rule found evidence in.
    let todo = items.map((_, i) => i);
    const ruleMs = new Array<number>(items.length).fill(0);
    if (this.neighborsFor === 'when-evidence') {
      todo = [];
      for (let i = 0; i < items.length; i++) {
        const t1 = performance.now();
        const scored = this.score(items[i], []);
        ruleMs[i] = performance.now() - t1;
        if (this.needsNeighbors(scored)) todo.push(i);
        else out[i] = this.stamp(scored, ruleMs[i]);
      }
      if (todo.length === 0) return out;
    }
    const t2 = performance.now();
    let vectors: Float32Array[];
    try {
      vectors = await this.embedder.embed(todo.map((i) => items[i].event.content));
    } catch (err) {
      if (err instanceof RiskpipeError) throw err;
      // An embedder hiccup (a worker thread restarting, memory pressure) may pass; max deliveries bounds retries.
      throw new RiskpipeError('RP_ERR_TRANSIENT', `embedding failed: ${(err as Error).message}`, { cause: err });
    }
    if (vectors.length !== todo.length) throw new RiskpipeError('RP_ERR_INTERNAL', `embedder returned ${vectors.length} vectors for ${todo.length} texts`);
    const t3 = performance.now();
    const embedShareMs = (t3 - t2) / todo.length;
    let found: Neighbor[][];
    try {
      found = this.index.searchMany ? this.index.searchMany(vectors, this.k) : vectors.map((v) => this.index.search(v, this.k));
    } catch (err) {
      throw new RiskpipeError('RP_ERR_TRANSIENT', `vector search failed: ${(err as Error).message}`, { cause: err });
    }
    const searchShareMs = (performance.now() - t3) / todo.length;
    todo.forEach((i, j) => {
      const t1 = performance.now();
      // A re-delivered event must not find itself among the escalated ones.
      const own = escalatedId(items[i].event.event_id);
      const neighbors = found[j].filter((n) => n.id !== own);
      out[i] = this.stamp(this.score(items[i], neighbors), ruleMs[i] + embedShareMs + searchShareMs + performance.now() - t1);
    });
    return out;
  }

  /**
   * Whether the kNN vote could matter: some rule found evidence, or the score (the classifier's
   * share included) is high enough that similarity could lift it over the screening threshold,
   * S + w·(1 − S) ≥ t  ⇔  S ≥ (t − w) / (1 − w).
   */
  private needsNeighbors(scored: Scored): boolean {
    const sig = scored.details.signals;
    for (const name of ['threat', 'self_harm', 'hate', 'sexual', 'harassment', 'offensive', 'spam', 'author_spam']) if ((sig[name]?.value ?? 0) > 0) return true;
    const w = Math.min(0.99, this.policy.weights.similarity);
    return scored.risk_score >= (this.policy.thresholds.screening - w) / (1 - w) - 1e-9;
  }

  private score(item: { event: Event; author?: AuthorStats }, neighbors: Neighbor[]): Scored {
    try {
      return scoreEvent({ event: item.event, author: item.author, neighbors }, this.policy, this.classifier);
    } catch (err) {
      throw new PermanentError('RP_ERR_INTERNAL', `scoring event ${item.event.event_id} failed: ${(err as Error).message}`, err);
    }
  }

  /** Completes a Scored fusion just made for this prediction (not a copy: the fields go last, in this order). */
  private stamp(scored: Scored, ms: number): RiskPrediction {
    const p = scored as RiskPrediction;
    p.screening_time_ms = Math.max(0.001, Math.round(ms * 1000) / 1000);
    p.model_version = this.modelId;
    p.policy_fingerprint = this.fingerprint;
    return p;
  }

  /**
   * Adds an escalated event to the neighbour index (label = its risk category, source
   * 'escalated'). Pass the vector when you have it; otherwise it is embedded in the background.
   */
  addEscalated(event: Event, prediction: RiskPrediction, vector?: Float32Array): void {
    if (this.closed || prediction.risk_category === 'low_risk') return;
    const id = escalatedId(event.event_id);
    if (this.escalatedIds.has(id)) return;
    const meta: VectorMeta = { label: prediction.risk_category, source: 'escalated' };
    if (vector) {
      this.store({ id, vector, meta });
      return;
    }
    this.escalatedIds.add(id); // claimed now, so a second call while embedding is a no-op
    this.embedder.embed([event.content]).then(
      ([v]) => {
        this.escalatedIds.delete(id);
        if (!this.closed && v) this.store({ id, vector: v, meta });
      },
      (err: unknown) => {
        this.escalatedIds.delete(id);
        this.log.warn({ err, event_id: event.event_id }, 'could not embed an escalated event; it is not added to the index');
      },
    );
  }

  /** Escalated events currently in the index. */
  escalatedCount(): number {
    return this.escalated.length;
  }

  private store(s: Stored): void {
    if (this.escalated.length >= this.maxEscalated) {
      if (!this.rebuildFrom) {
        this.escalatedSkipped++;
        return;
      }
      // Forget the oldest tenth and rebuild: the index has no delete.
      const keep = this.escalated.slice(Math.ceil(this.maxEscalated / 10));
      const index = this.rebuildFrom.createIndex();
      for (const e of this.rebuildFrom.exemplars) index.add(e.id, e.vector, e.meta);
      for (const e of keep) index.add(e.id, e.vector, e.meta);
      for (const e of this.escalated.slice(0, this.escalated.length - keep.length)) this.escalatedIds.delete(e.id);
      this.escalated = keep;
      this.index = index;
      this.log.debug({ kept: keep.length }, 'neighbour index rebuilt, oldest escalated events forgotten');
    }
    this.index.add(s.id, s.vector, s.meta);
    this.escalated.push(s);
    this.escalatedIds.add(s.id);
  }

  /** Idempotent; closes the embedder. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.embedder.close();
  }
}

function escalatedId(eventId: string): string {
  return `escalated:${eventId}`;
}
