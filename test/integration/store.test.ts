import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS, Store, createPgliteClient, createPostgresClient, migrate, type SqlClient } from '../../src/store/index.js';
import { DATABASE_URL, escalated, uniqueSchema } from '../fakes/escalated.js';

/*
 * One store conformance suite, run unchanged against real Postgres (a schema of its own) and
 * PGlite (in memory): the same migrations and queries must behave the same on both.
 */

interface Backend {
  name: string;
  open(): Promise<SqlClient>;
  cleanup(): Promise<void>;
}

const pgSchema = uniqueSchema('store');
const backends: Backend[] = [
  {
    name: 'postgres',
    open: async () => createPostgresClient({ url: DATABASE_URL, schema: pgSchema }),
    cleanup: async () => {
      const c = new pg.Client({ connectionString: DATABASE_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
      await c.end();
    },
  },
  { name: 'pglite', open: () => createPgliteClient({ schema: 'riskpipe' }), cleanup: async () => {} },
];

const incident = (evidence: string) => ({ type: 'threat' as const, description: 'Threat of violence against the reader', target: 'reader', severity: 'high' as const, confidence: 0.8, evidence });

describe.each(backends)('store on $name', (backend) => {
  let db: SqlClient;
  let store: Store;

  beforeAll(async () => {
    db = await backend.open();
    store = new Store(db);
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await backend.cleanup();
  });

  it('applies the migrations once, and again finds nothing to do', async () => {
    const first = await store.migrate();
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.version));
    const second = await store.migrate();
    expect(second).toEqual({ applied: [], version: MIGRATIONS.at(-1)!.version });
  });

  it('refuses a database whose applied migration differs from this build', async () => {
    const edited = MIGRATIONS.map((m) => ({ ...m, sql: `${m.sql}\n-- edited` }));
    await expect(migrate(db, edited)).rejects.toThrow(/checksum/);
  });

  it('records events as processing, then indexed with incidents, and repeating either changes nothing', async () => {
    const a = escalated('evt-a');
    const b = escalated('evt-b', { platform: 'slack', category: 'spam', level: 'MEDIUM', score: 0.75 });
    await store.recordEvents([{ ...a, batchId: 'batch-1', traceparent: '00-abc-def-01' }, { ...b, batchId: 'batch-1' }]);
    expect((await store.getEvent('evt-a'))!.status).toBe('processing');
    expect(await store.statusCounts('batch-1')).toMatchObject({ processing: 2, indexed: 0 });

    const done = { eventId: 'evt-a', entryId: '1-0', delivery: 1, consumer: 'c1', incidents: [incident('watch your back'), incident('I know where you live')], provider: 'rules' };
    expect(await store.completeIndexed([done])).toEqual(['evt-a']);
    // The same delivery committed again (a crash between commit and ack), and the record re-run.
    await store.recordEvents([{ ...a, batchId: 'batch-1' }]);
    expect(await store.completeIndexed([done])).toEqual(['evt-a']);

    const got = (await store.getEvent('evt-a'))!;
    expect(got).toMatchObject({ event_id: 'evt-a', status: 'indexed', attempts: 1, batch_id: 'batch-1', platform: 'discord', channel_id: 'general', last_error: null });
    expect(got.created_at).toBe('2026-11-30T12:00:00.000Z');
    expect(got.metadata).toEqual({ user_reputation: 0.2, account_age_days: 3 });
    expect(got.prediction).toMatchObject({ risk_score: 0.91, risk_level: 'HIGH', risk_category: 'threat', policy_fingerprint: 'fp-test-1', flags: ['threat_language', 'targeted_language'] });
    expect(got.prediction!.details.reason).toMatch(/threat/);
    expect(got.incidents.map((i) => i.evidence)).toEqual(['watch your back', 'I know where you live']);
    expect(got.incidents[0].provider).toBe('rules');
    expect(got.indexed_at).not.toBeNull();
    expect(await store.statusCounts('batch-1')).toMatchObject({ processing: 1, indexed: 1 });
  });

  it('replaces incidents on a later delivery instead of adding to them', async () => {
    await store.completeIndexed([{ eventId: 'evt-a', entryId: '1-0', delivery: 2, incidents: [incident('watch your back')], provider: 'openai:test' }]);
    const got = (await store.getEvent('evt-a'))!;
    expect(got.incidents).toHaveLength(1);
    expect(got.incidents[0].provider).toBe('openai:test');
    expect(got.attempts).toBe(2);
  });

  it('logs failures with their error, then the dead letter, and a replay completes it', async () => {
    const c = escalated('evt-c');
    await store.recordEvents([{ ...c, batchId: 'batch-2' }]);
    await store.recordFailures([{ eventId: 'evt-c', entryId: '2-0', delivery: 1, error: 'vector index unavailable', errorCode: 'RP_ERR_TRANSIENT', deadLettered: false }]);
    expect(await store.getEvent('evt-c')).toMatchObject({ status: 'failed', attempts: 1, last_error: 'vector index unavailable', last_error_code: 'RP_ERR_TRANSIENT' });
    await store.recordFailures([{ eventId: 'evt-c', entryId: '2-0', delivery: 2, error: 'still down', errorCode: 'RP_ERR_TRANSIENT', deadLettered: true }]);
    expect(await store.getEvent('evt-c')).toMatchObject({ status: 'dead_lettered', attempts: 2 });
    // Replayed: a new entry id, delivered afresh.
    await store.recordEvents([{ ...c, batchId: 'batch-2' }]);
    expect((await store.getEvent('evt-c'))!.status).toBe('processing');
    await store.completeIndexed([{ eventId: 'evt-c', entryId: '3-0', delivery: 1, incidents: [], provider: 'rules' }]);
    expect(await store.getEvent('evt-c')).toMatchObject({ status: 'indexed', attempts: 3, last_error: null });
    const log = await store.attempts('evt-c');
    expect(log.map((l) => [l.entry_id, l.delivery, l.outcome])).toEqual([
      ['2-0', 1, 'failed'],
      ['2-0', 2, 'dead_lettered'],
      ['3-0', 1, 'indexed'],
    ]);
  });

  it('keeps an indexed event indexed when a redelivery of it fails', async () => {
    await store.recordFailures([{ eventId: 'evt-a', entryId: '1-0', delivery: 3, error: 'index down', errorCode: 'RP_ERR_TRANSIENT', deadLettered: false }]);
    expect(await store.getEvent('evt-a')).toMatchObject({ status: 'indexed', last_error: 'index down' });
  });

  it('logs a failure of an event it never recorded without inventing the event', async () => {
    await store.recordFailures([{ eventId: 'evt-ghost', entryId: '9-0', delivery: 1, error: 'postgres down', errorCode: 'RP_ERR_TRANSIENT', deadLettered: false }]);
    expect(await store.getEvent('evt-ghost')).toBeNull();
    expect(await store.attempts('evt-ghost')).toHaveLength(1);
  });

  it('takes the last copy when a batch repeats an event id', async () => {
    const d1 = escalated('evt-d', { content: 'first copy' });
    const d2 = escalated('evt-d', { content: 'second copy' });
    await store.recordEvents([d1, d2]);
    expect((await store.getEvent('evt-d'))!.content).toBe('second copy');
  });

  it('joins search hits with their incidents, indexed events only', async () => {
    const rows = await store.searchRows(['evt-a', 'evt-b', 'evt-c', 'nope']);
    expect([...rows.keys()].sort()).toEqual(['evt-a', 'evt-c']);
    expect(rows.get('evt-a')).toMatchObject({ platform: 'discord', risk_category: 'threat', risk_level: 'HIGH', risk_score: 0.91, created_at: '2026-11-30T12:00:00.000Z' });
    expect(rows.get('evt-a')!.incidents).toEqual([incident('watch your back')]);
  });

  it('pages indexed events in id order for a rebuild', async () => {
    const p1 = await store.pageIndexed(null, 1);
    expect(p1.map((r) => r.event_id)).toEqual(['evt-a']);
    expect(p1[0]).toMatchObject({ risk_category: 'threat', flags: ['threat_language', 'targeted_language'], content: expect.stringContaining('watch your back') });
    const p2 = await store.pageIndexed('evt-a', 10);
    expect(p2.map((r) => r.event_id)).toEqual(['evt-c']);
    expect(await store.pageIndexed('evt-c', 10)).toEqual([]);
  });

  it('writes a batch of 500 in one call', async () => {
    const items = Array.from({ length: 500 }, (_, i) => ({ ...escalated(`bulk-${String(i).padStart(4, '0')}`), batchId: 'bulk' }));
    await store.recordEvents(items);
    await store.completeIndexed(items.map((it, i) => ({ eventId: it.event.event_id, entryId: `${i}-0`, delivery: 1, incidents: [incident('watch your back')], provider: 'rules' })));
    expect(await store.statusCounts('bulk')).toMatchObject({ indexed: 500 });
  });

  it('rolls a failed transaction back completely', async () => {
    const before = (await store.getEvent('evt-a'))!.attempts;
    // A confidence of the wrong type fails the incidents insert after the delete ran.
    await expect(
      store.completeIndexed([{ eventId: 'evt-a', entryId: '1-0', delivery: 9, incidents: [{ ...incident('x'), confidence: 'not a number' as unknown as number }], provider: 'rules' }]),
    ).rejects.toThrow();
    expect((await store.getEvent('evt-a'))!.incidents).toHaveLength(1);
    expect((await store.getEvent('evt-a'))!.attempts).toBe(before);
    expect(await store.attempts('evt-a')).not.toContainEqual(expect.objectContaining({ delivery: 9 }));
  });
});
