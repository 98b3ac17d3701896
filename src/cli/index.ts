import { Command } from 'commander';
import { RiskpipeError, ConfigError } from '../common/errors.js';
import { batchSettings, dlqSettings, indexWorkerSettings, migrateSettings, searchSettings } from './index-settings.js';
import { benchSettings, doctorSettings, topSettings } from './ops-settings.js';
import { upSettings } from './up/settings.js';
import { addSettingOptions, explainSettings, scoringSettings, screenSettings, screenWorkerSettings, sendSettings, serveIngestSettings, tailSettings } from './settings.js';

/**
 * The `riskpipe` command line. Each command's module is imported only when that command runs, so
 * `riskpipe send` never loads Fastify's server side or the ONNX runtime.
 */
export function buildProgram(): Command {
  const program = new Command('riskpipe')
    .description('Trust & safety pipeline: ingest, screen, route and index chat events')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)');

  // Options come from the settings catalogue (settings.ts): flag, env, default and help text are
  // declared there once. What is left here are a command's inputs (files, texts, output switches).
  addSettingOptions(
    program.command('serve-ingest').description('HTTP ingestion API: validate, deduplicate and queue events into events:raw (port 8001)'),
    serveIngestSettings,
  ).action(async (opts) => (await import('./commands/serve-ingest.js')).run(opts, process.env));

  // The whole pipeline in one process on embedded defaults (src/cli/up/).
  addSettingOptions(
    program
      .command('up')
      .description('ingest + screen + index in one process on one port (8001), on embedded defaults: in-process bus, PGlite, embedded vector index; state in --data-dir'),
    upSettings,
  ).action(async (opts) => (await import('./commands/up.js')).run(opts, process.env, new Set(program.commands.map((c) => c.name()))));

  // No Redis options: send only talks HTTP to serve-ingest.
  addSettingOptions(
    program
      .command('send')
      .description('send events to serve-ingest from a JSONL/JSON file, stdin or --text')
      .option('-f, --file <path>', 'events as JSON Lines, a JSON array, or - for stdin')
      .option('-t, --text <text>', 'send one message with generated ids'),
    sendSettings,
  )
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (opts) => (await import('./commands/send.js')).run(opts, process.env));

  addSettingOptions(
    program.command('tail-stream <stream>').description('print entries of a stream as they arrive, e.g. events:low_risk (the prefix is added)'),
    tailSettings,
  ).action(async (stream, opts) => (await import('./commands/tail-stream.js')).run(stream, opts, process.env));

  addSettingOptions(
    program
      .command('screen-worker')
      .description('screening worker: consume events:raw, score, route to events:reasoning_queue / events:low_risk; HTTP API (port 8002)'),
    screenWorkerSettings,
  ).action(async (opts) => (await import('./commands/screen-worker.js')).run(opts, process.env));

  addSettingOptions(
    program
      .command('screen')
      .description('score events offline (no Redis): JSON Lines of events or {"event_id", "content"}; prints each verdict and where it would be routed')
      .option('-f, --file <path>', 'JSON Lines input, or - for stdin')
      .option('--json', 'one JSON object per input line'),
    screenSettings,
  ).action(async (opts) => (await import('./commands/screen.js')).run(opts, process.env));

  addSettingOptions(
    program
      .command('explain')
      .description('the full breakdown of one verdict: signals, neighbours, category scores, thresholds')
      .option('-t, --text <text>', 'the message to explain')
      .option('-f, --file <path>', 'one event as JSON, or - for stdin')
      .option('--json', 'print the breakdown as JSON'),
    explainSettings,
  ).action(async (opts) => (await import('./commands/explain.js')).run(opts, process.env));

  // Stage 3: settings in index-settings.ts, commands in commands/{index-worker,migrate,search,batch,dlq}.ts.
  addSettingOptions(
    program.command('index-worker').description('index worker: consume events:reasoning_queue, write incidents, the vector index and Postgres; search API (port 8003)'),
    indexWorkerSettings,
  ).action(async (opts) => (await import('./commands/index-worker.js')).run(opts, process.env));

  addSettingOptions(program.command('migrate').description("apply the store's pending schema migrations (index-worker also does at start-up)"), migrateSettings).action(async (opts) =>
    (await import('./commands/migrate.js')).run(opts, process.env),
  );

  addSettingOptions(program.command('search <query>').description('semantic search over indexed events, e.g. riskpipe search "threats against moderators" --platform discord'), searchSettings).action(
    async (query, opts) => (await import('./commands/search.js')).run(query, opts, process.env),
  );

  addSettingOptions(program.command('batch <id>').description('progress of an ingest batch: queued, screened, low risk, escalated, indexed, dead-lettered, completed'), batchSettings).action(
    async (id, opts) => (await import('./commands/batch.js')).run(id, opts, process.env),
  );

  addSettingOptions(
    program.command('dlq <action> [ids...]').description('dead-lettered entries: list | show <id...> | replay <id...>|--stage|--all | purge <id...>|--stage|--all --yes'),
    dlqSettings,
  ).action(async (action, ids, opts) => (await import('./commands/dlq.js')).run(action, ids, opts, process.env));

  // Operator tools (issue 12): doctor, bench, top.
  addSettingOptions(
    program
      .command('doctor')
      .description('check Node, Redis (version, features, eviction policy, persistence, streams, groups), Postgres and migrations, the vector index, the embedder, ports and settings; exit 1 when something failed'),
    doctorSettings,
  ).action(async (opts) => (await import('./commands/doctor.js')).run(opts, process.env));
  addSettingOptions(
    program
      .command('bench')
      .description('measure the pipeline as a user sees it: ingest req/s and latency (single, batch), screening and indexing events/s, end-to-end latency at --rate; against --ingest-url or a pipeline it starts itself'),
    benchSettings,
  )
    .option('--no-progress', 'no progress bar')
    .action(async (opts) => (await import('./commands/bench.js')).run(opts, process.env));
  addSettingOptions(
    program
      .command('top')
      .description('live view of streams, groups, consumers, routing and escalations (q quit, p pause, d dead letters); one plain snapshot when not a terminal'),
    topSettings,
  ).action(async (opts) => (await import('./commands/top.js')).run(opts, process.env));

  // Screening quality (issue 8): measure on a team's labelled data, retrain, fetch a sentence model.
  addSettingOptions(
    program
      .command('eval')
      .description('screen labelled messages (JSON Lines: content, should_escalate, category?, kind?) and report precision/recall/F1, false alarms, per category and kind, confusion, misses')
      .option('-f, --file <path>', 'labelled JSON Lines')
      .option('--json', 'the whole report as JSON')
      .option('--max-listed <n>', 'misses and false alarms listed (default 30)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default warn)'),
    scoringSettings,
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
