import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/models/index.js';
import { RiskPrediction } from '../../src/models/index.js';
import { scoreEvent } from '../../src/screen/fusion.js';
import { defaultPolicy, strictCategory, strictPrediction } from '../../src/screen/policy.js';

const ev = (content: string): Event => ({
  event_id: 'f',
  event_type: 'message_created',
  platform: 'discord',
  channel_id: 'c',
  user_id: 'u',
  author_id: 'u',
  content,
  created_at: '2026-01-01T00:00:00.000Z',
  metadata: {},
});
const score = (content: string) => scoreEvent({ event: ev(content) }, defaultPolicy);

describe("the original service's flag names", () => {
  it('"You are such a stupid idiot!!!" carries repeated_punctuation, offensive_language and targeting_behavior (and riskpipe\'s own)', () => {
    const p = score('You are such a stupid idiot!!!');
    expect(p.flags).toEqual(expect.arrayContaining(['repeated_punctuation', 'offensive_language', 'targeting_behavior', 'harassment_language', 'targeted_language']));
    expect(p.risk_category).toBe('targeted_harassment');
  });

  it('insulting words are offensive_language; two of them aimed at someone are repeated_name_calling', () => {
    for (const w of ['stupid', 'idiot', 'loser', 'moron', 'pathetic']) expect(score(`you are a ${w}`).flags, w).toContain('offensive_language');
    expect(score('you idiot, you moron, you loser').flags).toContain('repeated_name_calling');
    expect(score('you are such a stupid idiot').flags).not.toContain('repeated_name_calling');
    expect(score('what a lovely day').flags).not.toContain('offensive_language');
  });

  it('three repeated marks are repeated_punctuation; two are not', () => {
    expect(score('really???').flags).toContain('repeated_punctuation');
    expect(score('what!!').flags).not.toContain('repeated_punctuation');
    expect(score('well... ok').flags).not.toContain('repeated_punctuation');
  });

  it('all caps is ALL_CAPS_spam (besides excessive_caps); short shouts are not', () => {
    expect(score('BUY NOW CHEAP FOLLOWERS HERE').flags).toEqual(expect.arrayContaining(['ALL_CAPS_spam']));
    expect(score('GG WP').flags).not.toContain('ALL_CAPS_spam');
  });

  it('addresses and "I know where you live" are doxxing_attempt', () => {
    expect(score('I know where you live').flags).toContain('doxxing_attempt');
    expect(score('he lives at 42 birch road, go say hi').flags).toContain('doxxing_attempt');
    expect(score('i have your ip and your home address').flags).toContain('doxxing_attempt');
    expect(score('where do you live? i am in berlin').flags).not.toContain('doxxing_attempt');
  });

  it('every flag raised is in the RiskFlag vocabulary', () => {
    for (const c of ['You are such a stupid idiot!!!', 'I KNOW WHERE YOU LIVE!!!', 'you idiot you moron', 'free nitro at discord-gift.xyz']) expect(() => RiskPrediction.shape.flags.parse(score(c).flags)).not.toThrow();
  });
});

describe('numeric hate codes match only as tokens of their own', () => {
  it.each([
    'build 123e4567-e89b-1488-a456-426614174000 failed',
    'commit 9f1488ab0c3d merged',
    'sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 1488ab',
    'see https://example.com/posts/1488 for details',
    'https://cdn.example.com/img/1488.png',
    'order #1488 shipped',
    'id=1488&page=2',
    'call 555-1488',
    'you scored 14880 points',
    'ticket 1488-22 is closed',
    'logged at 2026-01-14T14:88:00Z',
    'it costs $1488',
    'version 2.1488.3',
  ])('not in %s', (text) => {
    const p = score(text);
    expect(p.risk_category, p.details.reason).not.toBe('hate_speech');
    expect(p.flags).not.toContain('hate_language');
  });

  it.each(['1488', 'heil 1488.', '14 88 brothers', 'proud boys 1488, never forget'])('in %s', (text) => {
    expect(score(text).risk_category).toBe('hate_speech');
  });
});

describe('strict clients: threat → targeted_harassment', () => {
  it('maps only threat', () => {
    expect(strictCategory('threat')).toBe('targeted_harassment');
    for (const c of ['low_risk', 'spam', 'toxic', 'targeted_harassment', 'hate_speech', 'self_harm', 'sexual_content'] as const) expect(strictCategory(c)).toBe(c);
  });

  it('folds the threat score into targeted_harassment and keeps the riskpipe category', () => {
    const p = { ...score('I will find you and hurt you'), screening_time_ms: 1, model_version: 'm', policy_fingerprint: 'f' };
    expect(p.risk_category).toBe('threat');
    const s = strictPrediction(p);
    expect(s.risk_category).toBe('targeted_harassment');
    expect(s.details.category_scores.threat).toBeUndefined();
    expect(s.details.category_scores.targeted_harassment).toBe(p.details.category_scores.threat);
    expect(s.details.riskpipe_category).toBe('threat');
    expect(p.risk_category).toBe('threat');
    expect(() => RiskPrediction.parse(s)).not.toThrow();
  });
});
