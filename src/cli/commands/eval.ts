import { z } from 'zod';
import { RiskpipeError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Event, RiskPrediction } from '../../models/index.js';
import { evaluatePredictions, formatEval, loadLabelledMessages, type EvalResult } from '../../screen/classifier/evaluate.js';
import { logLevel, resolveSettings } from '../settings.js';
import { loadScreener, scoringSettings } from './screen.js';

export const evalSettings = {
  ...scoringSettings,
  file: { flag: 'file', schema: z.string({ error: 'is required: --file labelled.jsonl' }).min(1, { error: 'must not be empty' }) },
  maxListed: { flag: 'maxListed', schema: z.coerce.number().int().min(0).default(30) },
  logLevel: { flag: 'logLevel', env: 'LOG_LEVEL', schema: logLevel, default: 'warn' },
};

/**
 * `riskpipe eval --file labelled.jsonl [--threshold T] [--json]`: screens a team's labelled
 * messages with the configured Screener and reports how well "should be escalated" is predicted.
 */
export async function evaluateFile(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<EvalResult & { model: string; fingerprint: string }> {
  const cfg = resolveSettings(evalSettings, flags, env);
  const rows = loadLabelledMessages(cfg.file);
  if (rows.length === 0) throw new RiskpipeError('RP_ERR_CLI_INPUT', `${cfg.file} has no labelled rows`);
  const log = createLogger({ level: cfg.logLevel });
  const { screener, threshold } = await loadScreener(cfg, log);
  try {
    const preds: RiskPrediction[] = [];
    for (let i = 0; i < rows.length; i += 64) {
      const batch = rows.slice(i, i + 64).map((r, j): { event: Event } => ({
        event: { event_id: r.id || `row-${i + j}`, event_type: 'message_created', platform: 'web_chat', channel_id: 'eval', user_id: 'eval', author_id: 'eval', content: r.content.slice(0, 10_000), created_at: '2026-01-01T00:00:00.000Z', metadata: {} },
      }));
      preds.push(...(await screener.screenBatch(batch)));
    }
    // loadScreener hands back the worker's view of a Screener; the model's names are on the Screener itself.
    const s = screener as unknown as { modelId?: string; fingerprint?: string; classifier?: { id: string } };
    const model = s.classifier ? `${s.modelId} + ${s.classifier.id}` : String(s.modelId);
    return { ...evaluatePredictions(rows, preds, threshold), model, fingerprint: String(s.fingerprint) };
  } finally {
    await screener.close();
  }
}

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await evaluateFile(flags, env);
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const max = typeof flags.maxListed === 'string' ? Number(flags.maxListed) : 30;
  process.stdout.write(`${formatEval(r, { maxListed: max, title: `${r.model} (policy ${r.fingerprint})` })}\n`);
}
