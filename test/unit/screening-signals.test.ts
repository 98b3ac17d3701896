import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RISK_FLAGS } from '../../src/models/index.js';
import { defaultPolicy } from '../../src/screen/policy.js';
import { authorSignal } from '../../src/screen/signals/author.js';
import { detectContext } from '../../src/screen/signals/context.js';
import { harassmentSignal } from '../../src/screen/signals/harassment.js';
import { hateSignal } from '../../src/screen/signals/hate.js';
import { heuristicsSignal } from '../../src/screen/signals/heuristics.js';
import { offensiveSignal } from '../../src/screen/signals/offensive.js';
import { selfHarmSignal } from '../../src/screen/signals/self-harm.js';
import { sexualSignal } from '../../src/screen/signals/sexual.js';
import { similaritySignal } from '../../src/screen/signals/similarity.js';
import { spamSignal } from '../../src/screen/signals/spam.js';
import { targetingSignal } from '../../src/screen/signals/targeting.js';
import { threatSignal } from '../../src/screen/signals/threat.js';
import type { SignalResult } from '../../src/screen/signals/types.js';
import { normalizeText } from '../../src/screen/text.js';

const damp = defaultPolicy.dampening;
type Family = (t: ReturnType<typeof normalizeText>, ctx: ReturnType<typeof detectContext>, d: typeof damp, ungated?: boolean) => SignalResult;
const FAMILIES: Record<string, Family> = {
  threat: threatSignal,
  self_harm: selfHarmSignal,
  hate: hateSignal,
  sexual: sexualSignal,
  harassment: harassmentSignal,
  offensive: offensiveSignal,
  spam: spamSignal,
};

function run(family: Family, text: string): SignalResult {
  const t = normalizeText(text);
  return family(t, detectContext(t), damp);
}

describe('normalizeText', () => {
  it.each([
    ['k y s', 'kys'],
    ['K1ll y0urs3lf!!!', 'kill yourself'],
    ['f.u.c.k you', 'fuck you'],
    ['k-i-l-l yourself', 'kill yourself'],
    ['free n1tr0 at discord-gift.xyz/claim', 'free nitro at link'],
    ['sooooo gooood', 'soo good'],
    ['diiiie', 'die'],
    ['fuuuuuck yoouuuu', 'fuck you'],
    ['ｋｙｓ', 'kys'],
    ['уou аre trash', 'you are trash'],
    ['yo\u200bu su\u200bck', 'you suck'],
    ['f*ck off', 'fuck off'],
    ['n****r', 'nigger'],
    ['a$$hole', 'asshole'],
    ['café naïve', 'cafe naive'],
    ["you're a b!tch", 'youre a bitch'],
    ['@bob hello', 'atmention hello'],
    ['kill my self', 'kill myself'],
  ])('%j → %j', (input, norm) => {
    expect(normalizeText(input).norm).toBe(norm);
  });

  it('leaves numbers, units and short spaced words alone', () => {
    expect(normalizeText('gg 1v1 me 5th round 60fps, $500 prize').norm).toBe('gg 1v1 me 5th round 60fps 500 prize');
    expect(normalizeText('u r a loser').norm).toBe('u r a loser');
  });

  it('reports which obfuscations it undid and keeps the original', () => {
    const t = normalizeText('K1LL Y0URSELF');
    expect(t.original).toBe('K1LL Y0URSELF');
    expect(t.obfuscations).toContain('leet');
    expect(normalizeText('hello there').obfuscations).toEqual([]);
    expect(normalizeText('k y s').obfuscations).toContain('spaced');
    expect(normalizeText('f*ck').obfuscations).toContain('masked');
  });
});

describe('heuristics', () => {
  it('flags angry shouting but not short or friendly capitals', () => {
    const angry = heuristicsSignal(normalizeText('YOU ARE THE WORST PERSON HERE!!!!'));
    expect(angry.flags).toEqual(expect.arrayContaining(['excessive_caps', 'repeated_punctuation']));
    expect(angry.value).toBeGreaterThan(0.3);
    expect(heuristicsSignal(normalizeText('OMG THIS IS AMAZING!!!')).flags).toEqual([]);
    expect(heuristicsSignal(normalizeText('HAPPY BIRTHDAY SARAH!!!! 🎉')).value).toBe(0);
    expect(heuristicsSignal(normalizeText('GG EZ')).value).toBe(0);
  });

  it('flags stretched letters', () => {
    expect(heuristicsSignal(normalizeText('shut uppppppp')).flags).toContain('repeated_characters');
  });
});

describe('offensive language', () => {
  it('profanity alone is weak, aimed profanity is strong', () => {
    const alone = run(offensiveSignal, 'this fucking game crashed again');
    const aimed = run(offensiveSignal, 'fuck you, you stupid bitch');
    expect(alone.value).toBeGreaterThan(0);
    expect(alone.value).toBeLessThan(0.35);
    expect(aimed.value).toBeGreaterThan(0.7);
    expect(aimed.category).toBe('toxic');
    expect(aimed.flags).toContain('offensive_language');
  });

  it('survives obfuscation and says so', () => {
    for (const text of ['f.u.c.k you', 'f u c k you', 'fvck you', 'f*ck off', 'ur a c*nt', 'you stupid b1tch']) {
      const r = run(offensiveSignal, text);
      expect(r.value, text).toBeGreaterThan(0.6);
    }
    expect(run(offensiveSignal, 'f.u.c.k you').flags).toContain('obfuscated_language');
  });

  it('files slurs under hate speech, obfuscated or not', () => {
    for (const text of ['shut up n1gger', 'another f a g g o t in the lobby', 'dirty k1ke', 'ni99er']) {
      const r = run(offensiveSignal, text);
      expect(r.category, text).toBe('hate_speech');
      expect(r.value, text).toBeGreaterThan(0.7);
    }
  });

  it('does not fire on words that merely contain a swear', () => {
    for (const text of ['the assassin class is fun', 'scunthorpe united won', 'this is a classic', 'cum laude graduate', 'hand me the shiitake mushrooms']) {
      expect(run(offensiveSignal, text).value, text).toBeLessThan(0.3);
    }
  });

  it('dampens slurs that are being reported', () => {
    expect(run(offensiveSignal, 'someone called me a f****t in voice chat, how do i report him').value).toBeLessThan(0.4);
  });
});

describe('targeting', () => {
  it('sees second person, aimed frames, imperatives and mentions', () => {
    expect(targetingSignal(normalizeText('the weather is nice')).value).toBe(0);
    expect(targetingSignal(normalizeText('did you see it')).value).toBeCloseTo(0.35);
    expect(targetingSignal(normalizeText("you're such a clown")).flags).toContain('targeted_language');
    expect(targetingSignal(normalizeText('go die')).value).toBeGreaterThanOrEqual(0.65);
    const m = targetingSignal(normalizeText('@sam hi'));
    expect(m.flags).toContain('mentions');
    expect(targetingSignal(normalizeText('hi'), { metadata: { mentions: ['u1', 'u2'] } }).flags).toContain('mentions');
  });
});

describe('threat', () => {
  it.each([
    'I know where you live',
    "you'd better watch your back",
    "you won't see it coming",
    "I'll make sure you regret this",
    'enjoy your last days',
    'i will find you and i will hurt you',
    "i'm outside your house right now",
    'it would be a shame if something happened to your sister',
    'im gonna stab you tomorrow',
    '1 kn0w wh3re y0u l1ve',
  ])('flags %j', (text) => {
    const r = run(threatSignal, text);
    expect(r.value).toBeGreaterThanOrEqual(0.7);
    expect(r.flags).toEqual(['threat_language']);
    expect(r.evidence[0]).toMatch(/"/);
  });

  it.each([
    "I'm gonna destroy you next round",
    "you're dead meat lol gg",
    'that boss killed me 5 times',
    "he told me 'I will find where you live' — how do I report that?",
    'i would never hurt you',
    "i'll kill you at chess tomorrow",
    'police said the suspect threatened to kill his neighbours',
    "i'll find you a seat near the front",
    "i'll be at your door at 7 to pick you up",
  ])('does not escalate %j', (text) => {
    expect(run(threatSignal, text).value).toBeLessThan(0.7);
  });
});

describe('harassment', () => {
  it.each([
    'nobody would miss you if you disappeared',
    "you're a waste of space",
    'everyone here hates you',
    'go back to where you came from',
    'you should just quit the internet',
    'kys',
    'k y s',
    'k1ll y0urs3lf',
    'kill urself',
    'the world would be better off without you',
  ])('flags %j', (text) => {
    const r = run(harassmentSignal, text);
    expect(r.value).toBeGreaterThanOrEqual(0.7);
    expect(r.category).toBe('targeted_harassment');
  });

  it.each([
    'you can kill yourself with your own grenades in this game lol',
    "is it against the rules to tell someone to kys? someone said it to me",
    'ur so dumb 😂 love you though',
    'i hate mondays',
    'everyone hates mondays',
    "no one thinks you're a waste of space, you matter",
  ])('does not escalate %j', (text) => {
    expect(run(harassmentSignal, text).value).toBeLessThan(0.7);
  });
});

describe('self-harm', () => {
  it.each([
    "I don't want to be here anymore",
    "I've been thinking about ending it",
    'I just want the pain to stop',
    'I wrote my goodbye letters',
    'everyone would be better off without me',
    'i want to kms honestly not joking',
    'whats the most painless way to die',
  ])('flags %j', (text) => {
    const r = run(selfHarmSignal, text);
    expect(r.value).toBeGreaterThanOrEqual(0.7);
    expect(r.flags).toEqual(['self_harm_language']);
  });

  it.each([
    'this exam is killing me',
    "i'm dying laughing 😂",
    'this homework makes me want to die lol',
    'i cut myself shaving',
    'if you ever feel like ending it please reach out, 988 is there',
    'ending it with my boyfriend, finally',
  ])('does not escalate %j', (text) => {
    expect(run(selfHarmSignal, text).value).toBeLessThan(0.7);
  });

  it('a disclosure that asks for help is still a disclosure', () => {
    expect(run(selfHarmSignal, "i don't want to be here anymore, what should i do").value).toBeGreaterThanOrEqual(0.7);
  });
});

describe('hate', () => {
  it.each(['immigrants are vermin', 'muslims are a disease', 'they should all be deported', 'we need to get rid of the refugees', 'go back to your own country', 'heil hitler'])('flags %j', (text) => {
    const r = run(hateSignal, text);
    expect(r.value).toBeGreaterThanOrEqual(0.7);
    expect(r.category).toBe('hate_speech');
  });

  it.each(['calling immigrants vermin is dehumanising and dangerous', 'my grandma was a refugee from syria', 'the muslim students association is hosting a dinner', 'historians say the nazis called jews vermin'])(
    'does not escalate %j',
    (text) => {
      expect(run(hateSignal, text).value).toBeLessThan(0.7);
    },
  );
});

describe('sexual harassment', () => {
  it.each(['send me pics', 'send nudes', 'what are you wearing right now', 'how old are you? want to video chat privately', "don't tell your parents we talk", 'show me your body'])('flags %j', (text) => {
    const r = run(sexualSignal, text);
    expect(r.value).toBeGreaterThanOrEqual(0.7);
    expect(r.category).toBe('sexual_content');
  });

  it.each(['send me a pic of the error message', 'send pics of your setup', 'what are you wearing to the wedding?', 'how old are you guys? im 24'])('does not escalate %j', (text) => {
    expect(run(sexualSignal, text).value).toBeLessThan(0.7);
  });
});

describe('spam', () => {
  it.each([
    'free nitro at discord-gift.xyz',
    'double your BTC',
    'DM me for investment returns',
    'click here to claim your prize bit.ly/x1',
    'verify your account or it will be suspended',
    'fr33 n1tr0 at disc0rd-gifts.top',
  ])('flags %j', (text) => {
    const r = run(spamSignal, text);
    expect(r.value).toBeGreaterThanOrEqual(0.7);
    expect(r.category).toBe('spam');
  });

  it('recognises shorteners and bait domains', () => {
    expect(run(spamSignal, 'look bit.ly/abc').flags).toEqual(expect.arrayContaining(['spam_links', 'url_shortener']));
    expect(run(spamSignal, 'github.com/riskpipe/riskpipe has the code').value).toBe(0);
  });

  it('does not escalate warnings about scams or ordinary links', () => {
    for (const text of ["psa: don't click the free nitro links, it's a scam", 'here is the zoom link for standup: zoom.us/j/12345', 'click the link in the pinned message to sign up']) {
      expect(run(spamSignal, text).value, text).toBeLessThan(0.7);
    }
  });

  it('flags repeated promo text', () => {
    const r = run(spamSignal, 'buy cheap gold now '.repeat(4));
    expect(r.flags).toContain('repeated_content');
  });
});

describe('author behaviour', () => {
  it('reads reputation, account age, violations, bursts and cross-channel duplicates', () => {
    const r = authorSignal({ metadata: { author_reputation: 0.05, account_age_days: 0, previous_violations: 3 } }, { messagesInWindow: 30, windowS: 60, sameContentChannels: 4 });
    expect(r.flags).toEqual(expect.arrayContaining(['low_reputation', 'new_account', 'previous_violations', 'rapid_messages', 'cross_channel_duplicate']));
    expect(r.value).toBeGreaterThan(0.9);
    expect(r.spamValue).toBeGreaterThan(0);
    expect(r.spamValue).toBeLessThan(0.5);
  });

  it('says nothing about a normal author', () => {
    const r = authorSignal({ metadata: { author_reputation: 0.9, account_age_days: 400 } }, { messagesInWindow: 2, windowS: 60, sameContentChannels: 1 });
    expect(r).toMatchObject({ value: 0, flags: [], spamValue: 0 });
    expect(authorSignal(undefined, undefined).value).toBe(0);
  });
});

describe('similarity', () => {
  const cal = { minSimilarity: 0.5, fullSimilarity: 0.8 };
  it('votes by similarity above the calibrated minimum', () => {
    const r = similaritySignal(
      [
        { id: 'thr-1', label: 'threat', similarity: 0.9, source: 'exemplar' },
        { id: 'thr-2', label: 'threat', similarity: 0.7, source: 'exemplar' },
        { id: 'ok-1', label: 'low_risk', similarity: 0.4, source: 'exemplar' },
      ],
      cal,
    );
    expect(r.category).toBe('threat');
    expect(r.value).toBeCloseTo(1);
    expect(r.votes.low_risk).toBeUndefined();
    expect(r.flags).toContain('similar_to_known_abuse');
    expect(r.evidence[0]).toContain('thr-1');
  });

  it('benign neighbours vote against, escalated ones count half', () => {
    const mixed = similaritySignal(
      [
        { id: 'thr-1', label: 'threat', similarity: 0.8, source: 'exemplar' },
        { id: 'ok-1', label: 'low_risk', similarity: 0.8, source: 'exemplar' },
      ],
      cal,
    );
    expect(mixed.votes.threat).toBeCloseTo(0.5);
    expect(mixed.votes.low_risk).toBeCloseTo(0.5);
    const esc = similaritySignal([{ id: 'e1', label: 'spam', similarity: 0.8, source: 'escalated' }], cal);
    expect(esc.value).toBeCloseTo(0.5);
    expect(similaritySignal([{ id: 'x', label: 'threat', similarity: 0.49, source: 'exemplar' }], cal).value).toBe(0);
    expect(similaritySignal(undefined, cal).value).toBe(0);
  });
});

describe('context', () => {
  it('recognises gaming, joking, quotes, reports, news, hyperbole and support', () => {
    const c = (s: string) => detectContext(normalizeText(s));
    expect(c('gg next round').gaming).toBeGreaterThan(0);
    expect(c('haha ok lol').joking).toBe(1);
    expect(c('not joking lol').joking).toBe(0);
    expect(c('he said "you will regret it" to me').quote).toBe(1);
    expect(c('how do i report this user').report).toBe(1);
    expect(c('police said the man was arrested').news).toBe(1);
    expect(c('this exam is killing me').hyperbole).toBe(1);
    expect(c('if you feel this way, please reach out').support).toBe(1);
    expect(c('have a nice day')).toMatchObject({ gaming: 0, joking: 0, quote: 0, report: 0, news: 0, hyperbole: 0, support: 0 });
  });
});

describe('signal results', () => {
  it('every flag is a valid lower-case RiskFlag and evidence stays short', () => {
    const texts = ['I know where you live', 'kys', 'send nudes', 'free nitro at discord-gift.xyz', 'fuck you', 'immigrants are vermin', 'i want to die'];
    for (const text of texts) {
      for (const [name, family] of Object.entries(FAMILIES)) {
        const r = run(family, text);
        for (const f of r.flags) expect(RISK_FLAGS, `${name} ${text}`).toContain(f);
        for (const e of r.evidence) expect(e.length, e).toBeLessThanOrEqual(140);
        expect(r.value).toBeGreaterThanOrEqual(0);
        expect(r.value).toBeLessThanOrEqual(1);
      }
    }
  });

  it('the words each rule needs never hide a match (gated = ungated on the bank and the eval set)', () => {
    const texts = [
      ...readFileSync(new URL('../../data/exemplars.jsonl', import.meta.url), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { text: string }).text),
      ...readFileSync(new URL('../../data/labelled/screening-eval.jsonl', import.meta.url), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { content: string }).content),
    ];
    const mismatches: string[] = [];
    for (const text of texts) {
      const t = normalizeText(text);
      const ctx = detectContext(t);
      for (const [name, family] of Object.entries(FAMILIES)) {
        if (Math.abs(family(t, ctx, damp, false).value - family(t, ctx, damp, true).value) > 1e-9) mismatches.push(`${name}: ${text}`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
