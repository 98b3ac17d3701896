import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ReplyError, type Redis } from 'ioredis';
import { buildIngestApp } from '../../src/ingest/app.js';
import { createProducerRedis } from '../../src/common/redis.js';
import { RedisBus } from '../../src/stream/redis/bus.js';
import { createLogger } from '../../src/common/logger.js';
import { jsonDepth, parseJsonBody, serialiseEvent } from '../../src/common/limits.js';
import { scrubError } from '../../src/common/scrub.js';
import { cleanupPrefix, connectTestRedis, REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { expectErrorShape, streamEntries, validEvent } from './support.js';

/* Input limits (issue 11, item 1), the __proto__ answer, and log scrubbing (item 5). */

const KEY = 'limits-key-123456';
const prefix = uniquePrefix('limits');
const stream = `${prefix}events:raw`;
let admin: Redis;
let producer: Redis;
let app: FastifyInstance;

function nested(depth: number): string {
  return '{"k":'.repeat(depth) + '1' + '}'.repeat(depth);
}

beforeAll(async () => {
  admin = await connectTestRedis();
  producer = createProducerRedis(REDIS_URL);
  await new Promise((r) => producer.once('ready', r));
  app = await buildIngestApp({ bus: new RedisBus(producer, undefined, { role: 'producer', prefix }), apiKeys: [KEY] });
});

afterAll(async () => {
  await app?.close();
  producer?.disconnect();
  if (admin) await cleanupPrefix(admin, prefix);
  admin?.disconnect();
});

const post = (url: string, payload: string) => app.inject({ method: 'POST', url, payload, headers: { 'api-key': KEY, 'content-type': 'application/json' } });

describe('JSON depth and metadata size', () => {
  it('a batch with one event nested 5,000 levels deep queues its valid batch-mates and reports that one item', async () => {
    const a = validEvent();
    const b = validEvent();
    const deep = JSON.stringify(validEvent()).replace(/}$/, `,"extra":${nested(5000)}}`);
    const res = await post('/v1/events/ingest-batch', `{"events":[${JSON.stringify(a)},${deep},${JSON.stringify(b)}]}`);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ total: 3, queued: 2, errors: 1 });
    expect(body.results[1]).toMatchObject({ index: 1, status: 'rejected', error: 'JSON nested deeper than 32 levels (the limit)' });
    expect(body.results[1].errors[0].path).toBe('events.1');
    const queuedIds = (await streamEntries(admin, stream)).map(([, f]) => f.event_id);
    expect(queuedIds).toEqual(expect.arrayContaining([a.event_id, b.event_id]));
  });

  it('metadata just past the limit is that event\'s own error; at the limit it is queued', async () => {
    // The event is level 1 and metadata (the outermost of nested(31)) level 2: 31 objects reach 32.
    const ok = validEvent({ metadata: JSON.parse(nested(31)) });
    const over = validEvent({ metadata: JSON.parse(nested(32)) });
    expect(jsonDepth(ok)).toBe(32);
    const res = await post('/v1/events/ingest-batch', JSON.stringify({ events: [ok, over] }));
    expect(res.json().results.map((r: { status: string }) => r.status)).toEqual(['queued', 'rejected']);
    expect(res.json().results[1].errors).toEqual([{ path: 'events.1', message: 'JSON nested deeper than 32 levels (the limit)' }]);
    const single = await post('/v1/events/ingest', JSON.stringify(validEvent({ metadata: JSON.parse(nested(32)) })));
    expect(single.statusCode).toBe(400);
    expect(single.json()).toMatchObject({ code: 'RP_ERR_JSON_TOO_DEEP', detail: 'metadata: JSON nested deeper than 32 levels (the limit)' });
  });

  it('a single event 100,000 levels deep is a 400 naming the limit, not a 500', async () => {
    const res = await post('/v1/events/ingest', JSON.stringify(validEvent()).replace(/}$/, `,"metadata":{"x":${nested(100_000)}}}`));
    expect(res.statusCode).toBe(400);
    expectErrorShape(res.json(), 'deep single');
    expect(res.json()).toMatchObject({ code: 'RP_ERR_JSON_TOO_DEEP', detail: 'Body is JSON nested deeper than 32 levels (the limit)' });
    // Deep arrays at the top level too.
    const arr = await post('/v1/events/ingest-batch', '['.repeat(1_000_000) + ']'.repeat(1_000_000));
    expect(arr.statusCode).toBe(200);
    expect(arr.json()).toMatchObject({ total: 1, errors: 1 });
  });

  it('metadata over --max-metadata-bytes is 413 for one event and an item error in a batch', async () => {
    const big = validEvent({ metadata: { notes: 'x'.repeat(17_000) } });
    const res = await post('/v1/events/ingest', JSON.stringify(big));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'RP_ERR_METADATA_TOO_LARGE' });
    expect(res.json().detail).toMatch(/metadata is 17\d{3} bytes as JSON \(limit 16384\)/);
    const batch = await post('/v1/events/ingest-batch', JSON.stringify({ events: [big, validEvent()] }));
    expect(batch.json()).toMatchObject({ queued: 1, errors: 1 });
  });

  it('a serialisation failure is the event\'s own error', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    // jsonDepth stops counting at the limit, so a cycle ends as "too deep" rather than looping.
    const r = serialiseEvent({ metadata: cyclic }, { maxJsonDepth: 32, maxMetadataBytes: 1000 });
    expect(r.ok).toBe(false);
    const big = serialiseEvent({ metadata: { n: 10n as unknown as number } });
    expect(big).toMatchObject({ ok: false, code: 'RP_ERR_VALIDATION' });
  });
});

describe('__proto__ and constructor.prototype keys', () => {
  it('say what is wrong instead of "not valid JSON"', async () => {
    const res = await post('/v1/events/ingest', JSON.stringify(validEvent()).replace(/}$/, ',"metadata":{"__proto__":{"admin":true}}}'));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      code: 'RP_ERR_FORBIDDEN_KEY',
      detail: 'Body has a "__proto__" key at metadata.__proto__: such keys are refused because they would change object prototypes',
      errors: [{ path: 'metadata.__proto__', message: '"__proto__" keys are not allowed' }],
    });
    const escaped = await post('/v1/events/ingest', '{"\\u005f_proto__": 1}');
    expect(escaped.json().code).toBe('RP_ERR_FORBIDDEN_KEY');
    const ctor = await post('/v1/events/ingest-batch', '{"events":[{"constructor":{"prototype":{}}}]}');
    expect(ctor.json()).toMatchObject({ code: 'RP_ERR_FORBIDDEN_KEY', errors: [{ path: 'events.0.constructor.prototype' }] });
    // A key that merely contains the word is fine.
    expect(() => parseJsonBody('{"my__proto__": 1, "constructor": "x"}')).not.toThrow();
  });

  it('malformed JSON still says so', async () => {
    const res = await post('/v1/events/ingest', '{"event_id": ');
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('RP_ERR_BAD_JSON');
    expect((await post('/v1/events/ingest', '')).json().detail).toBe('Malformed JSON body: the body is empty');
  });
});

describe('log scrubbing', () => {
  it('drops the Redis command arguments ioredis puts on its errors, keeping the command name', () => {
    const err = new ReplyError("OOM command not allowed when used memory > 'maxmemory'.") as Error & { command?: unknown };
    err.command = { name: 'evalsha', args: ['sha', '3', 'secret message content about someone'] };
    const scrubbed = JSON.stringify(scrubError(new Error('wrapped', { cause: err })));
    expect(scrubbed).not.toContain('secret message content');
    expect(scrubbed).toContain('evalsha');
    expect(scrubbed).toContain('OOM command not allowed');
  });

  it('the logger never writes command arguments or query strings, at any level', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk;
        cb();
      },
    });
    const log = createLogger({ level: 'trace', destination: sink as never });
    const err = Object.assign(new Error('Command failed'), { command: { name: 'xadd', args: ['events:raw', '*', 'event', '{"content":"private words"}'] }, args: ['private words'] });
    log.trace({ err, url: '/v1/risk/screen?content=private%20words' }, 'x');
    log.error(err, 'y');
    log.warn({ err: JSON.parse('{"not": "an error", "content": "private words"}') }, 'z');
    expect(out).not.toContain('private');
    expect(out).toContain('xadd');
  });
});
