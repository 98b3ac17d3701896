import { Command, Option } from 'commander';
import { RiskpipeError, ConfigError } from '../common/errors.js';

/**
 * The `riskpipe` command line. Each command's module is imported only when that command runs, so
 * `riskpipe send` never loads Fastify's server side or the ONNX runtime.
 */
export function buildProgram(): Command {
  const program = new Command('riskpipe')
    .description('Trust & safety pipeline: ingest, screen, route and index chat events')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)');

  const shared = (cmd: Command) =>
    cmd
      .option('--redis-url <url>', 'Redis URL (env REDIS_URL; default redis://127.0.0.1:6379)')
      .option('--prefix <prefix>', 'prefix before every Redis key and stream name (env RISKPIPE_PREFIX; default none)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default info)');

  shared(
    program
      .command('serve-ingest')
      .description('HTTP ingestion API: validate, deduplicate and queue events into events:raw (port 8001)')
      .option('--host <host>', 'address to listen on (env RISKPIPE_HOST; default 0.0.0.0)')
      .option('--port <port>', 'port (env RISKPIPE_INGEST_PORT or PORT; default 8001)')
      .option('--api-keys <keys>', 'comma-separated accepted API keys (env RISKPIPE_API_KEYS; none = auth off)')
      .option('--max-queue-depth <n>', 'answer 503 while events:raw has this many unconsumed entries (env RISKPIPE_MAX_QUEUE_DEPTH; default 100000)')
      .option('--dedup-window-s <s>', 'seconds a repeated event counts as duplicate (env RISKPIPE_DEDUP_WINDOW_S; default 3600)')
      .option('--max-batch-size <n>', 'most events per batch request (env RISKPIPE_MAX_BATCH_SIZE; default 500)')
      .option('--body-limit-bytes <n>', 'largest request body (env RISKPIPE_BODY_LIMIT_BYTES; default 16777216)'),
  ).action(async (opts) => (await import('./commands/serve-ingest.js')).run(opts, process.env));

  // No Redis options: send only talks HTTP to serve-ingest.
  program
    .command('send')
    .description('send events to serve-ingest from a JSONL/JSON file, stdin or --text')
    .option('-f, --file <path>', 'events as JSON Lines, a JSON array, or - for stdin')
    .option('-t, --text <text>', 'send one message with generated ids')
    .option('--platform <platform>', 'platform for --text (default web_chat)')
    .option('--author <id>', 'author_id/user_id for --text (default cli-user)')
    .option('--url <url>', 'ingest API base URL (env RISKPIPE_URL; default http://127.0.0.1:8001)')
    .option('--api-key <key>', 'API key (env RISKPIPE_API_KEY)')
    .option('--batch-size <n>', 'events per batch request (default 200; at most 500, the server\'s limit)')
    .option('--concurrency <n>', 'requests in flight (default 4)')
    .option('--max-retries <n>', 'retries of a request answered 503 or not answered, with backoff honoring Retry-After (default 8)')
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (opts) => (await import('./commands/send.js')).run(opts, process.env));

  shared(
    program
      .command('tail-stream <stream>')
      .description('print entries of a stream as they arrive, e.g. events:low_risk (the prefix is added)')
      .option('--json', 'one JSON object per line')
      .option('--from-start', 'start at the first entry instead of new ones')
      .option('-n, --count <n>', 'stop after this many entries')
      .option('--block-ms <ms>', 'how long one read waits (default 5000)'),
  ).action(async (stream, opts) => (await import('./commands/tail-stream.js')).run(stream, opts, process.env));

  const scoring = (cmd: Command) =>
    cmd
      .option('--embedder <kind>', 'hash|glove|onnx (env RISKPIPE_EMBEDDER; default hash)')
      .option('--classifier <dir>', 'trained classifier folder (riskpipe train --out), or none (env RISKPIPE_CLASSIFIER; default the shipped one)')
      .option('--model-dir <dir>', 'ONNX sentence model directory (env RISKPIPE_MODEL_DIR)')
      .option('--threshold <score>', 'route to the reasoning queue at or above this score, 0-1 (env SCREENING_THRESHOLD; default the policy\'s, 0.7)')
      .option('--neighbors <when>', 'always|when-evidence: search nearest exemplars for every event, or only where a rule found evidence (faster, same routing; env RISKPIPE_NEIGHBORS; default always)');

  shared(
    scoring(
      program
        .command('screen-worker')
        .description('screening worker: consume events:raw, score, route to events:reasoning_queue / events:low_risk; HTTP API (port 8002)')
        .option('--host <host>', 'address to listen on (env RISKPIPE_HOST; default 0.0.0.0)')
        .option('--port <port>', 'port (env RISKPIPE_SCREEN_PORT; default 8002)')
        .option('--api-keys <keys>', 'comma-separated accepted API keys for POST /v1/risk/screen (env RISKPIPE_API_KEYS; none = auth off)')
        .option('--consumer <name>', 'consumer name in the group (env RISKPIPE_CONSUMER; default hostname-pid-random)')
        .option('--claim-idle-ms <ms>', 'claim entries pending this long from other consumers (env RISKPIPE_CLAIM_IDLE_MS; default 30000)')
        .option('--max-deliveries <n>', 'dead-letter an entry delivered more often than this (env RISKPIPE_MAX_DELIVERIES; default 5)')
        .option('--batch-size <n>', 'entries per read and per scoring batch (env RISKPIPE_BATCH_SIZE; default 64)')
        .option('--block-ms <ms>', 'how long one read waits for new entries (env RISKPIPE_BLOCK_MS; default 2000)')
        .option('--concurrency <n>', 'batches scored at once (env RISKPIPE_SCREEN_CONCURRENCY; default 2)')
        .option('--author-window-s <s>', 'window of the per-author message counts (env RISKPIPE_AUTHOR_WINDOW_S; default 60)')
        .option('--trim-interval-ms <ms>', 'trim acknowledged entries from events:raw this often, 0 = never (env RISKPIPE_TRIM_INTERVAL_MS; default 0)'),
    ),
  ).action(async (opts) => (await import('./commands/screen-worker.js')).run(opts, process.env));

  scoring(
    program
      .command('screen')
      .description('score events offline (no Redis): JSON Lines of events or {"event_id", "content"}; prints each verdict and where it would be routed')
      .option('-f, --file <path>', 'JSON Lines input, or - for stdin')
      .option('--json', 'one JSON object per input line')
      .option('--prefix <prefix>', 'stream prefix shown in routed_to (env RISKPIPE_PREFIX)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default warn)'),
  ).action(async (opts) => (await import('./commands/screen.js')).run(opts, process.env));

  scoring(
    program
      .command('explain')
      .description('the full breakdown of one verdict: signals, neighbours, category scores, thresholds')
      .option('-t, --text <text>', 'the message to explain')
      .option('-f, --file <path>', 'one event as JSON, or - for stdin')
      .option('--json', 'print the breakdown as JSON')
      .option('--prefix <prefix>', 'stream prefix shown in routed_to (env RISKPIPE_PREFIX)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default warn)'),
  ).action(async (opts) => (await import('./commands/explain.js')).run(opts, process.env));

  // Screening quality (issue 8): measure on a team's labelled data, retrain, fetch a sentence model.
  scoring(
    program
      .command('eval')
      .description('screen labelled messages (JSON Lines: content, should_escalate, category?, kind?) and report precision/recall/F1, false alarms, per category and kind, confusion, misses')
      .option('-f, --file <path>', 'labelled JSON Lines')
      .option('--json', 'the whole report as JSON')
      .option('--max-listed <n>', 'misses and false alarms listed (default 30)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default warn)'),
  ).action(async (opts) => (await import('./commands/eval.js')).run(opts, process.env));
  program
    .command('train')
    .description('retrain the screening classifier on the shipped corpus plus your labelled JSON Lines; writes it with its fingerprint')
    .option('-f, --file <path...>', 'labelled JSON Lines (content, should_escalate, category, kind?)')
    .option('--out <dir>', 'where to write the classifier (default ./riskpipe-classifier)')
    .option('--no-shipped', 'train on your files only')
    .option('--folds <n>', 'cross-validation folds (default 5)')
    .action(async (opts) => (await import('./commands/train.js')).run(opts, process.env));
  program
    .command('model')
    .description('sentence models for --embedder onnx')
    .command('pull')
    .description('download an ONNX sentence model from the Hugging Face hub (progress, resumable, checksums from the hub)')
    .option('--model <id>', 'model id (default intfloat/e5-small-v2)')
    .option('--dir <dir>', 'models folder (env RISKPIPE_MODEL_DIR; default ./models)')
    .option('--quantized', 'the int8 ONNX export')
    .option('--revision <rev>', 'git revision (default main)')
    .option('--hub-url <url>', 'hub address (env HF_ENDPOINT; default https://huggingface.co)')
    .option('--token <token>', 'for gated or private repositories (env HF_TOKEN)')
    .option('--no-verify', 'skip the size and checksum check')
    .action(async (opts) => (await import('./commands/model.js')).pull(opts, process.env));

  return program;
}

/** The error boundary: turns errors into a message on stderr and an exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      return e.exitCode ?? 1;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`riskpipe: invalid configuration\n${err.errors!.map((p) => `  ${p.path}: ${p.message}`).join('\n')}\n`);
      return 2;
    }
    if (err instanceof RiskpipeError) {
      process.stderr.write(`riskpipe: ${err.message}\n`);
      return err.code === 'RP_ERR_CLI_INPUT' ? 2 : 1;
    }
    process.stderr.write(`riskpipe: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}
