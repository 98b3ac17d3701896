import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { RiskpipeError } from '../../common/errors.js';
import { positiveInt, nonNegativeInt, resolveSettings } from '../settings.js';
import { formatSummary, readInputFile, sendEvents, textEvent, type InputItem } from '../send/send.js';

export const sendSettings = {
  url: { flag: 'url', env: 'RISKPIPE_URL', schema: z.url({ error: 'must be an http(s) URL' }), default: 'http://127.0.0.1:8001' },
  apiKey: { flag: 'apiKey', env: 'RISKPIPE_API_KEY', schema: z.string().optional() },
  batchSize: { flag: 'batchSize', schema: positiveInt(500), default: 200 },
  concurrency: { flag: 'concurrency', schema: positiveInt(64), default: 4 },
  maxRetries: { flag: 'maxRetries', schema: nonNegativeInt(100), default: 8 },
};

/** `riskpipe send`: exit 0 when everything was queued or a duplicate, 1 when anything was rejected or not sent. */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(sendSettings, flags, env);
  const file = flags.file as string | undefined;
  const text = flags.text as string | undefined;
  if (!file && text === undefined) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'nothing to send: give --file <path|-> or --text "..."');
  if (file && text !== undefined) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'give either --file or --text, not both');
  const items: InputItem[] =
    text !== undefined
      ? [{ line: 1, event: textEvent(text, { platform: flags.platform as string | undefined, author: flags.author as string | undefined }) }]
      : readInputFile(file!, () => readFileSync(0, 'utf8'));
  if (items.length === 0) throw new RiskpipeError('RP_ERR_CLI_INPUT', `${file}: no events in the input`);

  const showProgress = flags.progress !== false && !flags.json && process.stderr.isTTY === true;
  const summary = await sendEvents(items, {
    ...cfg,
    onProgress: showProgress ? (done, total) => process.stderr.write(`\r${bar(done, total)}`) : undefined,
  });
  if (showProgress) process.stderr.write('\n');
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${formatSummary(summary)}\n`);
  if (summary.rejected > 0 || summary.failed > 0) process.exitCode = 1;
}

function bar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / Math.max(total, 1)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}
