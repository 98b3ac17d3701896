import { describe, expect, it } from 'vitest';
import { Event, parseEvent, RiskPrediction, RISK_FLAGS } from '../../src/models/index.js';
import { contentHash } from '../../src/stream/index.js';
import { isTraceparent, traceparentFor } from '../../src/common/trace.js';
import { streamNames } from '../../src/stream/keys.js';

const base = { event_id: 'e1', event_type: 'message_created', platform: 'discord', user_id: 'u1', author_id: 'a1', content: 'hi' };

describe('parseEvent', () => {
  it('normalises case, trims content and fills defaults', () => {
    const r = parseEvent({ ...base, platform: ' Web_Chat ', event_type: 'USER_JOINED', content: '\n hi \t' }, () => new Date('2026-01-02T03:04:05Z'));
    expect(r).toEqual({
      ok: true,
      event: { ...base, platform: 'web_chat', event_type: 'user_joined', content: 'hi', channel_id: null, created_at: '2026-01-02T03:04:05.000Z', metadata: {} },
    });
    if (r.ok) expect(Event.parse(r.event)).toEqual(r.event);
  });

  it('accepts content of exactly 10000 characters and counts after trimming', () => {
    expect(parseEvent({ ...base, content: 'x'.repeat(10000) }).ok).toBe(true);
    expect(parseEvent({ ...base, content: `  ${'x'.repeat(10000)}  ` }).ok).toBe(true);
    expect(parseEvent({ ...base, content: 'x'.repeat(10001) }).ok).toBe(false);
  });

  it('treats null required fields as missing', () => {
    const r = parseEvent({ ...base, user_id: null });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toBe('Missing required fields: [user_id]');
  });

  it('reads dates with offsets, without zone (as UTC) and date-only', () => {
    const at = (s: string) => {
      const r = parseEvent({ ...base, created_at: s });
      return r.ok ? r.event.created_at : r.detail;
    };
    expect(at('2024-05-01T12:00:00.123+05:30')).toBe('2024-05-01T06:30:00.123Z');
    expect(at('2024-05-01T12:00:00')).toBe('2024-05-01T12:00:00.000Z');
    expect(at('2024-05-01')).toBe('2024-05-01T00:00:00.000Z');
    expect(at('1714564800')).toContain('created_at must be an ISO 8601');
  });
});

describe('contracts', () => {
  it('keeps every RiskFlag lower-case snake_case', () => {
    for (const f of RISK_FLAGS) expect(f).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  it('puts the prefix before every stream name', () => {
    expect(streamNames('t1:')).toEqual({ raw: 't1:events:raw', reasoning: 't1:events:reasoning_queue', lowRisk: 't1:events:low_risk', deadletter: 't1:events:deadletter' });
  });

  it('rejects a prediction with a score out of range or an unknown flag', () => {
    const p = {
      event_id: 'e', risk_score: 0.5, risk_level: 'MEDIUM', risk_category: 'spam', confidence: 0.5, flags: ['spam_links'],
      details: { signals: {}, neighbors: [], category_scores: {}, thresholds: { screening: 0.7, medium: 0.4, high: 0.7 }, reason: 'x' },
      screening_time_ms: 1, model_version: 'm', policy_fingerprint: 'f',
    };
    expect(RiskPrediction.safeParse(p).success).toBe(true);
    expect(RiskPrediction.safeParse({ ...p, risk_score: 1.2 }).success).toBe(false);
    expect(RiskPrediction.safeParse({ ...p, flags: ['SPAM_LINKS'] }).success).toBe(false);
  });

  it('hashes platform:author_id:content for dedup', () => {
    expect(contentHash({ platform: 'discord', author_id: 'a', content: 'x' })).toBe(Buffer.from('34dbda4bd1772f1db7b85982f841d715c085031f951ffe3266b5a3a87be7879e', 'hex').toString('base64url')); // sha256('discord:a:x')
    expect(contentHash({ platform: 'discord', author_id: 'a', content: 'x' })).not.toBe(contentHash({ platform: 'slack', author_id: 'a', content: 'x' }));
    expect(contentHash({ platform: 'discord', author_id: 'a', content: 'x' })).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('makes valid, unique traceparents and continues an incoming trace', () => {
    const a = traceparentFor();
    const b = traceparentFor();
    expect(isTraceparent(a)).toBe(true);
    expect(a).not.toBe(b);
    const child = traceparentFor('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(child.startsWith('00-0af7651916cd43dd8448eb211c80319c-')).toBe(true);
    expect(isTraceparent(traceparentFor('garbage'))).toBe(true);
  });
});
