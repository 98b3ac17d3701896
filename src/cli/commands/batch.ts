import type { BatchStatus } from '../../stream/types.js';
import { batchSettings } from '../index-settings.js';
import { resolveSettings } from '../settings.js';
import { callIndexApi, indexBases } from './search.js';

/** A one-line progress bar of terminal events over queued ones. */
export function progressLine(s: BatchStatus, width = 30): string {
  const done = s.low_risk + s.indexed + s.dead_lettered;
  const of = Math.max(s.queued, 1);
  const filled = Math.min(width, Math.round((done / of) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${s.queued} done · screened ${s.screened} · low risk ${s.low_risk} · escalated ${s.escalated} · indexed ${s.indexed} · dead-lettered ${s.dead_lettered}`;
}

function table(s: BatchStatus): string {
  const keys = ['total', 'queued', 'screened', 'low_risk', 'escalated', 'indexed', 'failed', 'dead_lettered', 'completed'] as const;
  return `batch ${s.batch_id}\n${keys.map((k) => `  ${k.padEnd(14)}${String(s[k])}`).join('\n')}\n`;
}

/** `riskpipe batch <id> [--wait]`: a batch's progress, waiting (with a progress bar on a terminal) until it completes. */
export async function run(batchId: string, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(batchSettings, flags, env);
  const bases = indexBases(cfg.url, flags, env);
  const get = () => callIndexApi<BatchStatus>(bases, cfg.apiKey, 'GET', `/v1/batches/${encodeURIComponent(batchId)}`);
  let s = await get();
  if (cfg.wait) {
    const tty = process.stderr.isTTY && !cfg.json;
    const deadline = Date.now() + cfg.timeoutS * 1000;
    while (!s.completed && Date.now() < deadline) {
      if (tty) process.stderr.write(`\r${progressLine(s)}\x1b[K`);
      await new Promise((r) => setTimeout(r, cfg.intervalMs));
      s = await get();
    }
    if (tty) process.stderr.write(`\r${progressLine(s)}\x1b[K\n`);
    if (!s.completed) process.exitCode = 3;
  }
  process.stdout.write(cfg.json ? `${JSON.stringify(s)}\n` : table(s));
  if (!s.completed && cfg.wait && !cfg.json) process.stderr.write(`riskpipe: batch ${batchId} did not complete within ${cfg.timeoutS} s\n`);
}
