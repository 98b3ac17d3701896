import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastParseEvent, parseEvent, parseEventWithZod } from '../../src/models/index.js';

// The hand-written fast path of parseEvent must never disagree with the zod model: whenever it
// answers, zod accepts the same input and returns the same event, to the key order of the JSON.
const now = () => new Date('2026-12-01T12:00:00.000Z');

const messy = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 60, arbitrary: good }, fc.constant(null), fc.constant(''), fc.constant('  '), fc.integer(), fc.constant([]), fc.constant({}), fc.string({ maxLength: 8 }));
const mostly = <T>(good: fc.Arbitrary<T>, ...bad: fc.Arbitrary<unknown>[]) => fc.oneof({ weight: 12, arbitrary: good as fc.Arbitrary<unknown> }, ...bad);
const id = mostly(fc.stringMatching(/^[A-Za-z0-9_.:@#/+=-]{1,20}$/), fc.constantFrom(' padded-id ', 'a'.repeat(500), 'a'.repeat(501), 'has space', 'ünï', '\tx\n'));
const enumLike = (values: string[]) => fc.oneof(fc.constantFrom(...values), fc.constantFrom(...values).map((v) => ` ${v.toUpperCase()} `), fc.constantFrom('Discord', 'nope', 'MESSAGE_CREATED', ''));
const date = mostly(
  fc.date({ min: new Date('1970-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('2026-11-23T10:00:00Z', '2026-11-23T10:00:00', '2026-11-23', ' 2026-11-23T10:00:00.123456+02:00 ', '2026-11-23 10:00', '2026-02-30T10:00:00Z', '2026-13-01', '2026-11-23T10:00:00+0530', 'yesterday', '2026-11-23T25:00:00Z'),
);
const unit = mostly(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(-0.1, 1.5, 0, 1, '0.5'));
const metadata = fc.oneof(
  { weight: 8, arbitrary: fc.record(
    {
      user_reputation: unit,
      author_reputation: unit,
      account_age_days: mostly(fc.oneof(fc.nat(), fc.double({ min: 0, max: 1e6, noNaN: true })), fc.constantFrom(-1, 'old')),
      previous_violations: mostly(fc.nat(100), fc.constantFrom(-1, 1.5, 2 ** 60, '3')),
      is_reply_to: mostly(fc.oneof(fc.constant(null), fc.string({ maxLength: 10 })), fc.constant('x'.repeat(501)), fc.integer()),
      mentions: mostly(fc.array(fc.string({ maxLength: 5 }), { maxLength: 4 }), fc.constant([1, 2]), fc.constant('u1')),
      attachments: mostly(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }), fc.constant({})),
      custom: fc.jsonValue({ maxDepth: 2 }),
      zeta: fc.string({ maxLength: 4 }),
    },
    { requiredKeys: [] },
  ) },
  fc.constant(null),
  fc.constant([]),
  fc.constant('meta'),
);
const fields = {
    event_id: messy(id),
    event_type: messy(enumLike(['message_created', 'user_joined', 'reaction_added'])),
    platform: messy(enumLike(['discord', 'slack', 'web_chat'])),
    channel_id: messy(id),
    user_id: messy(id),
    author_id: messy(id),
    content: fc.oneof({ weight: 40, arbitrary: fc.string({ minLength: 0, maxLength: 30 }) }, fc.constantFrom('   ', ' hi ', 'x'.repeat(10_000), 'x'.repeat(10_001), ` ${'y'.repeat(10_000)} `), fc.integer(), fc.constant(null)),
    created_at: messy(date),
    metadata,
    extra: fc.string({ maxLength: 4 }),
};
const event = fc.oneof(
  { weight: 4, arbitrary: fc.record(fields, { requiredKeys: ['event_id', 'event_type', 'platform', 'user_id', 'author_id', 'content'] }) },
  fc.record(fields, { requiredKeys: [] }),
);

describe('parseEvent fast path', () => {
  it('agrees with the zod model on generated events (valid and invalid)', () => {
    let fastAnswers = 0;
    let zodValid = 0;
    fc.assert(
      fc.property(event, fc.boolean(), (raw, shuffleMeta) => {
        // Through JSON, as the HTTP body parser hands it over (and with metadata keys reordered).
        const input = JSON.parse(JSON.stringify(raw));
        if (shuffleMeta && input.metadata && typeof input.metadata === 'object' && !Array.isArray(input.metadata)) {
          input.metadata = Object.fromEntries(Object.entries(input.metadata).reverse());
        }
        const zod = parseEventWithZod(input, now);
        const fast = fastParseEvent(input, now);
        if (zod.ok) zodValid++;
        if (fast) {
          fastAnswers++;
          expect(zod.ok).toBe(true);
          expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.ok && zod.event));
        }
        expect(JSON.stringify(parseEvent(input, now))).toBe(JSON.stringify(zod));
      }),
      { numRuns: 3000 },
    );
    // The fast path must take (nearly) every valid event, and the inputs must have had enough of them.
    expect(zodValid).toBeGreaterThan(200); // about 300 of 3,000 are valid; 200 is six standard deviations below
    expect(fastAnswers / zodValid).toBeGreaterThan(0.95);
  });

  it('takes a typical event', () => {
    const e = { event_id: 'e1', event_type: 'Message_Created', platform: ' discord ', channel_id: 'c', user_id: 'u', author_id: 'a', content: ' hi ', created_at: '2026-11-23T10:00:00', metadata: { account_age_days: 3, user_reputation: 0.8, x: [1] } };
    const fast = fastParseEvent(JSON.parse(JSON.stringify(e)), now);
    expect(fast).toBeDefined();
    expect(JSON.stringify(fast)).toBe(JSON.stringify((parseEventWithZod(e, now) as { event: unknown }).event));
    expect(fast).toMatchObject({ event_type: 'message_created', platform: 'discord', content: 'hi', created_at: '2026-11-23T10:00:00.000Z' });
  });
});
