import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/common/logger.js';
import { startIndexService, type RunningIndex } from '../../src/index/index.js';
import { DATABASE_URL, escalated, uniqueSchema } from '../fakes/escalated.js';
import { escalate, until } from '../fakes/pipeline.js';
import { ROOT } from '../helpers/cli.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/*
 * The stage-3 commands as an operator runs them: `riskpipe search`, `batch`, `dlq` and `migrate`
 * (real processes, from the sources through tsx) against an index service on real Redis and Postgres.
 */

const prefix = uniquePrefix('index-cli');
const schema = uniqueSchema('index_cli');
const dir = mkdtempSync(join(tmpdir(), 'rp-index-cli-'));
let svc: RunningIndex;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fakes/cli-main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, RISKPIPE_INDEX_URL: svc.url, DATABASE_URL, LOG_LEVEL: 'warn', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  svc = await startIndexService(
    {
      redisUrl: REDIS_URL,
      prefix,
      host: '127.0.0.1',
      port: 0,
      apiKeys: [],
      claimIdleMs: 500,
      maxDeliveries: 2,
      blockMs: 100,
      batchSize: 64,
      backends: { store: { url: DATABASE_URL, schema }, vector: { kind: 'embedded', dir: join(dir, 'events') }, embedder: { kind: 'hash' }, incidents: { kind: 'rules' } },
    },
    silentLogger,
  );
  await escalate(
    svc.bus,
    [
      escalated('cli-threat', { content: 'you better watch your back, moderator', evidence: ['threat phrase "you better watch your back"'] }),
      escalated('cli-spam', { content: 'free nitro at discord-gift.xyz', platform: 'twitch', category: 'spam', level: 'MEDIUM', evidence: ['giveaway bait "free nitro"'] }),
    ],
    'cli-batch',
  );
  // A poison entry: dead-lettered at once by the index stage.
  await svc.bus.add('reasoning', { v: '1', event_id: 'cli-poison', event: '{not json', prediction: '{}', source_id: '0-1', traceparent: '', screened_at: '' });
  await until('indexed', async () => (await svc.bus.batchStatus('cli-batch'))?.completed && (await svc.bus.deadLetters.count()) === 1);
}, 60_000);

afterAll(async () => {
  await svc?.close();
  const admin = await connectTestRedis();
  await cleanupPrefix(admin, prefix);
  admin.disconnect();
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('riskpipe search / batch / dlq / migrate', () => {
  it('search prints a table, filters, and --json gives the API answer', async () => {
    const t = await cli(['search', 'watch your back']);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/score\s+level\s+category\s+platform/);
    expect(t.stdout.split('\n')[1]).toMatch(/HIGH\s+threat\s+discord.*threat\/critical.*cli-threat.*watch your back/);
    const j = await cli(['search', 'nitro', '--platform', 'twitch,slack', '--level', 'medium', '--json', '--k', '5']);
    expect(j.code).toBe(0);
    const body = JSON.parse(j.stdout);
    expect(body.results.map((r: { event_id: string }) => r.event_id)).toEqual(['cli-spam']);
    const none = await cli(['search', 'nitro', '--since', '1h']);
    expect(none.stdout).toMatch(/no indexed events match/);
    const bad = await cli(['search', 'x', '--platform', 'myspace']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/platform.*must be one or more of/);
  }, 60_000);

  it('batch shows the counters, and --wait returns at once for a completed batch', async () => {
    const j = await cli(['batch', 'cli-batch', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ batch_id: 'cli-batch', total: 2, indexed: 2, completed: true });
    const w = await cli(['batch', 'cli-batch', '--wait']);
    expect(w.code).toBe(0);
    expect(w.stdout).toMatch(/indexed\s+2/);
    const missing = await cli(['batch', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/No batch "nope"/);
  }, 60_000);

  it('dlq lists, shows, refuses purge without --yes, replays and purges', async () => {
    const list = await cli(['dlq', 'list', '--json']);
    const entries = JSON.parse(list.stdout).entries;
    expect(entries).toEqual([expect.objectContaining({ stage: 'index', error_code: 'RP_ERR_POISON_ENTRY', event_id: 'cli-poison' })]);
    const table = await cli(['dlq', 'list', '--stage', 'index']);
    expect(table.stdout).toMatch(/RP_ERR_POISON_ENTRY/);
    const show = await cli(['dlq', 'show', entries[0].id]);
    expect(show.stdout).toMatch(/stage index, 1 attempt/);
    const noYes = await cli(['dlq', 'purge', '--all']);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/--yes/);
    const replay = await cli(['dlq', 'replay', entries[0].id]);
    expect(replay.stdout).toMatch(/1 replayed/);
    // Poison again: back in the dead-letter stream, once; replaying the old id again finds nothing.
    await until('dead-lettered again', async () => (await svc.bus.deadLetters.count()) === 1);
    const again = await cli(['dlq', 'replay', entries[0].id]);
    expect(again.stdout).toMatch(/0 replayed, 1 not found/);
    const purge = await cli(['dlq', 'purge', '--stage', 'index', '--yes']);
    expect(purge.stdout).toMatch(/1 purged/);
    expect(await svc.bus.deadLetters.count()).toBe(0);
  }, 60_000);

  it('migrate reports an up-to-date schema, and errors name the service to start', async () => {
    const m = await cli(['migrate', '--db-schema', schema]);
    expect(m.code).toBe(0);
    expect(m.stdout).toMatch(/up to date \(schema version 1\)/);
    const fresh = uniqueSchema('index_cli_m');
    const m2 = await cli(['migrate', '--db-schema', fresh, '--json']);
    expect(JSON.parse(m2.stdout)).toMatchObject({ applied: [1], version: 1 });
    const c = new pg.Client({ connectionString: DATABASE_URL });
    await c.connect();
    await c.query(`DROP SCHEMA ${fresh} CASCADE`);
    await c.end();
    const lite = await cli(['migrate', '--pglite', join(dir, 'pglite'), '--json']);
    expect(JSON.parse(lite.stdout)).toMatchObject({ applied: [1], version: 1 });
    const remote = await cli(['index-worker', '--embedder', 'remote']);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toMatch(/embeddingsUrl \(--embeddings-url \/ RISKPIPE_EMBEDDINGS_URL\): is required with --embedder remote/);
    const workers = await cli(['index-worker', '--workers', '2']);
    expect(workers.code).toBe(2);
    expect(workers.stderr).toMatch(/workers \(--workers \/ RISKPIPE_WORKERS\): 2 workers need QDRANT_URL/);
    const down = await cli(['search', 'x', '--url', 'http://127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach http:\/\/127.0.0.1:1.*index-worker/);
  }, 60_000);
});
