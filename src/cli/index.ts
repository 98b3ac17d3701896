import { Command } from 'commander';
import { RiskpipeError, ConfigError } from '../common/errors.js';
import { addSettingOptions, explainSettings, screenSettings, screenWorkerSettings, sendSettings, serveIngestSettings, tailSettings } from './settings.js';

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

  // Stage 3 (src/cli/commands/{index-worker,migrate,search,batch,dlq}.ts).
  const storeOpts = (cmd: Command) =>
    cmd
      .option('--database-url <url>', 'Postgres URL (env DATABASE_URL; default postgres://postgres@127.0.0.1:5432/postgres)')
      .option('--db-schema <schema>', 'schema for riskpipe\'s tables (env RISKPIPE_DB_SCHEMA; default the search_path, public)');
  const indexApi = (cmd: Command) =>
    cmd
      .option('--url <url>', 'index API base URL: index-worker or riskpipe up (env RISKPIPE_INDEX_URL; default http://127.0.0.1:8003)')
      .option('--api-key <key>', 'API key (env RISKPIPE_API_KEY)')
      .option('--json', 'print JSON');

  shared(
    storeOpts(
      program
        .command('index-worker')
        .description('index worker: consume events:reasoning_queue, write incidents, the vector index and Postgres; search API (port 8003)')
        .option('--host <host>', 'address to listen on (env RISKPIPE_HOST; default 0.0.0.0)')
        .option('--port <port>', 'port (env RISKPIPE_INDEX_PORT; default 8003)')
        .option('--api-keys <keys>', 'comma-separated accepted API keys for search, events and dead letters (env RISKPIPE_API_KEYS; none = auth off)')
        .option('--data-dir <dir>', 'where the embedded vector index lives (env RISKPIPE_DATA_DIR; default ./.riskpipe)')
        .option('--qdrant-url <url>', 'use Qdrant instead of the embedded index (env QDRANT_URL)')
        .option('--qdrant-api-key <key>', 'Qdrant API key (env QDRANT_API_KEY)')
        .option('--collection <name>', 'Qdrant collection (env RISKPIPE_COLLECTION; default riskpipe_events)')
        .option('--embedder <kind>', 'hash|onnx|remote (env RISKPIPE_EMBEDDER; default hash)')
        .option('--model-dir <dir>', 'ONNX sentence model directory (env RISKPIPE_MODEL_DIR)')
        .option('--embeddings-url <url>', 'OpenAI-compatible base URL for --embedder remote, e.g. https://api.openai.com/v1 (env RISKPIPE_EMBEDDINGS_URL)')
        .option('--embeddings-model <name>', 'embedding model (env RISKPIPE_EMBEDDINGS_MODEL; default text-embedding-3-small)')
        .option('--embeddings-api-key <key>', 'embeddings API key (env RISKPIPE_EMBEDDINGS_API_KEY)')
        .option('--incidents <kind>', 'rules|openai (env RISKPIPE_INCIDENTS; default rules)')
        .option('--llm-url <url>', 'OpenAI-compatible base URL for --incidents openai (env RISKPIPE_LLM_URL; default https://api.openai.com/v1)')
        .option('--llm-model <name>', 'chat model (env RISKPIPE_LLM_MODEL; default gpt-4o-mini)')
        .option('--llm-api-key <key>', 'LLM API key (env RISKPIPE_LLM_API_KEY)')
        .option('--llm-timeout-ms <ms>', 'one LLM request gives up after this (env RISKPIPE_LLM_TIMEOUT_MS; default 30000)')
        .option('--llm-max-retries <n>', 'retries of a 429/5xx/timeout, honouring Retry-After (env RISKPIPE_LLM_MAX_RETRIES; default 3)')
        .option('--llm-concurrency <n>', 'LLM requests in flight (env RISKPIPE_LLM_CONCURRENCY; default 4)')
        .option('--consumer <name>', 'consumer name in the group (env RISKPIPE_CONSUMER; default hostname-pid-random)')
        .option('--claim-idle-ms <ms>', 'claim entries pending this long from other consumers (env RISKPIPE_CLAIM_IDLE_MS; default 30000)')
        .option('--max-deliveries <n>', 'dead-letter an entry after this many failed deliveries (env RISKPIPE_MAX_DELIVERIES; default 5)')
        .option('--batch-size <n>', 'entries per read and per Postgres write (env RISKPIPE_BATCH_SIZE; default 256)')
        .option('--block-ms <ms>', 'how long one read waits for new entries (env RISKPIPE_BLOCK_MS; default 2000)')
        .option('--concurrency <n>', 'batches in flight (env RISKPIPE_INDEX_CONCURRENCY; default 2)'),
    ),
  ).action(async (opts) => (await import('./commands/index-worker.js')).run(opts, process.env));

  storeOpts(
    program
      .command('migrate')
      .description('apply the store\'s pending schema migrations (index-worker also does at start-up)')
      .option('--pglite <dir>', 'migrate a PGlite data directory instead of Postgres (env RISKPIPE_PGLITE_DIR)')
      .option('--json', 'print JSON')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL; default warn)'),
  ).action(async (opts) => (await import('./commands/migrate.js')).run(opts, process.env));

  indexApi(
    program
      .command('search <query>')
      .description('semantic search over indexed events, e.g. riskpipe search "threats against moderators" --platform discord')
      .option('-k, --k <n>', 'results (default 10, at most 100)')
      .option('--platform <list>', 'only these platforms (comma-separated)')
      .option('--category <list>', 'only these risk categories (comma-separated)')
      .option('--level <list>', 'only these risk levels: LOW, MEDIUM, HIGH (comma-separated)')
      .option('--since <when>', 'created at or after: an ISO 8601 date or a duration such as 24h, 7d'),
  ).action(async (query, opts) => (await import('./commands/search.js')).run(query, opts, process.env));

  indexApi(
    program
      .command('batch <id>')
      .description('progress of an ingest batch: queued, screened, low risk, escalated, indexed, dead-lettered, completed')
      .option('--wait', 'wait until it completes (progress bar on a terminal; exit 3 on timeout)')
      .option('--timeout-s <s>', 'give up waiting after this (default 600)')
      .option('--interval-ms <ms>', 'poll interval while waiting (default 500)'),
  ).action(async (id, opts) => (await import('./commands/batch.js')).run(id, opts, process.env));

  indexApi(
    program
      .command('dlq <action> [ids...]')
      .description('dead-lettered entries: list | show <id...> | replay <id...>|--stage|--all | purge <id...>|--stage|--all --yes')
      .option('--stage <stage>', 'only entries of this stage (ingest, screen, index)')
      .option('--limit <n>', 'list at most this many (default 100)')
      .option('--all', 'replay / purge every entry')
      .option('--yes', 'confirm purge'),
  ).action(async (action, ids, opts) => (await import('./commands/dlq.js')).run(action, ids, opts, process.env));

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
