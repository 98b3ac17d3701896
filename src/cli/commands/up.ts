import { existsSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { createLogger } from '../../common/logger.js';
import { untilSignal } from '../signals.js';
import { startUp, type RunningUp, type UpConfig } from '../up/compose.js';
import { resolveUpConfig, upSettings } from '../up/settings.js';
import { loadScreener } from './screen.js';

// Declared once, in ../up/settings.ts.
export { upSettings };

/**
 * How the next commands are typed here: `riskpipe` when it is on the PATH (npm link, a global
 * install), else the path of the binary that runs now (`./bin/riskpipe` in a clone, after `npm start`).
 */
export function cliName(env: NodeJS.ProcessEnv, argv1 = process.argv[1] ?? ''): string {
  const onPath = (env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'riskpipe')));
  if (onPath || !argv1) return 'riskpipe';
  const rel = relative(process.cwd(), argv1);
  return rel.startsWith('..') || rel === '' ? argv1 : rel.includes('/') ? `./${rel}` : rel;
}

/** What `up` prints once everything runs: where things live and what to try next. */
export function banner(up: RunningUp, cfg: UpConfig, commands: Set<string>, cli = 'riskpipe'): string {
  const w = up.where;
  const urlFlag = up.url === 'http://127.0.0.1:8001' ? '' : ` --url ${up.url}`;
  const key = w.apiKeys ? ' --api-key <key>' : '';
  const examples = existsSync('examples/events.jsonl') ? 'examples/events.jsonl' : '<events.jsonl>';
  const next = [
    `riskpipe send --file ${examples}${urlFlag}${key}`,
    `riskpipe batch <batch id that send prints> --wait${urlFlag}${key}`,
    `riskpipe search "threats against moderators"${urlFlag}${key}`,
    // Escalated entries leave events:reasoning_queue as soon as they are stored: search shows them.
    `riskpipe tail-stream events:low_risk --from-start${urlFlag}${key}`,
    `riskpipe dlq list${urlFlag}${key}`,
    // `top` reads Redis: it shows this pipeline only when the bus is Redis (the in-process bus
    // is served at /v1/streams for it, not read by it yet).
    ...(commands.has('top') && cfg.redisUrl ? [`riskpipe top${cfg.redisUrl !== 'redis://127.0.0.1:6379' ? ` --redis-url ${cfg.redisUrl}` : ''}${cfg.prefix ? ` --prefix ${cfg.prefix}` : ''}`] : []),
    `curl -s ${up.url}/v1/risk/screen -H 'content-type: application/json' -d '{"content": "free nitro at discord-gift.xyz"}'`,
  ];
  const lines = [
    `riskpipe up: ingest → screen → index running on ${up.url} (ready in ${(up.startupMs / 1000).toFixed(1)} s)`,
    '',
    `  data dir   ${w.dataDir}`,
    `  bus        ${w.bus}`,
    `  store      ${w.store}`,
    `  vectors    ${w.vectors}`,
    `  embedder   ${w.embedder}${cfg.threshold !== undefined ? ` (threshold ${cfg.threshold})` : ''}`,
    `  incidents  ${w.incidents}`,
    ...(w.workers ? [`  workers    ${w.workers}`] : []),
    `  API        ${up.url}  (ingest, /v1/risk/screen, /v1/search, /v1/events/:id, /v1/batches/:id, /v1/deadletters, /v1/streams, /health, /ready, /metrics, /docs)`,
    `  auth       ${w.apiKeys ? 'API key required (RISKPIPE_API_KEYS)' : 'off (set RISKPIPE_API_KEYS to require a key)'}`,
    '',
    'Try, in another terminal:',
    ...next.map((c) => `  ${c}`),
    '',
    'Ctrl-C stops it; state is kept in the data dir.',
  ];
  return `${lines.join('\n').replace(/^( {2})riskpipe /gm, `$1${cli} `)}\n`;
}

export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, commands: Set<string> = new Set()): Promise<void> {
  const cfg = resolveUpConfig(flags, env);
  const log = createLogger({ level: cfg.logLevel });
  const up = await startUp(cfg, log, () => loadScreener(cfg, log));
  process.stdout.write(banner(up, cfg, commands, cliName(env)));
  log.info({ ...up.where, startupMs: Math.round(up.startupMs) }, 'riskpipe up running');
  await untilSignal(() => up.close(), log);
}
