import { z } from 'zod';
import { resolveSettings } from '../settings.js';

export const modelPullSettings = {
  model: { flag: 'model', schema: z.string().regex(/^[\w.-]+\/[\w.-]+$/, { error: 'must be owner/name, e.g. intfloat/e5-small-v2' }).default('intfloat/e5-small-v2') },
  dir: { flag: 'dir', env: 'RISKPIPE_MODEL_DIR', schema: z.string().min(1).default('models') },
  quantized: { flag: 'quantized', schema: z.boolean().default(false) },
  revision: { flag: 'revision', schema: z.string().min(1).default('main') },
  hubUrl: { flag: 'hubUrl', env: 'HF_ENDPOINT', schema: z.url({ error: 'must be a URL' }).default('https://huggingface.co') },
  token: { flag: 'token', env: 'HF_TOKEN', schema: z.string().min(1).optional() },
  verify: { flag: 'verify', schema: z.boolean().default(true) },
};

function bar(done: number, total: number | undefined, width = 28): string {
  if (!total) return `${(done / 1e6).toFixed(1)} MB`;
  const f = Math.min(1, done / total);
  const n = Math.round(f * width);
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}] ${(f * 100).toFixed(0).padStart(3)}% ${(done / 1e6).toFixed(1)}/${(total / 1e6).toFixed(1)} MB`;
}

/**
 * `riskpipe model pull [--model intfloat/e5-small-v2] [--dir models]`: downloads an ONNX sentence
 * model from the Hugging Face hub (or HF_ENDPOINT), with a progress bar on stderr, resuming a
 * partial download, checking sizes and checksums from the hub's file list.
 */
export async function pull(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(modelPullSettings, flags, env);
  const { pullModel } = await import('../../embed/onnx.js');
  const tty = process.stderr.isTTY === true;
  let last = 0;
  const folder = await pullModel(cfg.model, cfg.dir, {
    quantized: cfg.quantized,
    revision: cfg.revision,
    remoteHost: cfg.hubUrl,
    token: cfg.token,
    verify: cfg.verify ? 'required' : 'off',
    onFile: (file) => process.stderr.write(`${tty ? '' : ''}${file}\n`),
    onProgress: (file, done, total) => {
      const now = Date.now();
      const finished = total !== undefined && done >= total;
      if (!finished && now - last < (tty ? 100 : 2000)) return;
      last = now;
      process.stderr.write(tty ? `\r  ${bar(done, total)}${finished ? '\n' : ''}` : `  ${file} ${bar(done, total)}\n`);
    },
  });
  process.stdout.write(`${cfg.model} ready in ${folder}${cfg.verify ? ' (sizes and checksums match the hub)' : ''}\nuse it: riskpipe screen-worker --embedder onnx --model-dir ${cfg.dir}\n`);
}
