import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { RiskpipeError } from '../common/errors.js';
import { RiskCategory } from '../models/index.js';
import type { Embedder, VectorIndex } from './types.js';

/** A labelled example text of the bank that the similarity signal searches. */
export const Exemplar = z.object({ id: z.string().min(1), text: z.string().min(1), label: RiskCategory });
export type Exemplar = z.infer<typeof Exemplar>;

/** The bank shipped with riskpipe (data/ at the package root; the same path from src/ and dist/). */
export const DEFAULT_EXEMPLARS_PATH = fileURLToPath(new URL('../../data/exemplars.jsonl', import.meta.url));

/**
 * Reads a JSON Lines exemplar bank (one `{"id", "label", "text"}` per line; blank lines and CRLF
 * are fine). A bad line or a repeated id throws RP_ERR_CONFIG naming the file and line number.
 */
export function loadExemplars(path: string = DEFAULT_EXEMPLARS_PATH): Exemplar[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RiskpipeError('RP_ERR_CONFIG', `Cannot read the exemplar bank ${path}: ${(err as Error).message}`);
  }
  const out: Exemplar[] = [];
  const seen = new Set<string>();
  // A byte-order mark (editors on Windows add one) would make the first line invalid JSON.
  text.replace(/^\uFEFF/, '').split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new RiskpipeError('RP_ERR_CONFIG', `${path}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    const r = Exemplar.safeParse(parsed);
    if (!r.success) throw new RiskpipeError('RP_ERR_CONFIG', `${path}:${i + 1}: ${r.error.issues.map((x) => `${x.path.join('.') || 'line'}: ${x.message}`).join('; ')}`);
    if (seen.has(r.data.id)) throw new RiskpipeError('RP_ERR_CONFIG', `${path}:${i + 1}: duplicate id ${r.data.id}`);
    seen.add(r.data.id);
    out.push(r.data);
  });
  return out;
}

/** Identifies a bank's content (order-independent): part of the policy fingerprint. */
export function exemplarBankHash(exemplars: Exemplar[]): string {
  const h = createHash('sha256');
  for (const e of [...exemplars].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) h.update(`${e.id}\u0000${e.label}\u0000${e.text}\u0001`);
  return h.digest('hex').slice(0, 16);
}

/** Embeds the bank in batches and adds it to `index` with source "exemplar". */
export async function indexExemplars(embedder: Embedder, index: VectorIndex, exemplars: Exemplar[], batchSize = 64): Promise<void> {
  for (let i = 0; i < exemplars.length; i += batchSize) {
    const batch = exemplars.slice(i, i + batchSize);
    const vectors = await embedder.embed(batch.map((e) => e.text));
    batch.forEach((e, j) => index.add(e.id, vectors[j], { label: e.label, source: 'exemplar', text: e.text }));
  }
}
