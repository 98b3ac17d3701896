/*
 * Offensive language that survives obfuscation: obscenity's RegExpMatcher (englishDataset with
 * englishRecommendedTransformers) over the normalised text, where leetspeak, spacing, homoglyphs
 * and stretching are already undone, plus our own patterns for masked spellings ("f*ck", "n***er")
 * and slurs the dataset lacks.
 *
 * Profanity alone is weak evidence (gamers swear a lot): "this fucking game crashed again" stays
 * low. Profanity aimed at someone ("fuck you", "you're a worthless bitch") is strong, and a slur
 * is hate speech whoever it is aimed at.
 *
 * obscenity runs ~120 regexes per text, too slow to run on every message at 50k messages/s; a
 * cheap stem check decides whether it is worth running at all.
 */
import { RegExpMatcher, englishDataset, englishRecommendedTransformers } from 'obscenity';
import type { RiskCategory, RiskFlag } from '../../models/index.js';
import type { NormalizedText } from '../text.js';
import { clip } from '../text.js';
import { combineHits, combineRaw, compileRules, contextFactor, hitEvidence, matchRules, type RuleDef, type RuleHit } from './patterns.js';
import type { ContextMarkers, Dampening, SignalResult } from './types.js';

let matcher: RegExpMatcher | undefined;
function obscenity(): RegExpMatcher {
  matcher ??= new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });
  return matcher;
}

type Kind = 'slur' | 'ableist' | 'sexual' | 'profane';
/** obscenity's words by what they say about a message. */
const KIND_OF: Record<string, Kind> = {};
for (const w of ['abeed', 'abo', 'africoon', 'arabush', 'boonga', 'chingchong', 'chink', 'kike', 'nigger', 'negro', 'fag', 'dyke', 'tranny']) KIND_OF[w] = 'slur';
for (const w of ['retard', 'spastic']) KIND_OF[w] = 'ableist';
for (const w of [
  'anal', 'anus', 'bestiality', 'blowjob', 'boob', 'buttplug', 'cock', 'cum', 'deepthroat', 'dick', 'dildo', 'doggystyle', 'double penetration', 'ejaculate',
  'felch', 'fellatio', 'finger bang', 'fisting', 'gangbang', 'handjob', 'hentai', 'incest', 'jerk off', 'jizz', 'lubejob', 'masturbate', 'orgasm', 'orgy',
  'penis', 'porn', 'pussy', 'scat', 'semen', 'sex', 'tit', 'vagina', 'wank',
]) KIND_OF[w] = 'sexual';
// Everything else (fuck, shit, bitch, cunt, whore, slut, bastard, rape …) is plain profanity.

/** Stems that must be present (after normalisation) for obscenity to possibly match. */
const STEMS =
  /f[uv]c|fuk|fck|fvk|phuk|shit|bitch|cunt|nigg|nigr|negro|\bfag|dick|cock|puss|\bcum|jizz|porn|\bsex|slut|whore|twat|wank|prick|bastard|\barse|\bass(?:es|hole)?\b|\bpiss|\bturd|\btit|boob|\banal|\banus|penis|vagin|\brap(?:e|ist|ing)|retard|spastic|chink|kike|dyke|trann|orgasm|orgy|dildo|blowjob|handjob|hentai|incest|masturb|semen|ejacul|fellat|\bfist|felch|gangbang|deepthroat|bollock|cuck|hooker|\bscat\b|\babo\b|abeed|africoon|arabush|boonga|chingchong|jerk ?off|bestial|buttplug|doggystyle|finger ?bang|lubejob|penetrat/;
const MASK_CHAR = /[*#%]/;
/** Masked spellings obscenity does not resolve (text.ts resolves the common ones in `norm` already). */
const MASKED = /(?:^|[^a-z])(f[*#%@]+c?k\w*|f[*#]{2,}|sh[*#]+t\w*|b[*#]+tch\w*|c[*#]+nt\w*|n[*#]+gg?[*#]*(?:er|a|uh)s?|n[*#]{3,}(?:r|a)s?|f[*#]+g(?:g[*#o]t)?s?|wh[*#]+re\w*|sl[*#]+t\w*|a[*#]{2}(?:hole)?|k[*#]ke\w*|ch[*#]nk\w*|r[*#]tard\w*)(?=$|[^a-z*#])/;

/** Slurs and insults that englishDataset does not cover, matched on whole words of `norm`. */
const OWN_SLURS: Record<string, { kind: Kind; s: number }> = {};
for (const w of ['spic', 'spics', 'wetback', 'wetbacks', 'beaner', 'beaners', 'gook', 'gooks', 'raghead', 'ragheads', 'towelhead', 'towelheads', 'sandnigger', 'sandniggers', 'paki', 'pakis', 'troon', 'troons', 'zipperhead', 'jigaboo', 'jigaboos', 'kaffir', 'kaffirs', 'heeb', 'hymie', 'yid', 'yids', 'gyppo', 'pikey', 'pikeys', 'chinaman', 'redskin', 'redskins', 'shemale', 'shemales', 'faggot', 'faggots', 'fagot', 'nigger', 'niggers', 'kyke', 'kykes', 'negroid', 'coolie', 'dothead', 'slant', 'slanteye', 'wop', 'dago', 'golliwog']) OWN_SLURS[w] = { kind: 'slur', s: 0.85 };
for (const w of ['nigga', 'niggas', 'niggaz', 'nigguh', 'niqqa', 'niqqas', 'nibba', 'coon', 'coons']) OWN_SLURS[w] = { kind: 'slur', s: 0.5 };
for (const w of ['retard', 'retards', 'retarded', 'tard', 'spaz', 'mong', 'mongoloid', 'cripple']) OWN_SLURS[w] = { kind: 'ableist', s: 0.4 };
const OWN_SLUR_RE = new RegExp(`\\b(?:${Object.keys(OWN_SLURS).join('|')})\\b`);
const MULTIWORD_SLURS = /\b(?:porch monkey|jungle bunny|camel jockey|sand nigger|tar baby|rice eater|dog eater|curry muncher|ching chong)\b/;

const PROFANE_NOUN =
  '(?:(?:dumb|stupid|fat|ugly|little|lazy|sorry|worthless|useless) (?:fuck|fucker|fuckwit)|bitch|bitches|cunt|cunts|whore|whores|slut|sluts|twat|prick|dick|dickhead|bastard|asshole|arsehole|motherfucker|mf|mofo|retard|fag|faggot|wanker|piece of shit|pos|cocksucker|dumbass|jackass|hoe|hoes|shithead|fuckhead|fucker|fuckface|douche|douchebag|skank|tramp|bellend|knobhead|tosser|scumbag|shitstain|dipshit|cuck|nigger|nigga|kike|chink|spic|tranny|dyke)';
const PROFANE_NEED = 'fuck fucker fuckwit bitch bitches cunt cunts whore whores slut sluts twat prick dick dickhead bastard asshole arsehole motherfucker mf mofo retard fag faggot wanker shit pos cocksucker dumbass jackass hoe hoes shithead fuckhead fucker fuckface douche douchebag skank tramp bellend knobhead tosser scumbag shitstain dipshit cuck nigger nigga kike chink spic tranny dyke';
const AIMED_DEFS: RuleDef[] = [
  {
    need: PROFANE_NEED,
    p: `(?:(?:youre|you are|you r|u r|u are|ure|ur|your|yer|ya) (?:a |an |such a |such an |the |one |a real |a fucking |a stupid |a dumb |a little |an absolute |a complete |a total |a worthless |a fat |an ugly |a pathetic |a useless |a lying |a dirty )+(?:[a-z]+ )?|(?:you|u|ya)(?: stupid| dumb| fat| little| ugly| fucking| pathetic| worthless| useless| dirty| lying| absolute)* )${PROFANE_NOUN}`,
    s: 0.8,
    c: 'medium',
    label: 'profanity aimed at the reader',
  },
  {
    p: `(?:shut up|stfu|fuck off|go away|listen|hey|ok|okay|nah|no|bye|die|shut it|cry|cope|seethe|get lost|keep crying|go cry) (?:you )?(?:stupid |dumb |fat |little |ugly |fucking |worthless |lil )*${PROFANE_NOUN}`,
    s: 0.72,
    c: 'medium',
    label: 'profanity aimed at the reader',
    need: PROFANE_NEED,
  },
  { p: '(?:what|such) an? (?:stupid |dumb |fucking |ugly |fat |little |worthless |pathetic |useless |dirty )*(?:bitch|cunt|whore|slut|skank)', s: 0.78, c: 'robust', label: 'profanity aimed at someone', need: PROFANE_NEED },
  { p: '(?:what|such) an? (?:stupid |dumb |fucking |ugly |fat |little |worthless |pathetic |useless |dirty )*(?:twat|prick|dickhead|bastard|asshole|motherfucker|wanker|piece of shit|cocksucker|dumbass|jackass|bellend|knobhead|tosser|scumbag|retard|fag|faggot)', s: 0.72, c: 'medium', label: 'profanity aimed at someone', need: PROFANE_NEED },
  { p: 'fuck (?:you|u|ya|yall|off|yourself|urself|your ?self|your|ur|atmention|him|her|them|this guy|that guy|you and)|f off|go fuck (?:yourself|urself|your ?self|off|a)|(?:screw|fk|fck|fuk|frick|frig|fuq|phuck) (?:you|u|off|yourself|urself)|(?:eat|suck) (?:shit|a dick|my dick|my balls|my cock|a bag of dicks|dick|a cock|my ass|a dick)|piss off|stfu|shut (?:the fuck|tf|the hell|ur fucking|your fucking|your stupid|ur stupid) (?:up|mouth)|shut the fuck up|(?:son of a|sonofa) (?:bitch|whore)|kiss my ass|up (?:your|ur) ass|(?:what|whats) (?:the fuck|tf|the hell) is wrong with (?:you|u)|(?:fuck|screw|damn) (?:you|u) (?:and|to hell)|go to hell|rot in hell|fuck off and die|(?:i )?hope (?:you|u) choke', s: 0.8, c: 'medium', label: 'profanity aimed at the reader', need: 'fuck f go screw fk fck fuk frick frig fuq phuck eat suck piss stfu shut son sonofa kiss up what whats damn hell hope' },
  { p: '(?:you|u|ya) (?:fucking|fuckin|effing|fkn|motherfucking) (?:suck|idiot|moron|retard|loser|bitch|donkey|clown|trash|noob|piece of|waste|freak|creep|pig|cow)', s: 0.72, c: 'medium', label: 'profanity aimed at the reader', need: 'fucking fuckin effing fkn motherfucking' },
  { p: '^(?:(?:you )?(?:fucking |stupid |dumb |fat |ugly )?(?:bitch|cunt|whore|slut|faggot|fag|retard|dickhead|asshole|motherfucker|mf|twat|prick|wanker|dumbass|jackass|tosser|bellend|knobhead|shithead|dipshit|cocksucker|skank|douchebag|douche))(?: please| pls| shut up| stfu| bye| ok| lol| lmao| get lost| go away)*$', s: 0.78, c: 'medium', label: 'profanity aimed at the reader', need: PROFANE_NEED },
  { p: '(?:you|u|ya) (?:suck|stink|smell)(?: ass| so much| balls| dick)?', s: 0.35, c: 'ambiguous', label: 'insult aimed at the reader', need: 'suck stink smell' },
];
const AIMED = compileRules('profanity aimed at the reader', AIMED_DEFS);

const STRENGTH: Record<Kind, number> = { slur: 0.84, ableist: 0.38, sexual: 0.25, profane: 0.22 };
const CATEGORY: Record<Kind, RiskCategory> = { slur: 'hate_speech', ableist: 'toxic', sexual: 'sexual_content', profane: 'toxic' };

export interface OffensiveResult extends SignalResult {
  /** Profane or slur words found, e.g. ["fuck", "nigger"]: other signals may ask whether a message swears. */
  words: string[];
}

export function offensiveSignal(t: NormalizedText, ctx: ContextMarkers, damp: Dampening, ungated = false): OffensiveResult {
  const words = new Map<string, Kind>();
  const masked = MASK_CHAR.test(t.lower) ? MASKED.exec(t.lower) : null;
  if (STEMS.test(t.norm)) {
    // obscenity's cost grows with the text: hand it only the words around each suspicious stem.
    const toks = t.tokens;
    const windows = new Set<string>();
    for (let i = 0; i < toks.length; i++) {
      if (STEMS.test(toks[i]) || (i + 1 < toks.length && STEMS.test(`${toks[i]} ${toks[i + 1]}`))) windows.add(toks.slice(Math.max(0, i - 1), i + 2).join(' '));
    }
    const m = obscenity();
    for (const w of windows) {
      for (const match of m.getAllMatches(w)) {
        const word = englishDataset.getPayloadWithPhraseMetadata(match).phraseMetadata?.originalWord;
        if (word) words.set(word, KIND_OF[word] ?? 'profane');
      }
    }
  }
  if (masked) {
    const w = masked[1];
    const kind: Kind = /^n|^k|^ch|^f[*#]+g/.test(w) ? 'slur' : /^r/.test(w) ? 'ableist' : 'profane';
    if (!words.size || kind === 'slur') words.set(w, kind);
  }
  const own = OWN_SLUR_RE.exec(t.norm) ?? MULTIWORD_SLURS.exec(t.norm);
  if (own) {
    const spec = OWN_SLURS[own[0]] ?? { kind: 'slur' as Kind, s: 0.8 };
    if (!words.has(own[0])) words.set(own[0], spec.kind);
  }
  // obscenity resolves "nigga" to its hard-r form; keep the softer reading for the softer word.
  if (own && OWN_SLURS[own[0]]?.s === 0.5 && words.get('nigger') === 'slur' && !/\bniggers?\b/.test(t.norm)) words.delete('nigger');
  // "shiitake", "analysis", "scunthorpe" and friends: obscenity's whitelist handles most; "cum laude" is ours.
  if (words.has('cum') && /\b(?:cum laude|magna cum|summa cum)\b/.test(t.norm)) words.delete('cum');

  const flags = new Set<RiskFlag>();
  const hits: RuleHit[] = [];
  const obfuscated = masked !== null || t.obfuscations.some((o) => o !== 'stretched');

  for (const [w, kind] of words) {
    let s = own && own[0] === w ? (OWN_SLURS[w]?.s ?? STRENGTH[kind]) : STRENGTH[kind];
    if (kind === 'slur' && /^(?:negro|nigga|niggas|niggaz|nigguh|niqqa|nibba|coon|coons)$/.test(w)) s = Math.min(s, 0.5);
    if (w === 'negro' && !/\b(?:you|u|ur|those|these|all|dirty|fucking|stupid)\b/.test(t.norm)) s = 0.3;
    if (w === 'fag' && /\b(?:a fag|for a fag|fag break|smoke a fag|fags and|pack of fags|go for a fag)\b/.test(t.norm)) s = 0.2;
    const { factor, damped } = contextFactor(kind === 'slur' ? 'robust' : 'ambiguous', ctx, damp);
    hits.push({ label: kind === 'slur' ? 'slur' : kind === 'sexual' ? 'sexual term' : kind === 'ableist' ? 'ableist slur' : 'profanity', text: w, strength: s * factor, raw: s, damped });
  }
  const aimed = matchRules(t, AIMED, ctx, damp, ungated);
  for (const a of aimed) {
    // Aimed insults borrow the slur's severity when the word is a slur.
    if (/nigger|nigga|kike|chink|spic|tranny|dyke|fag/.test(a.text)) {
      a.strength = Math.max(a.strength, 0.9 * contextFactor('robust', ctx, damp).factor);
      a.label = 'slur aimed at the reader';
    }
    hits.push(a);
  }
  if (hits.length === 0) return { value: 0, category: 'toxic', flags: [], evidence: [], words: [] };
  hits.sort((a, b) => b.strength - a.strength);

  // The category is the strongest hit's: a slur is hate speech, a sexual term sexual content.
  const top = hits[0];
  const topKind = words.get(top.text);
  let category: RiskCategory = topKind ? CATEGORY[topKind] : top.label === 'slur aimed at the reader' ? 'hate_speech' : 'toxic';
  let value = combineHits(hits);
  if (obfuscated && value >= 0.2) {
    flags.add('obfuscated_language');
    // Dodging the filter on purpose says something about intent.
    value = Math.min(1, value * 1.1);
  }
  if (words.size > 0 || aimed.length > 0) flags.add('offensive_language');
  if (category === 'sexual_content' && aimed.length > 0) category = 'toxic';
  const evidence = hitEvidence(hits);
  if (obfuscated && flags.has('obfuscated_language')) evidence.push(`obfuscated spelling (${t.obfuscations.filter((o) => o !== 'stretched').join(', ') || 'masked'})`);
  return { value, category, flags: [...flags], evidence: evidence.map((e) => clip(e, 90)), words: [...words.keys()], raw: Math.max(value, combineRaw(hits)) };
}
