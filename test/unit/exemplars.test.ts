import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { HashEmbedder } from '../../src/embed/hash.js';
import { DEFAULT_EXEMPLARS_PATH, exemplarBankHash, indexExemplars, loadExemplars, type Exemplar } from '../../src/screen/exemplars.js';
import type { Embedder } from '../../src/screen/types.js';
import { BruteForceIndex, UsearchIndex } from '../../src/vector/index.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/exemplars-small.jsonl', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rp-exemplars-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function bank(name: string, content: string): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

function loadError(path: string): RiskpipeError {
  try {
    loadExemplars(path);
  } catch (err) {
    return err as RiskpipeError;
  }
  throw new Error('loadExemplars did not throw');
}

describe('loadExemplars', () => {
  it('reads a JSON Lines bank, skipping blank lines', () => {
    const ex = loadExemplars(FIXTURE);
    expect(ex).toHaveLength(6);
    expect(ex[0]).toEqual({ id: 'fx-thr-1', label: 'threat', text: 'I know where you live.' });
    expect(ex.map((e) => e.label)).toEqual(['threat', 'threat', 'spam', 'self_harm', 'toxic', 'low_risk']);
  });

  it('accepts CRLF line ends and a byte-order mark', () => {
    const path = bank('crlf.jsonl', '\uFEFF{"id":"a","label":"spam","text":"x"}\r\n{"id":"b","label":"toxic","text":"y"}\r\n');
    expect(loadExemplars(path).map((e) => e.id)).toEqual(['a', 'b']);
  });

  it('defaults to data/exemplars.jsonl at the package root', () => {
    expect(DEFAULT_EXEMPLARS_PATH).toBe(fileURLToPath(new URL('../../data/exemplars.jsonl', import.meta.url)));
    expect(loadExemplars().length).toBeGreaterThan(0);
  });

  it.each([
    ['not JSON', '{"id":"a","label":"spam","text":"x"}\n{"id": "b", oops}\n', /bad\.jsonl:2: not JSON/],
    ['an unknown label', '{"id":"a","label":"spam","text":"x"}\n\n{"id":"b","label":"rude","text":"y"}\n', /bad\.jsonl:3: label: /],
    ['an empty text', '{"id":"a","label":"spam","text":""}\n', /bad\.jsonl:1: text: /],
    ['a missing id', '{"label":"spam","text":"x"}\n', /bad\.jsonl:1: id: /],
    ['a repeated id', '{"id":"a","label":"spam","text":"x"}\n{"id":"a","label":"spam","text":"y"}\n', /bad\.jsonl:2: duplicate id a/],
  ])('throws RP_ERR_CONFIG naming the line for %s', (_what, content, message) => {
    const err = loadError(bank('bad.jsonl', content));
    expect(err).toBeInstanceOf(RiskpipeError);
    expect(err.code).toBe('RP_ERR_CONFIG');
    expect(err.message).toMatch(message);
  });

  it('throws RP_ERR_CONFIG naming a file it cannot read', () => {
    const err = loadError(join(tmp, 'absent.jsonl'));
    expect(err.code).toBe('RP_ERR_CONFIG');
    expect(err.message).toContain('absent.jsonl');
  });
});

describe('exemplarBankHash', () => {
  const ex = loadExemplars(FIXTURE);

  it('is 16 hex characters, independent of order', () => {
    const h = exemplarBankHash(ex);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    expect(exemplarBankHash([...ex].reverse())).toBe(h);
  });

  it('changes when a text, a label or an id changes', () => {
    const h = exemplarBankHash(ex);
    const edit = (patch: Partial<Exemplar>) => exemplarBankHash([{ ...ex[0], ...patch }, ...ex.slice(1)]);
    expect(edit({ text: 'I know where you live!' })).not.toBe(h);
    expect(edit({ label: 'toxic' })).not.toBe(h);
    expect(edit({ id: 'fx-thr-9' })).not.toBe(h);
  });

  it('does not confuse field boundaries', () => {
    const a = exemplarBankHash([{ id: 'a', label: 'spam', text: 'bc' }]);
    const b = exemplarBankHash([{ id: 'ab', label: 'spam', text: 'c' }]);
    expect(a).not.toBe(b);
  });
});

describe('indexExemplars', () => {
  it('embeds in batches and adds every exemplar with source "exemplar", label and text', async () => {
    const ex = loadExemplars(FIXTURE);
    const inner = new HashEmbedder();
    const calls: number[] = [];
    const counting: Embedder = { id: inner.id, dim: inner.dim, device: 'cpu', close: async () => {}, embed: (t) => (calls.push(t.length), inner.embed(t)) };
    const index = new BruteForceIndex(384);
    await indexExemplars(counting, index, ex, 4);
    expect(calls).toEqual([4, 2]);
    expect(index.size()).toBe(6);
    const [spam] = index.search((await inner.embed(['FR33 N1TR0 giveaway!! click the link']))[0], 1);
    expect(spam).toMatchObject({ id: 'fx-spam-1', label: 'spam', source: 'exemplar', text: 'free nitro giveaway, click the link' });
  });

  it('finds the obfuscated variant of an exemplar through the usearch index', async () => {
    const index = new UsearchIndex(384);
    const embedder = new HashEmbedder();
    await indexExemplars(embedder, index, loadExemplars(FIXTURE));
    const [hit] = index.search((await embedder.embed(['k.i.l.l y.o.u.r.s.e.l.f']))[0], 2);
    expect(hit).toMatchObject({ id: 'fx-tox-1', label: 'toxic' });
    expect(hit.similarity).toBeGreaterThan(0.6);
  });
});
