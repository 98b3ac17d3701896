import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { createEmbedder } from '../../src/screen/embed/index.js';
import { OnnxEmbedder, meanPoolNormalize } from '../../src/screen/embed/onnx.js';
import { makeTinyModel } from '../../scripts/make-tiny-model.js';

// No weights can be downloaded here: the real loading and inference code runs on a tiny
// BERT-shaped ONNX model generated for the test.
let dir: string;
let modelDir: string;
let embedder: OnnxEmbedder;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-onnx-'));
  modelDir = makeTinyModel(join(dir, 'tiny-bert'), 'tiny');
  embedder = await OnnxEmbedder.load({ modelDir, modelId: 'riskpipe/tiny-bert' });
}, 60_000);
afterAll(async () => {
  await embedder?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('OnnxEmbedder on a generated model', () => {
  it('reads the dimension from config.json and returns unit vectors', async () => {
    expect(embedder.dim).toBe(32);
    expect(embedder.id).toBe('riskpipe/tiny-bert');
    const [v] = await embedder.embed(['hello there']);
    expect(v).toHaveLength(32);
    expect(Math.hypot(...v)).toBeCloseTo(1, 4);
  });

  it('is deterministic, tells texts apart, and gives the same vector alone or in a padded batch', async () => {
    const [a, b, c] = await embedder.embed(['i know where you live', 'good game everyone', 'i know where you live']);
    expect([...a]).toEqual([...c]);
    expect(a.some((x, i) => Math.abs(x - b[i]) > 1e-3)).toBe(true);
    const [alone] = await embedder.embed(['good game everyone']);
    alone.forEach((x, i) => expect(x).toBeCloseTo(b[i], 5));
  });

  it('puts the "query: " prefix before every text (the e5 recipe)', async () => {
    const plain = await OnnxEmbedder.load({ modelDir, prefix: '' });
    const [withPrefix] = await embedder.embed(['hello']);
    const [manual] = await plain.embed(['query: hello']);
    const [without] = await plain.embed(['hello']);
    manual.forEach((x, i) => expect(x).toBeCloseTo(withPrefix[i], 5));
    expect(without.some((x, i) => Math.abs(x - withPrefix[i]) > 1e-3)).toBe(true);
  });

  it('loads through createEmbedder with batching', async () => {
    const e = await createEmbedder({ kind: 'onnx', modelDir });
    const out = await Promise.all([e.embed(['a']), e.embed(['b c'])]);
    expect(out.map((x) => x.length)).toEqual([1, 1]);
    await e.close();
  });

  it('fails with RP_ERR_MODEL naming the folder and the files it expects', async () => {
    const missing = join(dir, 'nope');
    const err = await OnnxEmbedder.load({ modelDir: missing }).catch((e) => e);
    expect(err).toBeInstanceOf(RiskpipeError);
    expect(err.code).toBe('RP_ERR_MODEL');
    expect(err.message).toContain(join(missing, 'intfloat/e5-small-v2'));
    expect(err.message).toContain('config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx');
  });
});

describe('meanPoolNormalize', () => {
  it('averages only unmasked tokens', () => {
    // batch 1, seq 3, dim 2; the last token is padding
    const [v] = meanPoolNormalize(new Float32Array([1, 0, 3, 0, 100, 100]), [1, 3, 2], new BigInt64Array([1n, 1n, 0n]));
    expect([...v]).toEqual([1, 0]);
  });
});
