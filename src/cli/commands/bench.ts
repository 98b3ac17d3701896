import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RiskpipeError } from '../../common/errors.js';
import { createConsumerRedis, deleteKeysByPrefix } from '../../common/redis.js';
import { createKeys } from '../../stream/keys.js';
import { benchSettings } from '../ops-settings.js';
import { resolveSettings } from '../settings.js';

const BIN = fileURLToPath(new URL('../../../bin/riskpipe', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new RiskpipeError('RP_ERR_INTERNAL', `bench: a stage it started exited with code ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new RiskpipeError('RP_ERR_INTERNAL', `bench: ${url} was not ready within ${timeoutMs / 1000}s`);
}

/**
 * `riskpipe bench`: against the running services behind --ingest-url, or against serve-ingest
 * and screen-worker processes it starts itself under a private prefix and removes afterwards
 * (processes and every key of that prefix). Prints a table, or --json.
 */
export async function run(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<void> {
  const cfg = resolveSettings(benchSettings, flags, env);
  const runId = `bench-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const own = !cfg.ingestUrl;
  const prefix = own ? `bench:${runId}:` : cfg.prefix;
  const keys = createKeys({ prefix, hashTag: cfg.hashTag });
  const redis = createConsumerRedis(cfg.redisUrl, { lazyConnect: true, connectTimeout: 3000, retryStrategy: (n) => (n > 3 ? null : 200) });
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (err) {
    throw new RiskpipeError('RP_ERR_REDIS_UNAVAILABLE', `cannot reach Redis at ${cfg.redisUrl}: ${(err as Error).message}`);
  }
  const children: ChildProcess[] = [];
  // A self-started pipeline with --database-url runs an index-worker too, in its own schema and data dir.
  const withIndex = own && Boolean(cfg.databaseUrl);
  const schema = withIndex ? `bench_${runId.replace(/[^a-z0-9]/g, '_')}` : undefined;
  const dataDir = withIndex ? mkdtempSync(join(tmpdir(), 'riskpipe-bench-')) : undefined;
  const progressOn = cfg.progress && !cfg.json && Boolean(process.stderr.isTTY);
  const say = (s: string) => {
    if (!cfg.json) process.stderr.write(`${s}\n`);
  };
  const stop = () => children.forEach((c) => c.exitCode === null && c.kill('SIGTERM'));
  process.once('SIGINT', stop);
  try {
    let ingestUrl = cfg.ingestUrl!;
    if (own) {
      const childEnv = { ...env, REDIS_URL: cfg.redisUrl, RISKPIPE_PREFIX: prefix, RISKPIPE_HASH_TAG: cfg.hashTag, LOG_LEVEL: 'error', RISKPIPE_API_KEYS: '' };
      const start = (args: string[]) => {
        const c = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ['ignore', 'ignore', 'inherit'] });
        children.push(c);
        return c;
      };
      const ingestPort = await freePort();
      const ingest = start(['serve-ingest', '--host', '127.0.0.1', '--port', String(ingestPort), '--max-queue-depth', '10000000']);
      ingestUrl = `http://127.0.0.1:${ingestPort}`;
      const workers: Promise<void>[] = [];
      for (let i = 0; i < cfg.screenWorkers; i++) {
        const port = await freePort();
        const w = start(['screen-worker', '--host', '127.0.0.1', '--port', String(port), '--batch-size', '256', '--block-ms', '500']);
        workers.push(waitReady(`http://127.0.0.1:${port}/ready`, w, 60_000));
      }
      if (withIndex) {
        const port = await freePort();
        const w = start(['index-worker', '--host', '127.0.0.1', '--port', String(port), '--database-url', cfg.databaseUrl!, '--db-schema', schema!, '--data-dir', dataDir!, '--block-ms', '500']);
        workers.push(waitReady(`http://127.0.0.1:${port}/ready`, w, 60_000));
      }
      say(`bench: started serve-ingest, ${cfg.screenWorkers} screen-worker(s)${withIndex ? ' and an index-worker' : ''} under prefix ${prefix}`);
      await Promise.all([waitReady(`${ingestUrl}/ready`, ingest, 30_000), ...workers]);
    }
    let indexedAt: ((p: string) => Promise<Map<string, number>>) | undefined;
    let pgClient: import('pg').Client | undefined;
    if (cfg.databaseUrl) {
      const { default: pg } = await import('pg');
      pgClient = new pg.Client({ connectionString: cfg.databaseUrl });
      await pgClient.connect();
      indexedAt = async (p) => {
        const { rows } = await pgClient!.query<{ event_id: string; ms: number }>(
          `SELECT event_id, extract(epoch FROM indexed_at) * 1000 AS ms FROM ${schema ? `${schema}.` : ''}events WHERE event_id LIKE $1 AND indexed_at IS NOT NULL`,
          [`${p}-%`],
        );
        return new Map(rows.map((r) => [r.event_id, Number(r.ms)]));
      };
    }
    const { runBench, formatBench, progressLine } = await import('../../ops/bench.js');
    let last = 0;
    const result = await runBench({
      ingestUrl,
      apiKey: cfg.apiKey,
      redis,
      names: keys.streams,
      runId,
      rate: cfg.rate,
      durationS: cfg.duration,
      connections: cfg.connections,
      batchSize: cfg.batchSize,
      drainTimeoutMs: cfg.drainTimeoutS * 1000,
      indexedAt,
      progress: progressOn
        ? (p) => {
            if (Date.now() - last < 200) return;
            last = Date.now();
            process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
          }
        : undefined,
    });
    if (progressOn) process.stderr.write('\r\x1b[2K');
    if (schema) await pgClient?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await pgClient?.end();
    if (own) result.notes.push(`self-started pipeline (serve-ingest + ${cfg.screenWorkers} screen-worker${withIndex ? ' + index-worker' : ''}) on this machine; its prefix${withIndex ? ', schema and data dir were' : ' was'} removed afterwards`);
    else result.notes.push(`events sent to the running services have ids starting with ${runId}`);
    process.stdout.write(cfg.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatBench(result)}\n`);
  } finally {
    process.off('SIGINT', stop);
    stop();
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    if (own) await deleteKeysByPrefix(redis, prefix).catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    redis.disconnect();
  }
}
