/**
 * Generates a BERT-shaped ONNX sentence model with random weights, plus its WordPiece tokenizer
 * files, in the layout transformers.js loads from a local folder:
 *
 *   <out>/config.json  tokenizer.json  tokenizer_config.json  onnx/model.onnx
 *
 * No weights can be downloaded on our machines, so the tests load and run THIS model through the
 * real OnnxEmbedder code path, and bench:screen uses the e5-small-v2-shaped variant (hidden 384,
 * 12 layers, vocabulary 30522) to measure inference cost. Its embeddings mean nothing.
 *
 *   npx tsx scripts/make-tiny-model.ts <out-dir> [--shape tiny|e5-small] [--hidden N] [--layers N] [--intermediate N] [--vocab N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export interface TinyModelShape {
  hidden: number;
  layers: number;
  intermediate: number;
  /** Extra hidden×hidden matmuls per layer, standing in for attention's Q, K, V and output projections. */
  projections: number;
  /** Vocabulary size; the tokenizer knows a few hundred real pieces, the rest are filler. */
  vocab: number;
}

export const SHAPES: Record<string, TinyModelShape> = {
  tiny: { hidden: 32, layers: 2, intermediate: 64, projections: 1, vocab: 0 },
  'e5-small': { hidden: 384, layers: 12, intermediate: 1536, projections: 4, vocab: 30522 },
};

// --- a minimal protobuf writer (varints, length-delimited fields) -------------------------------

class Pb {
  private parts: Buffer[] = [];
  private static varint(n: number | bigint): Buffer {
    let v = BigInt.asUintN(64, BigInt(n));
    const bytes: number[] = [];
    while (v >= 0x80n) {
      bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    bytes.push(Number(v));
    return Buffer.from(bytes);
  }
  int(field: number, n: number | bigint): this {
    this.parts.push(Pb.varint((field << 3) | 0), Pb.varint(n));
    return this;
  }
  bytes(field: number, b: Buffer | Uint8Array): this {
    this.parts.push(Pb.varint((field << 3) | 2), Pb.varint(b.length), Buffer.from(b));
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  msg(field: number, m: Pb): this {
    return this.bytes(field, m.done());
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const FLOAT = 1;
const INT64 = 7;

function tensor(name: string, dims: number[], dataType: number, raw: Buffer): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  return t.int(2, dataType).str(8, name).bytes(9, raw);
}

/** Random normal-ish weights, deterministic from a seed (so a model is the same every run). */
function randomFloats(n: number, scale: number, seed: number): Buffer {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    // xorshift32, then the sum of two uniforms centred on 0
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const u1 = s / 0xffffffff;
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = (u1 + s / 0xffffffff - 1) * scale;
  }
  return Buffer.from(a.buffer);
}

function node(op: string, inputs: string[], outputs: string[], name: string): Pb {
  const n = new Pb();
  for (const i of inputs) n.str(1, i);
  for (const o of outputs) n.str(2, o);
  return n.str(3, name).str(4, op);
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, typeof d === 'number' ? new Pb().int(1, d) : new Pb().str(2, d));
  const tensorType = new Pb().int(1, elemType).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

/** The ONNX model: embeddings → layers of (projections, feed-forward with tanh, residual) → masked output. */
export function buildOnnxModel(shape: TinyModelShape, vocab: number): Buffer {
  const H = shape.hidden;
  const g = new Pb();
  const inits: Pb[] = [];
  const nodes: Pb[] = [];
  let seed = 7;
  const weight = (name: string, dims: number[]) => {
    const n = dims.reduce((a, b) => a * b, 1);
    inits.push(tensor(name, dims, FLOAT, randomFloats(n, 1 / Math.sqrt(dims[0]), seed++)));
    return name;
  };
  weight('word_embeddings', [vocab, H]);
  weight('token_type_embeddings', [2, H]);
  inits.push(tensor('unsqueeze_axes', [1], INT64, Buffer.from(new BigInt64Array([2n]).buffer)));
  nodes.push(node('Gather', ['word_embeddings', 'input_ids'], ['we'], 'gather_words'));
  nodes.push(node('Gather', ['token_type_embeddings', 'token_type_ids'], ['te'], 'gather_types'));
  nodes.push(node('Add', ['we', 'te'], ['x0'], 'embed_sum'));
  let x = 'x0';
  for (let l = 0; l < shape.layers; l++) {
    let p = x;
    for (let k = 0; k < shape.projections; k++) {
      const out = `l${l}_p${k}`;
      nodes.push(node('MatMul', [p, weight(`l${l}_wp${k}`, [H, H])], [out], `l${l}_proj${k}`));
      p = out;
    }
    nodes.push(node('MatMul', [p, weight(`l${l}_w1`, [H, shape.intermediate])], [`l${l}_h`], `l${l}_ff1`));
    nodes.push(node('Add', [`l${l}_h`, weight(`l${l}_b1`, [shape.intermediate])], [`l${l}_hb`], `l${l}_bias1`));
    nodes.push(node('Tanh', [`l${l}_hb`], [`l${l}_a`], `l${l}_act`));
    nodes.push(node('MatMul', [`l${l}_a`, weight(`l${l}_w2`, [shape.intermediate, H])], [`l${l}_o`], `l${l}_ff2`));
    nodes.push(node('Add', [`l${l}_o`, x], [`l${l}_r`], `l${l}_residual`));
    nodes.push(node('Tanh', [`l${l}_r`], [`x${l + 1}`], `l${l}_norm`));
    x = `x${l + 1}`;
  }
  // The attention mask is used (as a real encoder would), so padding changes nothing downstream.
  nodes.push(node('Cast', ['attention_mask'], ['mask_f'], 'mask_cast').msg(5, new Pb().str(1, 'to').int(3, FLOAT).int(20, 2)));
  nodes.push(node('Unsqueeze', ['mask_f', 'unsqueeze_axes'], ['mask_3d'], 'mask_unsqueeze'));
  nodes.push(node('Mul', [x, 'mask_3d'], ['last_hidden_state'], 'apply_mask'));

  for (const n of nodes) g.msg(1, n);
  g.str(2, 'riskpipe_tiny_bert');
  for (const t of inits) g.msg(5, t);
  for (const name of ['input_ids', 'attention_mask', 'token_type_ids']) g.msg(11, valueInfo(name, INT64, ['batch_size', 'sequence_length']));
  g.msg(12, valueInfo('last_hidden_state', FLOAT, ['batch_size', 'sequence_length', H]));
  return new Pb()
    .int(1, 8) // ir_version
    .str(2, 'riskpipe make-tiny-model')
    .msg(8, new Pb().str(1, '').int(2, 13)) // opset 13
    .msg(7, g)
    .done();
}

const WORDS = (
  'the a an and or but if you your yours i me my we our they them he she it is are was were be been ' +
  'have has had do does did will would can could should not no yes to of in on at for with from by ' +
  'this that these those what who how why when where here there all any some more most very just ' +
  'good great bad game play player round match win lose team chat message hello hi thanks please ' +
  'hate love kill die dead hurt find know live home family friend free nitro click link gift money ' +
  'crypto bitcoin send pics report abuse help stop want end life pain nobody everyone miss waste space ' +
  'query passage'
).split(' ');
const PIECES = ['##s', '##ed', '##ing', '##er', '##ly', '##y', '##e', '##a', '##o', '##i', '##n', '##t', '##r', '##l'];

/**
 * A WordPiece vocabulary: specials, real words, letters and suffix pieces; then, up to `size`,
 * letter pairs and triples (as word starts and as "##" pieces). The pairs and triples make a
 * 30522-entry vocabulary cut chat text into about as many tokens as a real BERT vocabulary
 * would, within a factor of ~1.3, so inference cost per message is realistic; with letters
 * alone it would be ~2× too many.
 */
export function buildVocab(size: number): string[] {
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const seen = new Set(vocab);
  const push = (t: string) => {
    if (seen.has(t)) return;
    seen.add(t);
    vocab.push(t);
  };
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
  const punct = '.,!?\'"-:;()@#$%&*/'.split('');
  for (const t of [...punct, ...letters, ...letters.map((c) => `##${c}`), ...PIECES, ...WORDS]) push(t);
  const az = 'abcdefghijklmnopqrstuvwxyz'.split('');
  const pairs = az.flatMap((a) => az.map((b) => a + b));
  const triples = pairs.flatMap((p) => az.map((c) => p + c));
  for (const group of [pairs, pairs.map((p) => `##${p}`), triples.map((t) => `##${t}`), triples]) {
    for (const t of group) {
      if (vocab.length >= size) break;
      push(t);
    }
  }
  for (let i = vocab.length; i < size; i++) vocab.push(`[unused${i}]`);
  return vocab;
}

export function buildTokenizerJson(vocab: string[]): object {
  const id = (t: string) => vocab.indexOf(t);
  const special = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => ({
    id: id(t), content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(vocab.map((t, i) => [t, i])) },
  };
}

/** Writes the model folder; returns its path. `overrides` change single sizes of the named shape. */
export function makeTinyModel(outDir: string, shapeName: keyof typeof SHAPES | string = 'tiny', overrides: Partial<TinyModelShape> = {}): string {
  if (!SHAPES[shapeName]) throw new Error(`unknown shape ${shapeName} (tiny, e5-small)`);
  const shape = { ...SHAPES[shapeName], ...overrides };
  const vocab = buildVocab(shape.vocab);
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  writeFileSync(
    join(outDir, 'config.json'),
    JSON.stringify({
      model_type: 'bert', architectures: ['BertModel'], hidden_size: shape.hidden, num_hidden_layers: shape.layers,
      num_attention_heads: 1, intermediate_size: shape.intermediate, vocab_size: vocab.length,
      max_position_embeddings: 512, type_vocab_size: 2, pad_token_id: 0,
    }, null, 2),
  );
  writeFileSync(join(outDir, 'tokenizer.json'), JSON.stringify(buildTokenizerJson(vocab)));
  writeFileSync(
    join(outDir, 'tokenizer_config.json'),
    JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 512, cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]' }),
  );
  writeFileSync(join(outDir, 'onnx', 'model.onnx'), buildOnnxModel(shape, vocab.length));
  return outDir;
}

if (process.argv[1] && /make-tiny-model\.(ts|js)$/.test(process.argv[1])) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { shape: { type: 'string', default: 'tiny' }, hidden: { type: 'string' }, layers: { type: 'string' }, intermediate: { type: 'string' }, vocab: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    console.error('usage: npx tsx scripts/make-tiny-model.ts <out-dir> [--shape tiny|e5-small] [--hidden N] [--layers N] [--intermediate N] [--vocab N]');
    process.exit(2);
  }
  const overrides: Partial<TinyModelShape> = {};
  for (const key of ['hidden', 'layers', 'intermediate', 'vocab'] as const) if (values[key] !== undefined) overrides[key] = Number(values[key]);
  console.log(makeTinyModel(positionals[0], values.shape, overrides));
}
