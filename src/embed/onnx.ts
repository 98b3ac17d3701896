import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline as pipeStreams } from 'node:stream/promises';
import { RiskpipeError } from '../common/errors.js';
import type { Embedder } from './types.js';

export const DEFAULT_ONNX_MODEL_ID = 'intfloat/e5-small-v2';

export interface OnnxEmbedderOptions {
  /**
   * Where the model is: either the model's own folder (holding config.json), or a folder holding
   * `<modelId>/config.json`. Default ./models.
   */
  modelDir?: string;
  /** Model id, reported as the embedder id. Default intfloat/e5-small-v2 (384-dim). */
  modelId?: string;
  /** Load onnx/model_quantized.onnx (int8) instead of onnx/model.onnx. Default false. */
  quantized?: boolean;
  /** Tokens per text, [CLS] and [SEP] included; longer texts are truncated. Default 512. */
  maxLength?: number;
  /** onnxruntime intra-op threads. Default 0 = onnxruntime's choice (one per core). */
  threads?: number;
  /** Text put before every input; e5 models were trained with "query: ". Default "query: ". */
  prefix?: string;
}

/** The files transformers.js needs in a model folder. */
export function modelFiles(quantized = false): string[] {
  return ['config.json', 'tokenizer.json', 'tokenizer_config.json', quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx'];
}

interface Located {
  /** Parent folder, given to transformers.js as env.localModelPath. */
  root: string;
  /** Folder name under root, the id transformers.js loads by. */
  id: string;
  folder: string;
}

/** Finds the model folder and checks the files transformers.js needs are there. */
export function locateModel(opts: OnnxEmbedderOptions): Located {
  const modelId = opts.modelId ?? DEFAULT_ONNX_MODEL_ID;
  const dir = resolve(opts.modelDir ?? 'models');
  const located: Located = existsSync(join(dir, 'config.json'))
    ? { root: dirname(dir), id: basename(dir), folder: dir }
    : { root: dir, id: modelId, folder: join(dir, modelId) };
  const expected = modelFiles(opts.quantized);
  const missing = expected.filter((f) => !existsSync(join(located.folder, f)));
  if (missing.length > 0) {
    throw new RiskpipeError(
      'RP_ERR_MODEL',
      `Embedding model not found in ${located.folder}: missing ${missing.join(', ')}. ` +
        `Expected ${expected.join(', ')} ` +
        `(copy them from the model's Hugging Face repository ${modelId} into that folder on a machine with internet access; ` +
        `riskpipe never downloads at run time), or use --embedder hash.`,
    );
  }
  return located;
}

type Tensor = { data: Float32Array | BigInt64Array; dims: number[] };
type Tokenizer = (texts: string[], o: { padding: boolean; truncation: boolean; max_length: number }) => Record<string, Tensor>;
type Model = ((inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>) & { config: { hidden_size?: number }; dispose?: () => Promise<unknown> };

/**
 * A sentence-embedding model run by onnxruntime-node through @huggingface/transformers, loaded
 * only from a local folder (remote downloads are switched off). Mean pooling over the attention
 * mask, then L2 normalisation — the e5 recipe.
 */
export class OnnxEmbedder implements Embedder {
  readonly device = 'cpu';
  private constructor(
    readonly id: string,
    readonly dim: number,
    private readonly tokenizer: Tokenizer,
    private readonly model: Model,
    private readonly maxLength: number,
    private readonly prefix: string,
  ) {}

  static async load(opts: OnnxEmbedderOptions = {}): Promise<OnnxEmbedder> {
    const where = locateModel(opts);
    const hf = await import('@huggingface/transformers');
    // Process-wide settings of transformers.js: never reach for the network, read from `root`.
    hf.env.allowRemoteModels = false;
    hf.env.allowLocalModels = true;
    hf.env.localModelPath = where.root + '/';
    try {
      const tokenizer = (await hf.AutoTokenizer.from_pretrained(where.id)) as unknown as Tokenizer;
      const model = (await hf.AutoModel.from_pretrained(where.id, {
        dtype: opts.quantized ? 'q8' : 'fp32',
        device: 'cpu',
        session_options: { intraOpNumThreads: opts.threads ?? 0, interOpNumThreads: 1 },
      })) as unknown as Model;
      const dim = model.config.hidden_size;
      if (!dim) throw new Error('config.json has no hidden_size');
      return new OnnxEmbedder(opts.modelId ?? where.id, dim, tokenizer, model, opts.maxLength ?? 512, opts.prefix ?? 'query: ');
    } catch (err) {
      if (err instanceof RiskpipeError) throw err;
      throw new RiskpipeError('RP_ERR_MODEL', `Embedding model in ${where.folder} could not be loaded: ${(err as Error).message}`, { cause: err });
    }
  }

  /** The token ids the model sees for `texts`, prefix included (for tests and debugging). */
  tokenize(texts: string[]): Record<string, Tensor> {
    return this.tokenizer(
      texts.map((t) => this.prefix + t),
      { padding: true, truncation: true, max_length: this.maxLength },
    );
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const inputs = this.tokenize(texts);
    const out = await this.model(inputs);
    const hidden = out.last_hidden_state ?? Object.values(out)[0];
    return meanPoolNormalize(hidden.data as Float32Array, hidden.dims, inputs.attention_mask.data as BigInt64Array);
  }

  async close(): Promise<void> {
    await this.model.dispose?.();
  }
}

/** Mean of the token vectors the attention mask keeps, scaled to unit length. */
export function meanPoolNormalize(hidden: Float32Array, dims: number[], mask: BigInt64Array | Int32Array): Float32Array[] {
  const [batch, seq, dim] = dims;
  const out: Float32Array[] = [];
  for (let b = 0; b < batch; b++) {
    const v = new Float32Array(dim);
    let count = 0;
    for (let s = 0; s < seq; s++) {
      if (Number(mask[b * seq + s]) === 0) continue;
      count++;
      const off = (b * seq + s) * dim;
      for (let d = 0; d < dim; d++) v[d] += hidden[off + d];
    }
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      v[d] /= Math.max(count, 1);
      norm += v[d] * v[d];
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < dim; d++) v[d] *= inv;
    out.push(v);
  }
  return out;
}

// --- pulling a model (the one place riskpipe touches the network for models) -------------------

/**
 * Repositories holding transformers.js-ready ONNX exports (onnx/model.onnx, model_quantized.onnx)
 * of models whose own repository has none in that layout.
 */
const ONNX_REPOS: Record<string, string> = {
  'intfloat/e5-small-v2': 'Xenova/e5-small-v2',
  'intfloat/e5-base-v2': 'Xenova/e5-base-v2',
};

export interface PullModelOptions {
  /** Repository to download from. Default: the transformers.js ONNX export for known ids (intfloat/e5-small-v2 → Xenova/e5-small-v2), else the model id. */
  repo?: string;
  /** Fetch onnx/model_quantized.onnx instead of onnx/model.onnx. Default false. */
  quantized?: boolean;
  /** Hub address (a mirror, e.g. from HF_ENDPOINT in the CLI). Default https://huggingface.co. */
  remoteHost?: string;
  /** Git revision. Default "main". */
  revision?: string;
  /** Bearer token for gated or private repositories. Default none. */
  token?: string;
  /** Give up when no byte has arrived for this long (connecting, waiting, downloading). Default 30000 ms. */
  stallTimeoutMs?: number;
  /** Told about each file as it starts. Default none. */
  onFile?: (file: string, url: string) => void;
}

/**
 * Downloads a model's files into `<destDir>/<modelId>/`, the layout OnnxEmbedder loads, and
 * returns that folder. Files are fetched the way transformers.js's hub support addresses them
 * (`<host>/<repo>/resolve/<revision>/<file>`), but with our own fetch: transformers.js's cannot
 * be given a timeout, and on a machine without network it would hang instead of failing.
 * Each file is written to `<file>.part` and renamed when complete.
 */
export async function pullModel(modelId: string, destDir: string, opts: PullModelOptions = {}): Promise<string> {
  const repo = opts.repo ?? ONNX_REPOS[modelId] ?? modelId;
  const host = (opts.remoteHost ?? 'https://huggingface.co').replace(/\/+$/, '');
  const folder = join(resolve(destDir), modelId);
  for (const file of modelFiles(opts.quantized)) {
    const url = `${host}/${repo}/resolve/${encodeURIComponent(opts.revision ?? 'main')}/${file}`;
    opts.onFile?.(file, url);
    await download(url, join(folder, file), opts);
  }
  return folder;
}

async function download(url: string, dest: string, opts: PullModelOptions): Promise<void> {
  const stallMs = opts.stallTimeoutMs ?? 30_000;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const stalled = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  };
  const part = `${dest}.part`;
  mkdirSync(dirname(dest), { recursive: true });
  try {
    stalled();
    const res = await fetch(url, { signal: abort.signal, headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}${res.status === 404 ? ' (no such repository or file)' : res.status === 401 || res.status === 403 ? ' (gated or private: pass a token)' : ''}`);
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', stalled);
    await pipeStreams(body, createWriteStream(part), { signal: abort.signal });
    renameSync(part, dest);
  } catch (err) {
    rmSync(part, { force: true });
    const reason = abort.signal.aborted ? (abort.signal.reason as Error).message : describeFetchError(err);
    throw new RiskpipeError('RP_ERR_MODEL', `Could not download ${url}: ${reason}. Pulling a model needs network access to the hub; elsewhere, copy ${basename(dest)} into ${dirname(dest)} by hand.`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** fetch() says only "fetch failed"; the reason (ENOTFOUND, ECONNREFUSED, …) is in `cause`. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
