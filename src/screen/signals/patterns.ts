/*
 * The pattern machinery the phrase signals share: macros for how people write "you", "I will"
 * and friends in chat, a compiler from a pattern with {MACROS} to a word-bounded RegExp over
 * `NormalizedText.norm`, and a runner that scores matched rules with the benign context that
 * dampens them.
 *
 * A rule has a strength (how sure a match alone is, 0..1) and a class saying which benign
 * contexts can cancel it:
 *   ambiguous  words that are everywhere in games and banter ("i'm gonna kill you", "you're dead")
 *   medium     usually abusive, sometimes a game or a joke ("watch your back", "you'll regret this")
 *   robust     abusive whatever the banter around it ("i know where you live", "kys"); only
 *              quoting, reporting, news and counter-speech cancel it
 *   spam       promotions and scams: only warnings, reports and quotes cancel them
 * Negatable rules are also cancelled by a negation in the three words before the match
 * ("i would never hurt you", "nobody is going to hurt you").
 */
import { clip } from '../text.js';
import { deriveContext } from './context.js';
import { CONTEXT_KINDS, type ContextKind, type ContextMarkers, type Dampening } from './types.js';

/** Building blocks, written over the normalised text (lower-case, no apostrophes, single spaces). */
export const MACROS: Record<string, string> = {
  YOU: '(?:you|u|ya|yu|yall|you guys|you all|atmention)',
  YOUR: '(?:your|ur|yer|yur|you r|youre)',
  // "you're" as people type it, including the common "your" / "ur" / plain "you" ("you stupid").
  YOURE: '(?:youre|you are|you r|ur|u r|u are|ure|your|yer|you|u|atmention is|atmention)',
  YOURSELF: '(?:yourself|yourselves|urself|ur ?self|your ?self|yoself|youself|yaself|u ?self|urselves)',
  // First person intent: "i will", "ill", "im gonna", "imma", "we are going to", "gonna" …
  I_WILL:
    '(?:(?:i|we|me and my boys|my boys|my friends|my brother|my brothers|my cousins) (?:will|shall|would|gonna|going to|goin to|gon|gunna|finna|bout to|about to|are gonna|are going to|am gonna|am going to|am about to|swear ill|swear to god ill|promise ill|can|could|want to|wanna|plan to|need to)|ill|i ll|imma|ima|im (?:gonna|going to|goin to|gon|gunna|finna|bout to|boutta|about to|coming to)|were (?:gonna|going to|coming to)|id|i d|gonna|going to|gunna)',
  ADV: '(?: (?:fucking|fkn|fking|freaking|literally|actually|really|definitely|personally|seriously|just|gladly|happily|totally|absolutely|so|fr|honestly|still|eventually|one day|someday|slowly))?',
  // Whom a threat is aimed at.
  TARGET:
    '(?:you|u|ya|yall|you guys|you all|atmention|(?:your|ur) (?:family|fam|mom|mum|mother|dad|father|parents|kids|children|son|daughter|sister|brother|wife|husband|gf|bf|girlfriend|boyfriend|dog|cat|pet|friends|house|home|car|whole family))',
  // A group of people defined by a protected attribute (or the vague "those people").
  GROUP:
    '(?:(?:the |all |all the |these |those |most |filthy |dirty |fucking |damn |bloody )*(?:immigrants|migrants|illegals|illegal aliens|refugees|asylum seekers|foreigners|muslims|moslems|islamists|jews|jewish people|christians|catholics|hindus|sikhs|atheists|blacks|black people|black folks|africans|whites|white people|asians|asian people|chinese|chinese people|koreans|indians|pakistanis|pakis|arabs|mexicans|latinos|hispanics|gypsies|roma|travellers|poles|russians|ukrainians|gays|gay people|gay men|lesbians|homosexuals|queers|trans people|transgenders|trans women|trans men|transsexuals|trannies|troons|lgbt people|lgbtq people|lgbt|lgbtq|women|females|feminists|disabled people|the disabled|autistic people|retards|cripples|niggers|niggas|chinks|kikes|spics|wetbacks|faggots|fags|dykes|ragheads|towelheads|beaners|gooks|those people|these people|their kind|your kind|your people|that lot|them people|foreign scum))',
  // "… in tekken", "… at chess", "… next round": a game the violence happens in.
  IN_GAME:
    '(?:[a-z0-9]+ ){0,3}(?:in|at|on|during) (?:the |this |that |a |next |our |tonights |today s |todays )?(?:game|games|round|match|duel|tekken|fifa|chess|smash|fortnite|mario ?kart|2k|madden|lobby|ranked|finals|tournament|bracket|arena|raid|minecraft|valorant|cod|warzone|apex|overwatch|league|dota|csgo|cs2|roblox|gta|halo|rocket league|among us|uno|poker|trivia|pool|darts|ping pong|tennis|basketball|soccer|football|mk|street fighter|brawl|multiplayer|online|pvp|scrims?|practice|1v1|br|battle royale|zombies|campaign|map|server|finals|semis|playoffs|qualifiers|league|season|ladder)',
  // Up to five words that are not a negation: "i'm gonna come over there and [choke you]".
  FILL5: '(?: (?!(?:never|not|wont|wouldnt|dont|didnt|cant|cannot|couldnt|shouldnt|no|nobody|nor)\\b)[a-z0-9]+){0,5}',
  // Filler: at most one / two arbitrary words.
  W: '(?: [a-z0-9]+)?',
  W2: '(?: [a-z0-9]+){0,2}',
};

export function expand(src: string): string {
  let out = src;
  // Macros may use macros; two passes are enough for the ones above.
  for (let i = 0; i < 2; i++) out = out.replace(/\{([A-Z_0-9]+)\}/g, (m, name: string) => MACROS[name] ?? m);
  if (/\{[A-Z_]+\}/.test(out)) throw new Error(`unknown macro in pattern: ${src}`);
  return out;
}

export type RuleClass = 'robust' | 'medium' | 'ambiguous' | 'spam';

/** A rule as written in a signal module. */
export interface RuleDef {
  /** Pattern over `norm`, with {MACROS}; word boundaries are added around it. */
  p: string;
  /** Strength of a match on its own, 0..1. */
  s: number;
  /** Default 'medium'. */
  c?: RuleClass;
  /** Cancelled by a negation just before the match. */
  neg?: boolean;
  /** Not a match when this pattern follows right after it (e.g. "send pics" + " of the error"). */
  notAfter?: string;
  /** Not a match when this pattern ends right before it (e.g. "you can" + "kill yourself" in a game). */
  notBefore?: string;
  /** Evidence label, default the family's. */
  label?: string;
  /**
   * A cue: one weak, independent piece of evidence (a warning frame, a time word, a body word).
   * Cues add up by noisy-OR; phrases (the default) count fully only once.
   */
  cue?: boolean;
  /**
   * Words (space-separated, as they appear in `norm`) of which every match must contain at least
   * one. The rule is only tried on messages that have one of them: most messages skip most rules.
   */
  need?: string;
}

export interface Rule {
  re: RegExp;
  strength: number;
  cls: RuleClass;
  negatable: boolean;
  notAfter?: RegExp;
  notBefore?: RegExp;
  label: string;
  need?: readonly string[];
  cue: boolean;
}

/** A family's rules, indexed by the words they need. */
export interface RuleSet {
  readonly rules: readonly Rule[];
  /** Rules without `need`: tried on every message. */
  readonly always: readonly number[];
  readonly byWord: ReadonlyMap<string, readonly number[]>;
}

export function compileRules(label: string, defs: RuleDef[]): RuleSet {
  const rules: Rule[] = defs.map((d) => ({
    re: new RegExp(`\\b(?:${expand(d.p)})\\b`),
    strength: d.s,
    cls: d.c ?? 'medium',
    negatable: d.neg ?? false,
    notAfter: d.notAfter ? new RegExp(`^ ?(?:${expand(d.notAfter)})\\b`) : undefined,
    notBefore: d.notBefore ? new RegExp(`\\b(?:${expand(d.notBefore)}) ?$`) : undefined,
    label: d.label ?? label,
    need: d.need ? d.need.trim().split(/\s+/) : undefined,
    cue: d.cue ?? false,
  }));
  const always: number[] = [];
  const byWord = new Map<string, number[]>();
  rules.forEach((r, i) => {
    if (!r.need) always.push(i);
    else for (const w of r.need) byWord.set(w, [...(byWord.get(w) ?? []), i]);
  });
  return { rules, always, byWord };
}

/** Marks of the rules already listed, one per rule of the largest set (screening is single-threaded per process). */
let listed = new Uint8Array(64);

/**
 * Indices of the rules worth trying on a message with these tokens (all of them when `ungated`):
 * the rules without `need`, then each rule the first time one of its words occurs, in token order.
 */
function candidates(set: RuleSet, tokens: readonly string[], ungated: boolean): readonly number[] {
  if (ungated) return set.rules.map((_, i) => i);
  let out: number[] | undefined;
  for (const tok of tokens) {
    const rs = set.byWord.get(tok);
    if (rs === undefined) continue;
    if (out === undefined) {
      out = set.always.slice();
      if (listed.length < set.rules.length) listed = new Uint8Array(set.rules.length);
      for (const i of out) listed[i] = 1;
    }
    for (const i of rs) {
      if (listed[i] === 1) continue;
      listed[i] = 1;
      out.push(i);
    }
  }
  if (out === undefined) return set.always;
  for (const i of out) listed[i] = 0;
  return out;
}

/**
 * Everyday troubles (exam, monday, traffic) make "i want to die" a joke, not "i'll stab you at
 * school": families other than self-harm only count hyperbole said as such ("killing me").
 */
export function phraseHyperbole(ctx: ContextMarkers): ContextMarkers {
  return deriveContext(ctx, (c) => (c.hyperbole >= 1 || c.hyperbole === 0 ? c : { ...c, hyperbole: 0 }));
}

/** How much each benign context applies to each rule class (multiplied by the policy's dampening strength). */
const SENSITIVITY: Record<RuleClass, Record<ContextKind, number>> = {
  ambiguous: { gaming: 1, joking: 1, quote: 1, report: 1, news: 1, hyperbole: 1, support: 1 },
  medium: { gaming: 0.6, joking: 0.5, quote: 1, report: 1, news: 1, hyperbole: 0.6, support: 1 },
  robust: { gaming: 0.12, joking: 0.15, quote: 1, report: 1, news: 0.9, hyperbole: 0.1, support: 0.9 },
  spam: { gaming: 0, joking: 0, quote: 0.8, report: 1, news: 0.6, hyperbole: 0, support: 0 },
};

const NEGATION = /\b(?:never|not|wont|wouldnt|dont|didnt|cant|cannot|couldnt|shouldnt|no one|nobody|noone|aint|isnt|arent|no way|nor)(?: [a-z0-9]+){0,2} ?$/;

export interface RuleHit {
  label: string;
  text: string;
  /** Strength after dampening. */
  strength: number;
  raw: number;
  /** Contexts that reduced it. */
  damped: string[];
  cue?: boolean;
}

/** The factor benign context leaves of a rule of class `cls`, and which contexts applied. */
export function contextFactor(cls: RuleClass, ctx: ContextMarkers, damp: Dampening): { factor: number; damped: string[] } {
  let factor = 1;
  const damped: string[] = [];
  const sens = SENSITIVITY[cls];
  for (const k of CONTEXT_KINDS) {
    const m = ctx[k];
    if (m <= 0) continue;
    const d = damp[k] * sens[k] * m;
    if (d > 0.01) {
      factor *= 1 - Math.min(1, d);
      damped.push(k);
    }
  }
  return { factor, damped };
}

/**
 * Every rule that matches, strongest first, each dampened by its context. Only rules whose needed
 * words occur are tried; `ungated` tries them all (tests use it to check the `need` lists).
 */
export function matchRules(t: { norm: string; tokens: readonly string[] }, set: RuleSet, ctx: ContextMarkers, damp: Dampening, ungated = false): RuleHit[] {
  const hits: RuleHit[] = [];
  const norm = t.norm;
  for (const i of candidates(set, t.tokens, ungated)) {
    const r = set.rules[i];
    const m = r.re.exec(norm);
    if (!m) continue;
    const end = m.index + m[0].length;
    if (r.notAfter && r.notAfter.test(norm.slice(end, end + 60))) continue;
    const before = norm.slice(Math.max(0, m.index - 40), m.index);
    if (r.notBefore && r.notBefore.test(before)) continue;
    let strength = r.strength;
    const { factor, damped } = contextFactor(r.cls, ctx, damp);
    strength *= factor;
    if (r.negatable && NEGATION.test(before)) {
      strength *= 1 - damp.negation;
      damped.push('negation');
    }
    hits.push({ label: r.label, text: m[0], strength, raw: r.strength, damped, cue: r.cue });
  }
  hits.sort((a, b) => b.strength - a.strength);
  return hits;
}

/**
 * A family's value from its hits: phrases by a shrinking share (the strongest fully, each further
 * distinct one half as much: 1 − (1−h1)(1−h2/2)(1−h3/4)…, as two phrasings of one threat are
 * hardly more than one), cues by full noisy-OR (independent weak evidence adds up), and the two
 * by noisy-OR.
 */
export function combineHits(hits: readonly RuleHit[], mode: 'shrinking' | 'noisy-or' = 'shrinking'): number {
  let rest = 1;
  let cueRest = 1;
  let share = 1;
  const seen = new Set<string>();
  for (const h of hits) {
    if (seen.has(h.text)) continue;
    seen.add(h.text);
    if (h.cue || mode === 'noisy-or') {
      cueRest *= 1 - h.strength;
      continue;
    }
    if (share < 0.1) continue;
    rest *= 1 - h.strength * share;
    share /= 2;
  }
  return 1 - rest * cueRest;
}

/** What `combineHits` would give without any context dampening: how alarming the words are on their own. */
export function combineRaw(hits: readonly RuleHit[], mode: 'shrinking' | 'noisy-or' = 'shrinking'): number {
  return combineHits([...hits].map((h) => ({ ...h, strength: h.raw })).sort((a, b) => b.strength - a.strength), mode);
}

/** Evidence lines for the strongest hits: `threat phrase "i know where you live"` (damped: gaming). */
export function hitEvidence(hits: readonly RuleHit[], max = 3): string[] {
  return hits.slice(0, max).map((h) => `${h.label} "${clip(h.text)}"${h.damped.length ? ` (damped: ${h.damped.join(', ')})` : ''}`);
}
