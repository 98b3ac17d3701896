import { RiskpipeError } from '../../common/errors.js';
import { resolveSettings, sendSettings } from '../settings.js';
import { readInputFile, textEvent, type InputItem } from '../send/input.js';
import { sendEvents } from '../send/send.js';
import { formatSummary } from '../send/summary.js';

// Declared once, in ../settings.ts.
export { sendSettings };

/**
 * `riskpipe send`: exit 0 when every event was queued or a duplicate, 1 when anything was rejected
 * or not sent, 2 (via the error boundary) for bad input.
 */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(sendSettings, flags, env);
  const file = flags.file as string | undefined;
  const text = flags.text as string | undefined;
  if (file === undefined && text === undefined) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'nothing to send: give --file <path|-> or --text "..."');
  if (file !== undefined && text !== undefined) throw new RiskpipeError('RP_ERR_CLI_INPUT', 'give either --file or --text, not both');
  if (text !== undefined && text.trim() === '') throw new RiskpipeError('RP_ERR_CLI_INPUT', '--text is empty');
  if (text === undefined && (flags.platform !== undefined || flags.author !== undefined)) {
    throw new RiskpipeError('RP_ERR_CLI_INPUT', '--platform and --author apply to --text only (events from --file carry their own)');
  }

  const items: InputItem[] =
    text !== undefined
      ? [{ line: 1, at: '--text', event: textEvent(text, { platform: cfg.platform, author: cfg.author }) }]
      : await readInputFile(file!, readStdin);
  if (items.length === 0) throw new RiskpipeError('RP_ERR_CLI_INPUT', `${file === '-' ? 'stdin' : file}: no events in the input`);

  // First Ctrl-C: stop starting batches and print what happened; a second one kills as usual.
  const controller = new AbortController();
  const interrupt = () => controller.abort();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const progress = flags.progress !== false && process.stderr.isTTY === true ? progressBar() : undefined;
  try {
    const summary = await sendEvents(items, { ...cfg, signal: controller.signal, onProgress: progress?.update });
    progress?.clear();
    if (summary.fatal) process.stderr.write(`riskpipe: ${summary.fatal}\n`);
    process.stdout.write(flags.json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
    if (summary.rejected > 0 || summary.failed > 0) process.exitCode = 1;
  } finally {
    progress?.clear();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('reading events from stdin, one JSON object per line; end with Ctrl-D\n');
  // Async on purpose: readFileSync(0) fails with EAGAIN when stdin is a non-blocking pipe.
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A one-line bar on stderr, redrawn at most every 100 ms so a fast local server does not flood the terminal. */
function progressBar(widthChars = 30, redrawMs = 100) {
  let lastDrawMs = 0;
  let drawn = false;
  return {
    update(done: number, total: number) {
      const nowMs = Date.now();
      if (done < total && nowMs - lastDrawMs < redrawMs) return;
      lastDrawMs = nowMs;
      const filled = Math.round((done / Math.max(total, 1)) * widthChars);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(widthChars - filled)}] ${done}/${total}`);
      drawn = true;
    },
    clear() {
      if (drawn) process.stderr.write('\r\x1b[K');
      drawn = false;
    },
  };
}
