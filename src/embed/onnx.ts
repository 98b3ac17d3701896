import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
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
  /** Told as bytes arrive (`total` from the hub's metadata or Content-Length; undefined when unknown). */
  onProgress?: (file: string, receivedBytes: number, totalBytes: number | undefined) => void;
  /**
   * Checksums from the hub's metadata (`<host>/api/models/<repo>/tree/<revision>?recursive=true`:
   * sha256 of LFS files, the git blob sha1 of the others, and sizes). 'required' fails when the
   * metadata cannot be read; 'if-available' (default) downloads unverified then; 'off' skips it.
   */
  verify?: 'required' | 'if-available' | 'off';
}

/** What the hub says about one file. */
export interface HubFileInfo {
  path: string;
  size: number;
  /** sha256 hex of the content (LFS files). */
  sha256?: string;
  /** git blob sha1 hex (files kept in git). */
  gitSha1?: string;
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
  const revision = opts.revision ?? 'main';
  const folder = join(resolve(destDir), modelId);
  const verify = opts.verify ?? 'if-available';
  let meta: Map<string, HubFileInfo> | undefined;
  if (verify !== 'off') {
    try {
      meta = await hubFiles(host, repo, revision, opts);
    } catch (err) {
      if (verify === 'required') throw err;
    }
  }
  for (const file of modelFiles(opts.quantized)) {
    const url = `${host}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
    const info = meta?.get(file);
    if (meta && !info) throw new RiskpipeError('RP_ERR_MODEL', `${repo}@${revision} has no ${file} (according to the hub's file list)`);
    const dest = join(folder, file);
    // Already here and intact: nothing to fetch (a second pull is a check).
    if (info && existsSync(dest) && statSync(dest).size === info.size && (await matches(dest, info))) {
      opts.onProgress?.(file, info.size, info.size);
      continue;
    }
    opts.onFile?.(file, url);
    await download(url, dest, opts, info);
  }
  return folder;
}

/** The hub's list of a repository's files with sizes and checksums. */
export async function hubFiles(host: string, repo: string, revision: string, opts: Pick<PullModelOptions, 'token' | 'stallTimeoutMs'> = {}): Promise<Map<string, HubFileInfo>> {
  const url = `${host}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(opts.stallTimeoutMs ?? 30_000), headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
  } catch (err) {
    throw new RiskpipeError('RP_ERR_MODEL', `Could not read the file list of ${repo} (${url}): ${describeFetchError(err)}`, { cause: err });
  }
  if (!res.ok) throw new RiskpipeError('RP_ERR_MODEL', `Could not read the file list of ${repo} (${url}): HTTP ${res.status}`);
  const list = (await res.json()) as { type?: string; path: string; size: number; oid?: string; lfs?: { oid?: string; sha256?: string; size?: number } }[];
  const out = new Map<string, HubFileInfo>();
  for (const e of list) {
    if (e.type && e.type !== 'file') continue;
    const sha256 = e.lfs?.oid ?? e.lfs?.sha256;
    out.set(e.path, { path: e.path, size: e.lfs?.size ?? e.size, ...(sha256 ? { sha256: sha256.replace(/^sha256:/, '') } : e.oid ? { gitSha1: e.oid } : {}) });
  }
  return out;
}

/** The file's checksum as the hub computes it: sha256 of the content, or git's blob sha1 ("blob <size>\0" + content). */
async function fileDigest(path: string, info: HubFileInfo): Promise<string> {
  const h = createHash(info.sha256 ? 'sha256' : 'sha1');
  if (!info.sha256) h.update(`blob ${statSync(path).size}\0`);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function matches(path: string, info: HubFileInfo): Promise<boolean> {
  if (!info.sha256 && !info.gitSha1) return true;
  return (await fileDigest(path, info)) === (info.sha256 ?? info.gitSha1);
}

/**
 * One file: resumed from `<dest>.part` with a Range request when a partial download is there (the
 * server may answer 206 and we append, or 200 and we start over), checked against the hub's size
 * and checksum, then renamed into place. A bad checksum deletes the partial file: the next pull
 * starts clean.
 */
async function download(url: string, dest: string, opts: PullModelOptions, info?: HubFileInfo): Promise<void> {
  const stallMs = opts.stallTimeoutMs ?? 30_000;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const stalled = () => {
    clearTimeout(timer);
    timer = setTimeout(() => abort.abort(new Error(`no data for ${stallMs} ms`)), stallMs);
  };
  const part = `${dest}.part`;
  mkdirSync(dirname(dest), { recursive: true });
  let have = existsSync(part) ? statSync(part).size : 0;
  if (info && have > info.size) {
    rmSync(part, { force: true });
    have = 0;
  }
  let keepPart = false;
  try {
    stalled();
    const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    if (have > 0) headers.range = `bytes=${have}-`;
    const res = await fetch(url, { signal: abort.signal, headers });
    if (res.status === 416 && info && have === info.size) {
      // The part is complete already: only the rename was missing.
    } else {
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}${res.status === 404 ? ' (no such repository or file)' : res.status === 401 || res.status === 403 ? ' (gated or private: pass a token)' : ''}`);
      const resumed = res.status === 206 && have > 0;
      if (!resumed) have = 0;
      const len = Number(res.headers.get('content-length'));
      const total = info?.size ?? (Number.isFinite(len) && len > 0 ? len + have : undefined);
      let received = have;
      opts.onProgress?.(basename(dest), received, total);
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => {
        stalled();
        received += chunk.length;
        opts.onProgress?.(basename(dest), received, total);
      });
      // A partial download is kept for the next pull to resume; only a bad checksum discards it.
      keepPart = true;
      await pipeStreams(body, createWriteStream(part, { flags: resumed ? 'a' : 'w' }), { signal: abort.signal });
    }
    if (info) {
      const size = statSync(part).size;
      if (size !== info.size) throw new Error(`got ${size} bytes, the hub lists ${info.size}`);
      if (!(await matches(part, info))) {
        keepPart = false;
        throw new Error(`checksum mismatch (${info.sha256 ? 'sha256' : 'git sha1'} ${info.sha256 ?? info.gitSha1} expected)`);
      }
    }
    renameSync(part, dest);
  } catch (err) {
    if (!keepPart) rmSync(part, { force: true });
    const reason = abort.signal.aborted ? (abort.signal.reason as Error).message : describeFetchError(err);
    throw new RiskpipeError('RP_ERR_MODEL', `Could not download ${url}: ${reason}.${keepPart ? ' The partial file is kept: pull again to resume.' : ''} Pulling a model needs network access to the hub; elsewhere, copy ${basename(dest)} into ${dirname(dest)} by hand.`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** fetch() says only "fetch failed"; the reason (ENOTFOUND, ECONNREFUSED, …) is in `cause`. */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message;
}
