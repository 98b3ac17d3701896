import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/commands/batch.js';
import { indexBases } from '../../src/cli/commands/search.js';
import { parseSince } from '../../src/index/search.js';

describe('stage-3 CLI helpers', () => {
  it('tries the index worker, then riskpipe up, unless a URL was given', () => {
    expect(indexBases('http://127.0.0.1:8003', {}, {})).toEqual(['http://127.0.0.1:8003', 'http://127.0.0.1:8001']);
    expect(indexBases('http://h:1', { url: 'http://h:1' }, {})).toEqual(['http://h:1']);
    expect(indexBases('http://h:2', {}, { RISKPIPE_INDEX_URL: 'http://h:2' })).toEqual(['http://h:2']);
  });

  it('draws the batch progress over the queued events', () => {
    const s = { batch_id: 'b', total: 10, queued: 10, screened: 10, low_risk: 6, escalated: 4, indexed: 2, failed: 1, dead_lettered: 1, completed: false };
    expect(progressLine(s, 10)).toBe('[#########.] 9/10 done · screened 10 · low risk 6 · escalated 4 · indexed 2 · dead-lettered 1');
  });

  it('reads --since as a date or a duration back from now', () => {
    const now = Date.parse('2026-12-01T12:00:00Z');
    expect(parseSince('24h', now)).toBe('2026-11-30T12:00:00.000Z');
    expect(parseSince('7d', now)).toBe('2026-11-24T12:00:00.000Z');
    expect(parseSince('30m', now)).toBe('2026-12-01T11:30:00.000Z');
    expect(parseSince('2026-11-01', now)).toBe('2026-11-01T00:00:00.000Z');
    expect(() => parseSince('last tuesday', now)).toThrow(/ISO 8601 date.*duration/);
  });
});
