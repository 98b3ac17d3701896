import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RiskpipeError } from '../../common/errors.js';
import type { Embedder } from '../types.js';

export const DEFAULT_ONNX_MODEL_ID = 'intfloat/e5-small-v2';

export interface OnnxEmbedderOptions {
  /**
   * Where the model is: either the model's own folder (holding config.json), or a folder holding
   * `<modelId>/config.json`. Default ./models.
   */
  modelDir?: string;
  /** Default intfloat/e5-small-v2 (384-dim, "query: " prefix, mean pooling). */
  modelId?: string;
  /** Load onnx/model_quantized.onnx instead of onnx/model.onnx. Default false. */
  quantized?: boolean;
  /** Tokens per text; longer texts are truncated. Default 512. */
  maxLength?: number;
  /** Text put before every input; e5 models were trained with "query: ". Default "query: ". */
  prefix?: string;
}

interface Located {
  root: string;
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
  const weights = opts.quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
  const missing = ['config.json', 'tokenizer.json', 'tokenizer_config.json', weights].filter((f) => !existsSync(join(located.folder, f)));
  if (missing.length > 0) {
    throw new RiskpipeError(
      'RP_ERR_MODEL',
      `Embedding model not found in ${located.folder}: missing ${missing.join(', ')}. ` +
        `Expected config.json, tokenizer.json, tokenizer_config.json and ${weights} ` +
        `(copy them from the model's Hugging Face repository ${modelId} into that folder on a machine with internet access; ` +
        `riskpipe never downloads at run time), or use --embedder hash.`,
    );
  }
  return located;
}

type Tensor = { data: Float32Array | BigInt64Array; dims: number[] };
type Tokenizer = (texts: string[], o: { padding: boolean; truncation: boolean; max_length: number }) => Record<string, Tensor>;
type Model = ((inputs: Record<string, Tensor>) => Promise<Record<string, Tensor>>) & { config: { hidden_size?: number }; dispose?: () => Promise<void> };

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
    hf.env.allowRemoteModels = false;
    hf.env.allowLocalModels = true;
    hf.env.localModelPath = where.root + '/';
    try {
      const tokenizer = (await hf.AutoTokenizer.from_pretrained(where.id)) as unknown as Tokenizer;
      const model = (await hf.AutoModel.from_pretrained(where.id, { dtype: opts.quantized ? 'q8' : 'fp32', device: 'cpu' } as never)) as unknown as Model;
      const dim = model.config.hidden_size;
      if (!dim) throw new Error('config.json has no hidden_size');
      return new OnnxEmbedder(opts.modelId ?? where.id, dim, tokenizer, model, opts.maxLength ?? 512, opts.prefix ?? 'query: ');
    } catch (err) {
      if (err instanceof RiskpipeError) throw err;
      throw new RiskpipeError('RP_ERR_MODEL', `Embedding model in ${where.folder} could not be loaded: ${(err as Error).message}`, { cause: err });
    }
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const inputs = this.tokenizer(
      texts.map((t) => this.prefix + t),
      { padding: true, truncation: true, max_length: this.maxLength },
    );
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
