import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RiskpipeError } from '../../src/common/errors.js';
import { parseEvent } from '../../src/models/index.js';
import { NOT_JSON, parseInput, readInputFile, textEvent } from '../../src/cli/send/input.js';
import { backoffMs, retryAfterMs } from '../../src/cli/send/send.js';
import { formatSummary, summarize, type Tally } from '../../src/cli/send/summary.js';
import { formatEntry } from '../../src/cli/tail/tail.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const ev = (id: string) => ({ event_id: id, event_type: 'message_created', platform: 'slack', user_id: 'u', author_id: 'a', content: `hi ${id}` });

function cliInputError(fn: () => unknown): RiskpipeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RiskpipeError);
    expect((err as RiskpipeError).code).toBe('RP_ERR_CLI_INPUT');
    return err as RiskpipeError;
  }
  throw new Error('expected a RP_ERR_CLI_INPUT error');
}

describe('parseInput', () => {
  it('reads JSON Lines, skips blank lines, keeps line numbers and copes with CRLF and a BOM', () => {
    const text = `\uFEFF${JSON.stringify(ev('a'))}\r\n\r\n   \n${JSON.stringify(ev('b'))}\r\n`;
    const items = parseInput(text, 'x.jsonl');
    expect(items.map((i) => [i.line, i.at, (i.event as { event_id: string }).event_id])).toEqual([
      [1, 'line 1', 'a'],
      [4, 'line 4', 'b'],
    ]);
  });

  it('turns a line that is not JSON into a rejected item and keeps the lines around it', () => {
    const items = parseInput([JSON.stringify(ev('a')), '{oops', JSON.stringify(ev('c')), 'plain text'].join('\n'), 'x.jsonl');
    expect(items).toHaveLength(4);
    expect(items[1]).toMatchObject({ line: 2, at: 'line 2' });
    expect(items[1].parseError).toMatch(/JSON/);
    expect(items[1].event).toBeUndefined();
    expect(items[3]).toMatchObject({ line: 4 });
    expect(items[3].parseError).toBeDefined();
    expect(items[2].event).toEqual(ev('c'));
    expect(NOT_JSON).toBe('not valid JSON');
  });

  it('reads a JSON array (also pretty-printed) and {"events": [...]}, numbering items', () => {
    const arr = parseInput(JSON.stringify([ev('a'), ev('b'), 'junk'], null, 2), 'x.json');
    expect(arr.map((i) => i.at)).toEqual(['item 1', 'item 2', 'item 3']);
    expect(arr[2].event).toBe('junk'); // the server rejects it, with its reason
    const wrapped = parseInput(JSON.stringify({ events: [ev('a')] }), 'x.json');
    expect(wrapped).toEqual([{ line: 1, at: 'item 1', event: ev('a') }]);
  });

  it('reads one pretty-printed event as one event', () => {
    expect(parseInput(JSON.stringify(ev('solo'), null, 2), 'one.json')).toEqual([{ line: 1, at: 'line 1', event: ev('solo') }]);
  });

  it('refuses a broken JSON array as bad input (exit 2), saying where', () => {
    const err = cliInputError(() => parseInput('[\n  {"event_id": "a"},\n  {oops}\n]', 'bad.json'));
    expect(err.message).toMatch(/^bad\.json: not a valid JSON array: /);
  });

  it('gives no items for empty input', () => {
    expect(parseInput('', 'empty')).toEqual([]);
    expect(parseInput('\n\n  \n', 'blank')).toEqual([]);
  });
});

describe('readInputFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rp-send-unit-'));

  it('reads a file, and stdin through the given reader for "-"', async () => {
    const p = join(dir, 'ok.jsonl');
    writeFileSync(p, `${JSON.stringify(ev('f'))}\n`);
    expect(await readInputFile(p, async () => 'unused')).toHaveLength(1);
    const fromStdin = await readInputFile('-', async () => `${JSON.stringify(ev('s1'))}\n${JSON.stringify(ev('s2'))}\n`);
    expect(fromStdin.map((i) => (i.event as { event_id: string }).event_id)).toEqual(['s1', 's2']);
  });

  it('reports an unreadable path as bad input', async () => {
    await expect(readInputFile(join(dir, 'missing.jsonl'), async () => '')).rejects.toMatchObject({ code: 'RP_ERR_CLI_INPUT', message: expect.stringContaining('no such file') });
    await expect(readInputFile(dir, async () => '')).rejects.toMatchObject({ code: 'RP_ERR_CLI_INPUT', message: expect.stringContaining('is a directory') });
  });
});

describe('textEvent', () => {
  it('makes a valid message_created event with a generated id', () => {
    const a = textEvent('hello there');
    const b = textEvent('hello there');
    expect(a.event_id).not.toBe(b.event_id);
    expect(a.event_id).toMatch(/^cli-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a).toMatchObject({ event_type: 'message_created', platform: 'web_chat', user_id: 'cli-user', author_id: 'cli-user', content: 'hello there' });
    const parsed = parseEvent(a);
    expect(parsed.ok).toBe(true);
  });

  it('takes platform and author', () => {
    const e = textEvent('x', { platform: 'discord', author: 'mod-7', now: () => new Date('2026-01-02T03:04:05Z') });
    expect(e).toMatchObject({ platform: 'discord', user_id: 'mod-7', author_id: 'mod-7', created_at: '2026-01-02T03:04:05.000Z' });
  });
});

describe('retry timing', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('5')).toBe(5000);
    expect(retryAfterMs(' 0.5 ')).toBe(500);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(retryAfterMs('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('backs off exponentially, capped, with ±25% jitter', () => {
    expect(backoffMs(0, 250, 10_000, () => 0.5)).toBe(250);
    expect(backoffMs(3, 250, 10_000, () => 0.5)).toBe(2000);
    expect(backoffMs(10, 250, 10_000, () => 0.5)).toBe(10_000);
    expect(backoffMs(2, 100, 10_000, () => 0)).toBe(300);
    expect(backoffMs(2, 100, 10_000, () => 1)).toBe(500);
  });
});

describe('send summary', () => {
  const tally = (over: Partial<Tally> = {}): Tally => ({
    total: 10, sent: 8, queued: 5, duplicates: 1, failed: 1, batches: 2, rejections: [],
    retryCauses: new Map(), failures: new Map(), fatal: null, interrupted: false, ...over,
  });

  it('groups rejections by message, most frequent first, with a few places each', () => {
    const s = summarize(
      tally({
        rejections: [
          { line: 9, at: 'line 9', event_id: 'e9', error: 'Content too short (min: 1)' },
          { line: 2, at: 'line 2', event_id: null, error: NOT_JSON, detail: 'Unexpected token' },
          { line: 4, at: 'line 4', event_id: 'e4', error: 'Content too short (min: 1)' },
          { line: 5, at: 'line 5', event_id: 'e5', error: 'Content too short (min: 1)' },
          { line: 7, at: 'line 7', event_id: 'e7', error: 'Content too short (min: 1)' },
        ],
        retryCauses: new Map([['ECONNREFUSED', 1], ['503 RP_ERR_QUEUE_FULL', 3]]),
        failures: new Map([['gave up after 9 attempts: server answered 503', 1]]),
      }),
      1234,
    );
    expect(s.rejected).toBe(5);
    expect(s.rejections.map((r) => r.line)).toEqual([2, 4, 5, 7, 9]);
    expect(s.rejection_reasons).toEqual([
      { error: 'Content too short (min: 1)', count: 4, examples: [{ line: 4, at: 'line 4', event_id: 'e4' }, { line: 5, at: 'line 5', event_id: 'e5' }, { line: 7, at: 'line 7', event_id: 'e7' }] },
      { error: NOT_JSON, count: 1, examples: [{ line: 2, at: 'line 2', event_id: null }] },
    ]);
    expect(s.retries).toBe(4);
    expect(s.retry_causes[0]).toEqual({ cause: '503 RP_ERR_QUEUE_FULL', count: 3 });

    const text = formatSummary(s);
    expect(text).toContain('sent 8 of 10 events in 2 batches (1.2 s): 5 queued, 1 duplicates, 5 rejected, 1 failed');
    expect(text).toContain('retried 4 requests: 3× 503 RP_ERR_QUEUE_FULL, 1× ECONNREFUSED');
    expect(text).toContain('  4× Content too short (min: 1): line 4 (e4), line 5 (e5), line 7 (e7) and 1 more');
    expect(text).toContain('  1× not valid JSON: line 2');
    expect(text).toContain('failed: gave up after 9 attempts');
  });

  it('puts the fatal answer first among the failures', () => {
    const fatal = 'API key rejected: set --api-key or RISKPIPE_API_KEY';
    const s = summarize(tally({ fatal, failures: new Map([['not sent after the error above', 5], [fatal, 1]]) }), 0);
    expect(s.failures[0]).toBe(fatal);
    expect(formatSummary(s).split('\n')[1]).toBe(`failed: ${fatal}`);
  });
});

describe('tail-stream formatting', () => {
  const at = '1732357200000-0'; // 2024-11-23T10:20:00Z
  const event = { event_id: 'e9', platform: 'discord', author_id: 'a9', content: 'you are   trash\nand everyone knows' };
  const prediction = { risk_score: 0.914, risk_level: 'HIGH', risk_category: 'toxic', flags: ['targeted_language', 'new_account'] };

  it('shows a routed entry with its verdict', () => {
    const line = formatEntry({ stream: 's', id: at, fields: { v: '1', event_id: 'e9', event: JSON.stringify(event), prediction: JSON.stringify(prediction) } }, false);
    expect(line).toBe(`10:20:00.000 ${at} e9 HIGH 0.91 toxic [targeted_language,new_account] "you are trash and everyone knows"`);
  });

  it('truncates long content to the terminal width', () => {
    const long = { ...event, content: 'x'.repeat(500) };
    const line = formatEntry({ stream: 's', id: at, fields: { event: JSON.stringify(long), prediction: JSON.stringify(prediction) } }, false, 100);
    expect(line.length).toBeLessThan(160);
    expect(line).toMatch(/x…"$/);
  });

  it('shows raw and dead-letter entries', () => {
    expect(formatEntry({ stream: 's', id: at, fields: { event_id: 'r1', event: JSON.stringify({ event_id: 'r1', platform: 'slack', author_id: 'bob', content: 'hi' }) } }, false)).toBe(
      `10:20:00.000 ${at} r1 slack/bob "hi"`,
    );
    const dl = formatEntry(
      { stream: 's', id: at, fields: { v: '1', stage: 'screen', source_stream: 'events:raw', source_id: '5-0', error: 'event is not JSON', error_code: 'RP_ERR_POISON_ENTRY', deliveries: '1', fields: '{"event_id":"p1","event":"{"}', failed_at: 'x' } },
      false,
    );
    expect(dl).toBe(`10:20:00.000 ${at} p1 DEADLETTER stage=screen deliveries=1 source=5-0 error="event is not JSON"`);
  });

  it('--json parses the JSON-valued fields and keeps unparseable ones as text', () => {
    const out = JSON.parse(formatEntry({ stream: 'p:events:low_risk', id: at, fields: { event_id: 'e9', event: JSON.stringify(event), prediction: JSON.stringify(prediction), fields: 'not json' } }, true));
    expect(out).toEqual({ stream: 'p:events:low_risk', id: at, fields: { event_id: 'e9', event, prediction, fields: 'not json' } });
  });
});

describe('examples/', () => {
  it.each([
    ['clean.jsonl', 18],
    ['toxic.jsonl', 18],
    ['spam.jsonl', 12],
    ['mixed.json', 8],
    ['events.jsonl', 40],
  ])('%s holds at least %i events that all pass ingest validation, with unique ids', (name, min) => {
    const items = parseInput(readFileSync(join(EXAMPLES, name), 'utf8'), name);
    expect(items.length).toBeGreaterThanOrEqual(min);
    for (const it of items) {
      expect(it.parseError, `${name} ${it.at}`).toBeUndefined();
      const p = parseEvent(it.event);
      expect(p.ok, `${name} ${it.at}: ${p.ok ? '' : p.detail}`).toBe(true);
      expect(it.event, `${name} ${it.at} has metadata`).toHaveProperty('metadata');
    }
    const ids = items.map((i) => (i.event as { event_id: string }).event_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('mixed.json is a JSON array', () => {
    expect(Array.isArray(JSON.parse(readFileSync(join(EXAMPLES, 'mixed.json'), 'utf8')))).toBe(true);
  });
});
