import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, BIN, ROOT, runCli, startCli, waitForHttp } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/**
 * `riskpipe top` for real: serve-ingest and screen-worker run as processes, events are sent with
 * `riskpipe send`, and top runs in a detached tmux session (its own server socket) that the test
 * reads with capture-pane and drives with send-keys.
 */
const PG_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// Debian's tmux; installed here when missing and we may (CI runs as root), else the test says it skipped.
if (spawnSync('tmux', ['-V']).status !== 0 && process.getuid?.() === 0) {
  spawnSync('bash', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux)'], { stdio: 'ignore', timeout: 240_000 });
}
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
if (!hasTmux) console.warn('top-tmux.test.ts: SKIPPED — tmux is not installed and could not be installed (apt-get install tmux)');

describe.skipIf(!hasTmux)('riskpipe top in tmux', () => {
  const prefix = uniquePrefix('toptmux');
  const schema = `rp_toptmux_${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'rp-toptmux-'));
  const socket = `rp-top-${randomBytes(4).toString('hex')}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const pane = () => tmux('capture-pane', '-p', '-t', 'top');
  let redis: Redis;
  const procs: ReturnType<typeof startCli>[] = [];

  beforeAll(async () => {
    assertBuilt();
    redis = await connectTestRedis();
  });
  afterAll(async () => {
    try {
      tmux('kill-server');
    } catch {
      /* already gone */
    }
    for (const p of procs) p.child.kill('SIGTERM');
    await Promise.all(procs.map((p) => p.exited));
    await cleanupPrefix(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
    const db = new pg.Client({ connectionString: PG_URL });
    await db.connect();
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await db.end();
  });

  const until = async (what: string, cond: (screen: string) => boolean, ms = 20_000) => {
    const end = Date.now() + ms;
    let screen = '';
    while (Date.now() < end) {
      screen = pane();
      if (cond(screen)) return screen;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`tmux pane never showed ${what}:\n${screen}`);
  };

  it('shows the live pipeline and answers d, p and q', async () => {
    const [ingestPort, screenPort] = [await freePort(), await freePort()];
    const common = ['--prefix', prefix, '--redis-url', REDIS_URL, '--log-level', 'warn'];
    procs.push(startCli(['serve-ingest', '--host', '127.0.0.1', '--port', String(ingestPort), ...common]));
    procs.push(startCli(['screen-worker', '--host', '127.0.0.1', '--port', String(screenPort), '--block-ms', '200', ...common]));
    // The index worker deletes what it stored from the reasoning queue: top still shows the escalations.
    const indexPort = await freePort();
    procs.push(startCli(['index-worker', '--host', '127.0.0.1', '--port', String(indexPort), '--block-ms', '200', '--database-url', PG_URL, '--db-schema', schema, '--data-dir', dataDir, ...common]));
    await waitForHttp(`http://127.0.0.1:${ingestPort}/health`);
    await waitForHttp(`http://127.0.0.1:${screenPort}/health`, 30_000);
    await waitForHttp(`http://127.0.0.1:${indexPort}/health`, 30_000);

    tmux('new-session', '-d', '-s', 'top', '-x', '140', '-y', '70', `cd ${ROOT} && REDIS_URL=${REDIS_URL} ${process.execPath} ${BIN} top --prefix '${prefix}'; echo "top exited $?"; sleep 30`);
    await until('the top screen', (s) => s.includes('riskpipe top') && s.includes('STREAM'));

    const sent = await runCli(['send', '--file', 'examples/toxic.jsonl', '--url', `http://127.0.0.1:${ingestPort}`, '--no-progress']);
    expect(sent.code).toBe(0);
    await runCli(['send', '--file', 'examples/clean.jsonl', '--url', `http://127.0.0.1:${ingestPort}`, '--no-progress']);
    // 40 events ingested, screened by the real worker, counted by top within a refresh or two.
    const routedTotal = (scr: string) => {
      const r = /^reasoning_queue\s+\S+\s+\d+\s+(\d+)/m.exec(scr);
      const l = /^low_risk\s+\S+\s+\d+\s+(\d+)/m.exec(scr);
      return r && l ? Number(r[1]) + Number(l[1]) : 0;
    };
    const live = await until('all 40 events routed', (s) => /events:raw\s+40\s/.test(s) && routedTotal(s) === 40 && /risk-screening ← events:raw\s+0\s+0\s/.test(s));
    expect(live).toMatch(/risk-screening ← events:raw\s+0\s+0\s+1/);
    expect(live).toMatch(/LATEST ESCALATIONS/);
    expect(live).toMatch(/^\d\d:\d\d:\d\d \S+\s+\d\.\d\d (HIGH|MEDIUM)\s+toxic-\d+/m);
    expect(live).toMatch(/indexing ← events:reasoning…\s+0\s+0\s+1/);
    const routed = /^reasoning_queue\s+\S+\s+(\d+)\s+(\d+)/m.exec(live)!;
    const lowRisk = /^low_risk\s+\S+\s+(\d+)\s+(\d+)/m.exec(live)!;
    expect(Number(routed[2]) + Number(lowRisk[2]), live).toBe(40);

    tmux('send-keys', '-t', 'top', 'd');
    await until('the dead-letter view', (s) => s.includes('DEAD LETTERS'));
    tmux('send-keys', '-t', 'top', 'p');
    await until('PAUSED', (s) => s.includes('PAUSED'));
    tmux('send-keys', '-t', 'top', 'p');
    await until('resumed', (s) => !s.includes('PAUSED'));
    tmux('send-keys', '-t', 'top', 'q');
    await until('top exiting with 0', (s) => s.includes('top exited 0'));
  }, 90_000);
});
