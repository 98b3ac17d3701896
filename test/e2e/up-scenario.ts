import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli, startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/redis-server.js';

/*
 * `riskpipe up` end to end, with the real binary: the walkthrough's commands against it (send the
 * examples, batch --wait, search, tail-stream, dlq, the event record), a clean restart, and a
 * kill -9 in the middle of a run — every event answered "queued" is routed exactly once after
 * the restart. The same scenario runs on the embedded defaults and on Redis + Postgres.
 */

type Up = ReturnType<typeof startCli> & { url: string };

const EXAMPLES = 'examples/events.jsonl';

export interface Mode {
  name: string;
  env: () => NodeJS.ProcessEnv;
  cleanup?: () => Promise<void>;
}

async function startUp(dataDir: string, port: number, env: NodeJS.ProcessEnv): Promise<Up> {
  const up = startCli(['up', '--data-dir', dataDir, '--port', String(port), '--claim-idle-ms', '2000', '--block-ms', '200'], env);
  const url = `http://127.0.0.1:${port}`;
  // Generous: a cold start (PGlite creating its database) on a busy two-core machine.
  const deadline = Date.now() + 60_000;
  let exited: { code: number | null } | undefined;
  void up.exited.then((e) => (exited = e));
  while (!up.output().includes('riskpipe up: ')) {
    if (exited) throw new Error(`riskpipe up exited (${exited.code}):\n${up.output()}`);
    if (Date.now() > deadline) throw new Error(`riskpipe up did not start within 60 s:\n${up.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Object.assign(up, { url });
}

async function stop(up: Up): Promise<number | null> {
  up.child.kill('SIGTERM');
  return (await up.exited).code;
}

const getJson = async <T = any>(url: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
};

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every entry of a stream, through up's stream API. */
async function allEntries(url: string, stream: string): Promise<{ id: string; fields: Record<string, string> }[]> {
  const out: { id: string; fields: Record<string, string> }[] = [];
  let after = '0-0';
  for (;;) {
    const { body } = await getJson(`${url}/v1/streams/${stream}/entries?after=${after}&count=5000`);
    out.push(...body.entries);
    if (body.entries.length < 5000) return out;
    after = body.last_id;
  }
}

export function scenario(mode: Mode) {
  describe(`riskpipe up (${mode.name})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), `rp-up-${mode.name.replace(/\W+/g, '-')}-`));
    let env: NodeJS.ProcessEnv;
    beforeAll(() => {
      assertBuilt();
      env = { LOG_LEVEL: 'warn', RISKPIPE_API_KEYS: '', REDIS_URL: '', DATABASE_URL: '', QDRANT_URL: '', RISKPIPE_PREFIX: '', RISKPIPE_DB_SCHEMA: '', ...mode.env() };
    });
    afterAll(async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await mode.cleanup?.();
    });

    it('routes, stores, searches and completes the examples, and keeps them across a restart and a kill -9', async () => {
      const port = await freePort();
      let up = await startUp(dataDir, port, env);
      const cli = (args: string[]) => runCli([...args, '--url', up.url], { env, timeoutMs: 40_000 });
      try {
        // The walkthrough: send the examples, wait for the batch, look at what happened.
        const sent = await cli(['send', '--file', EXAMPLES, '--json']);
        expect(sent.code, sent.stderr).toBe(0);
        const summary = JSON.parse(sent.stdout);
        expect(summary).toMatchObject({ total: 40, queued: 40, rejected: 0, failed: 0 });
        const batchId: string = summary.batch_ids[0];
        const done = await cli(['batch', batchId, '--wait', '--timeout-s', '30', '--json']);
        expect(done.code, done.stderr).toBe(0);
        const batch = JSON.parse(done.stdout);
        expect(batch).toMatchObject({ total: 40, queued: 40, screened: 40, dead_lettered: 0, completed: true });
        expect(batch.low_risk + batch.escalated).toBe(40);
        expect(batch.indexed).toBe(batch.escalated);
        expect(batch.escalated).toBeGreaterThanOrEqual(8);
        expect(batch.low_risk).toBeGreaterThanOrEqual(15);

        // Routing: a threat is escalated, stored with its incident; everyday chat is low risk and not stored.
        const threat = await getJson(`${up.url}/v1/events/ex-002`);
        expect(threat.status).toBe(200);
        expect(threat.body).toMatchObject({ status: 'indexed', prediction: { risk_category: 'threat' }, incidents: [expect.objectContaining({ type: 'threat' })] });
        expect((await getJson(`${up.url}/v1/events/ex-000`)).status).toBe(404);
        const low = await cli(['tail-stream', 'events:low_risk', '--from-start', '--count', '3', '--json']);
        expect(low.code, low.stderr).toBe(0);
        expect(low.stdout.trim().split('\n').map((l) => JSON.parse(l).fields.event.event_id)).toContain('ex-000');

        const found = await cli(['search', 'watch your back walking home', '-k', '3', '--json']);
        expect(found.code, found.stderr).toBe(0);
        expect(JSON.parse(found.stdout).results[0].event_id).toBe('ex-002');
        const dlq = await cli(['dlq', 'list', '--json']);
        expect(dlq.code, dlq.stderr).toBe(0);
        expect(JSON.parse(dlq.stdout).total).toBe(0);
        const health = await getJson(`${up.url}/health`);
        expect(Object.keys(health.body.stages)).toEqual(['ingest', 'screen', 'index']);

        // A second `up` on the same data directory is refused with a clear message.
        const second = await runCli(['up', '--data-dir', dataDir, '--port', String(await freePort())], { env, timeoutMs: 20_000 });
        expect(second.code).toBe(1);
        expect(second.stderr).toMatch(/is in use by another `riskpipe up` \(pid \d+/);
        // A busy port: a sentence, not a stack trace.
        const busy = await runCli(['up', '--data-dir', join(dataDir, 'other'), '--port', String(port)], { env, timeoutMs: 20_000 });
        expect(busy.code).toBe(1);
        expect(busy.stderr).toMatch(/port \d+ on 127.0.0.1 is already in use/);
        expect(busy.stderr).not.toMatch(/\n\s+at /);

        // Clean restart: everything is still there.
        expect(await stop(up)).toBe(0);
        up = await startUp(dataDir, port, env);
        expect((await getJson(`${up.url}/v1/batches/${batchId}`)).body).toMatchObject({ completed: true, escalated: batch.escalated });
        const again = await cli(['search', 'watch your back walking home', '-k', '1', '--json']);
        expect(JSON.parse(again.stdout).results[0].event_id).toBe('ex-002');

        // kill -9 mid-run: send unique events in concurrent batches, kill the process while they
        // are being screened and indexed, start it again: every event answered "queued" is
        // routed exactly once.
        const tag = randomBytes(3).toString('hex');
        const texts = ['gg everyone, good match', "you'd better watch your back", 'free nitro at discord-gift.xyz', 'see you at practice tomorrow', 'i know where you live', 'kill yourself loser'];
        const answered = new Map<string, string>(); // event id → batch id
        const batchIds = new Set<string>();
        let killed = false;
        const sender = async (w: number) => {
          for (let b = 0; !killed && b < 40; b++) {
            const events = Array.from({ length: 100 }, (_, i) => {
              const n = w * 100_000 + b * 100 + i;
              return { event_id: `k-${tag}-${n}`, event_type: 'message_created', platform: 'discord', channel_id: `c${n % 7}`, user_id: `u${n % 50}`, author_id: `u${n % 50}`, content: `${texts[n % texts.length]} #${n}` };
            });
            try {
              const res = await fetch(`${up.url}/v1/events/ingest-batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
              if (res.status !== 200) continue;
              const body = (await res.json()) as { batch_id: string; results: { event_id: string; status: string }[] };
              batchIds.add(body.batch_id);
              for (const r of body.results) if (r.status === 'queued') answered.set(r.event_id, body.batch_id);
            } catch {
              return; // the process is gone
            }
          }
        };
        const sending = Promise.all([0, 1, 2].map(sender));
        await until('some events answered', async () => answered.size >= 1200, 30_000);
        // What had been settled just before the kill: the run must really be cut in the middle.
        const before = await Promise.all([...batchIds].map(async (id) => (await getJson(`${up.url}/v1/batches/${id}`)).body));
        up.child.kill('SIGKILL');
        killed = true;
        await up.exited;
        await sending;
        const queuedBefore = answered.size;
        const settledBefore = before.reduce((n, s) => n + s.low_risk + s.indexed, 0);
        expect(settledBefore).toBeLessThan(queuedBefore);
        expect(queuedBefore).toBeGreaterThanOrEqual(1200);

        up = await startUp(dataDir, port, env);
        // Every answered batch completes: all its events reached low risk or the store.
        for (const id of batchIds) {
          await until(`batch ${id} to complete`, async () => (await getJson(`${up.url}/v1/batches/${id}`)).body.completed === true, 40_000);
        }
        const lowRisk = new Map<string, number>();
        for (const e of await allEntries(up.url, 'events:low_risk')) {
          const id = e.fields.event_id ?? JSON.parse(e.fields.event).event_id;
          if (id.startsWith(`k-${tag}-`)) lowRisk.set(id, (lowRisk.get(id) ?? 0) + 1);
        }
        expect([...lowRisk.values()].filter((n) => n > 1)).toEqual([]);
        let stored = 0;
        let counted = { low_risk: 0, escalated: 0, indexed: 0, screened: 0, queued: 0, dead_lettered: 0 };
        for (const id of batchIds) {
          const s = (await getJson(`${up.url}/v1/batches/${id}`)).body;
          for (const k of Object.keys(counted) as (keyof typeof counted)[]) counted[k] += s[k];
        }
        const ids = [...answered.keys()].filter((id) => !lowRisk.has(id));
        for (let i = 0; i < ids.length; i += 64) {
          const got = await Promise.all(ids.slice(i, i + 64).map((id) => getJson(`${up.url}/v1/events/${id}`)));
          for (const g of got) if (g.status === 200 && g.body.status === 'indexed') stored++;
        }
        // Answered-queued events: each one is in low risk once, or indexed in the store.
        expect(stored).toBe(ids.length);
        expect(counted.dead_lettered).toBe(0);
        expect(counted.screened).toBe(counted.queued);
        expect(counted.low_risk + counted.escalated).toBe(counted.queued);
        expect(counted.indexed).toBe(counted.escalated);
        // The batches may hold events whose answer was lost with the process; none is counted twice.
        expect(counted.queued).toBeGreaterThanOrEqual(queuedBefore);
        expect([...answered.keys()].filter((id) => lowRisk.has(id)).length + stored).toBe(queuedBefore);
        expect(await stop(up)).toBe(0);
      } finally {
        if (up.child.exitCode === null) up.child.kill('SIGKILL');
      }
    }, 120_000);
  });
}

