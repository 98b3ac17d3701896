import { describe, expect, it } from 'vitest';
import { createKeys, streamNames } from '../../src/stream/keys.js';

/** Redis Cluster's hash tag of a key: the part between the first "{" and the next "}", if not empty. */
function slotTag(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('stream keys', () => {
  it('keeps the names of riskpipe 0.1 by default: prefix + name', () => {
    expect(streamNames('t1:')).toEqual({ raw: 't1:events:raw', reasoning: 't1:events:reasoning_queue', lowRisk: 't1:events:low_risk', deadletter: 't1:events:deadletter' });
    const k = createKeys({ prefix: 't1:' });
    expect(k.dedupEventId('e1')).toBe('t1:dd:i:e1');
    expect(k.dedupContent('h')).toBe('t1:dd:c:h');
  });

  it('with a hash tag, every key and stream shares one Redis Cluster slot', () => {
    for (const k of [createKeys({ hashTag: 'rp' }), createKeys({ prefix: 't1:', hashTag: 'rp' }), createKeys({ prefix: '{tenant}:' })]) {
      const all = [...Object.values(k.streams), k.dedupContent('h'), k.dedupEventId('e'), k.author('discord:u:1'), k.batch('b')];
      expect(new Set(all.map(slotTag)).size, all.join(' ')).toBe(1);
      expect(all.every((x) => x.startsWith(k.prefix))).toBe(true);
    }
    expect(createKeys({ hashTag: 'rp' }).streams.raw).toBe('{rp}:events:raw');
    expect(createKeys({ prefix: '{t1}:', hashTag: 'rp' }).streams.raw).toBe('{t1}:events:raw');
  });

  it('resolves stream names for tools: logical ids, default names, or anything else under the prefix', () => {
    const k = createKeys({ prefix: 'p:', hashTag: 'rp' });
    expect(k.resolveStream('lowRisk')).toBe('p:{rp}:events:low_risk');
    expect(k.resolveStream('events:low_risk')).toBe('p:{rp}:events:low_risk');
    expect(k.resolveStream('custom')).toBe('p:custom');
    expect(k.streamId('p:{rp}:events:raw')).toBe('raw');
  });
});
