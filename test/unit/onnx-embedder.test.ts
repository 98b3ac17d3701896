import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { createEmbedder } from '../../src/embed/index.js';
import { OnnxEmbedder, meanPoolNormalize, pullModel } from '../../src/embed/onnx.js';
import { buildVocab, makeTinyModel } from '../../scripts/make-tiny-model.js';

// No weights can be downloaded here: the real loading and inference code runs on a tiny
// BERT-shaped ONNX model generated for the test.
let dir: string;
let modelDir: string;
let embedder: OnnxEmbedder;
const vocab = buildVocab(0);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rp-onnx-'));
  modelDir = makeTinyModel(join(dir, 'tiny-bert'), 'tiny');
  embedder = await OnnxEmbedder.load({ modelDir, modelId: 'riskpipe/tiny-bert' });
}, 60_000);
afterAll(async () => {
  await embedder?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function modelError(p: Promise<unknown>): Promise<RiskpipeError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RiskpipeError);
  expect((err as RiskpipeError).code).toBe('RP_ERR_MODEL');
  return err as RiskpipeError;
}

const distinct = (a: Float32Array, b: Float32Array) => a.some((x, i) => Math.abs(x - b[i]) > 1e-3);

describe('OnnxEmbedder on a generated model', () => {
  it('reads the dimension from config.json and returns unit vectors', async () => {
    expect(embedder).toMatchObject({ dim: 32, id: 'riskpipe/tiny-bert', device: 'cpu' });
    const [v] = await embedder.embed(['hello there']);
    expect(v).toHaveLength(32);
    expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    expect(await embedder.embed([])).toEqual([]);
  });

  it('is deterministic, tells texts apart, and gives the same vector alone or in a padded batch', async () => {
    const [a, b, c] = await embedder.embed(['i know where you live', 'good game everyone', 'i know where you live']);
    expect([...a]).toEqual([...c]);
    expect(distinct(a, b)).toBe(true);
    const [alone] = await embedder.embed(['good game everyone']);
    alone.forEach((x, i) => expect(x).toBeCloseTo(b[i], 5));
  });

  it('puts the "query: " prefix before every text (the e5 recipe)', async () => {
    const ids = Array.from(embedder.tokenize(['hello']).input_ids.data as BigInt64Array, Number);
    expect(ids.map((i) => vocab[i])).toEqual(['[CLS]', 'query', ':', 'hello', '[SEP]']);
    const plain = await OnnxEmbedder.load({ modelDir, prefix: '' });
    const [withPrefix] = await embedder.embed(['hello']);
    const [manual] = await plain.embed(['query: hello']);
    const [without] = await plain.embed(['hello']);
    manual.forEach((x, i) => expect(x).toBeCloseTo(withPrefix[i], 5));
    expect(distinct(without, withPrefix)).toBe(true);
    await plain.close();
  });

  it('truncates to maxLength tokens', async () => {
    const short = await OnnxEmbedder.load({ modelDir, maxLength: 8, threads: 1 });
    const long = 'good game everyone '.repeat(20);
    expect(short.tokenize([long]).input_ids.dims).toEqual([1, 8]);
    const [a, b] = await short.embed([`${long} hello`, `${long} i know where you live`]);
    expect([...a]).toEqual([...b]); // they differ only past the limit
    const [c, d] = await embedder.embed([`${long} hello`, `${long} i know where you live`]);
    expect(distinct(c, d)).toBe(true); // the default limit (512) sees the difference
    await short.close();
  });

  it('loads by id from a folder of models (<modelDir>/<modelId>/)', async () => {
    makeTinyModel(join(dir, 'models', 'acme', 'tiny'), 'tiny');
    const e = await OnnxEmbedder.load({ modelDir: join(dir, 'models'), modelId: 'acme/tiny' });
    expect(e.id).toBe('acme/tiny');
    const [v] = await e.embed(['hello']);
    const [w] = await embedder.embed(['hello']);
    expect([...v]).toEqual([...w]); // the generator is deterministic
    await e.close();
  });

  it('loads through createEmbedder with batching', async () => {
    const e = await createEmbedder({ kind: 'onnx', modelDir, modelId: 'riskpipe/tiny-bert', threads: 1 });
    expect(e).toMatchObject({ id: 'riskpipe/tiny-bert', dim: 32 });
    const [[a], [b]] = await Promise.all([e.embed(['good game everyone']), e.embed(['i know where you live'])]);
    const [ra, rb] = await embedder.embed(['good game everyone', 'i know where you live']);
    a.forEach((x, i) => expect(x).toBeCloseTo(ra[i], 5));
    b.forEach((x, i) => expect(x).toBeCloseTo(rb[i], 5));
    await e.close();
  });

  it('fails with RP_ERR_MODEL naming the folder and the files it expects', async () => {
    const missing = join(dir, 'nope');
    const err = await modelError(OnnxEmbedder.load({ modelDir: missing }));
    expect(err.message).toContain(join(missing, 'intfloat/e5-small-v2'));
    expect(err.message).toContain('config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx');
    const q = await modelError(OnnxEmbedder.load({ modelDir, quantized: true }));
    expect(q.message).toContain(`${modelDir}: missing onnx/model_quantized.onnx`);
  });

  it('fails with RP_ERR_MODEL when the weights are not a model', async () => {
    const broken = makeTinyModel(join(dir, 'broken'), 'tiny');
    writeFileSync(join(broken, 'onnx', 'model.onnx'), 'not a protobuf');
    const err = await modelError(OnnxEmbedder.load({ modelDir: broken }));
    expect(err.message).toContain(`Embedding model in ${broken} could not be loaded`);
  });
});

describe('meanPoolNormalize', () => {
  it('averages only unmasked tokens, then scales to unit length', () => {
    // batch 2, seq 3, dim 2; padding is masked out
    const hidden = new Float32Array([1, 0, 3, 0, 100, 100, 0, 2, 0, 4, 0, 6]);
    const [v, w] = meanPoolNormalize(hidden, [2, 3, 2], new BigInt64Array([1n, 1n, 0n, 1n, 1n, 1n]));
    expect([...v]).toEqual([1, 0]);
    expect([...w]).toEqual([0, 1]);
  });
});

describe('pullModel', () => {
  let server: Server;
  let host: string;
  const requests: string[] = [];

  beforeAll(async () => {
    // A stand-in for the hub: serves the generated model under /<repo>/resolve/main/<file>.
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
      if (m?.[1] === 'acme/stall') return; // never answers
      const file = m && m[1] === 'acme/tiny' ? join(modelDir, m[2]) : '';
      if (!file || !existsSync(file)) {
        res.writeHead(404).end('Entry not found');
        return;
      }
      res.writeHead(200).end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it('downloads the four files into <dest>/<modelId>/, where OnnxEmbedder loads them', async () => {
    const dest = join(dir, 'pulled');
    const folder = await pullModel('acme/tiny', dest, { remoteHost: `${host}/` });
    expect(folder).toBe(join(dest, 'acme/tiny'));
    expect(requests.filter((r) => r.startsWith('/acme/tiny/'))).toEqual(['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'].map((f) => `/acme/tiny/resolve/main/${f}`));
    expect(readdirSync(join(folder, 'onnx'))).toEqual(['model.onnx']); // no .part left behind
    const e = await OnnxEmbedder.load({ modelDir: dest, modelId: 'acme/tiny' });
    const [v] = await e.embed(['hello']);
    const [w] = await embedder.embed(['hello']);
    expect([...v]).toEqual([...w]);
    await e.close();
  });

  it('fetches known models from their transformers.js ONNX export', async () => {
    const err = await modelError(pullModel('intfloat/e5-small-v2', join(dir, 'pulled-e5'), { remoteHost: host }));
    expect(err.message).toContain(`${host}/Xenova/e5-small-v2/resolve/main/config.json`);
    expect(err.message).toContain('HTTP 404');
  });

  it('gives up on a silent server after stallTimeoutMs, with a clear RP_ERR_MODEL', async () => {
    const started = Date.now();
    const err = await modelError(pullModel('acme/stall', join(dir, 'pulled-stall'), { remoteHost: host, stallTimeoutMs: 300 }));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err.message).toMatch(/Could not download .*acme\/stall\/resolve\/main\/config\.json: no data for 300 ms/);
    expect(existsSync(join(dir, 'pulled-stall', 'acme/stall', 'config.json.part'))).toBe(false);
  });

  it('fails fast with the network error when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await modelError(pullModel('acme/tiny', join(dir, 'pulled-refused'), { remoteHost: `http://127.0.0.1:${port}` }));
    expect(err.message).toContain('ECONNREFUSED');
  });
});

describe('createEmbedder', () => {
  it.runIf(process.platform === 'linux')('never loads onnxruntime for the hash embedder', async () => {
    const script = `
      const { createEmbedder } = await import('./src/embed/index.ts');
      const e = await createEmbedder({ kind: 'hash' });
      await e.embed(['hello']);
      const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
      console.log(JSON.stringify({ onnx: /onnxruntime/.test(maps) }));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(import.meta.dirname, '../..') });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ onnx: false });
  });
});
