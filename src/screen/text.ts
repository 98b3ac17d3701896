/*
 * Text normalisation for matching. Every signal reads the same `NormalizedText`, computed once
 * per message by `normalizeText`:
 *
 *   original  the message as sent (caps ratio, punctuation runs, quotes need it)
 *   lower     NFKC, zero-width characters and diacritics removed, homoglyphs folded, lower-cased;
 *             still has its punctuation and URLs (spam and quote detection read this)
 *   norm      what the phrase patterns run over: `lower` with URLs replaced by the word "link",
 *             @mentions by "atmention", meaningful emoji by words ("😏" → "emosmirk"), apostrophes
 *             dropped ("you're" → "youre", "i'll" → "ill"), masked swears resolved ("f*ck", "n****r"),
 *             leetspeak folded inside words ("k1ll" → "kill", "n1tr0" → "nitro", "$h!t" → "shit"),
 *             letter-by-letter spelling joined ("k y s" → "kys", "k.i.l.l" → "kill"), stretched
 *             letters collapsed ("sooooo" → "soo", "diiiie" → "die"), common respellings fixed
 *             ("fvck", "biatch"), "my self" joined, every other character a single space. Digits
 *             that stand alone stay digits ("5 times", "$500" → "500").
 *   tokens    `norm` split on spaces.
 *
 * The steps are cheap and skip themselves for plain ASCII text, so the whole thing costs a few
 * microseconds for a chat message.
 */

export interface NormalizedText {
  readonly original: string;
  readonly lower: string;
  readonly norm: string;
  readonly tokens: readonly string[];
  /** Which obfuscations were undone (leet, spacing, homoglyphs, zero-width, stretching); empty for plain text. */
  readonly obfuscations: readonly Obfuscation[];
}

export type Obfuscation = 'leet' | 'spaced' | 'homoglyph' | 'zero_width' | 'stretched' | 'masked';

// Zero-width and invisible formatting characters people insert to dodge filters.
const ZERO_WIDTH = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff]/g;
const NON_ASCII = /[^\x00-\x7f]/;
const COMBINING = /\p{M}+/gu;

/** Cyrillic and Greek letters that look like Latin ones, plus a few symbols used as letters. */
const HOMOGLYPHS: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', е: 'e', ё: 'e', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't', у: 'y', х: 'x', ѕ: 's', і: 'i', ї: 'i', ј: 'j', ԁ: 'd', ԛ: 'q', ԝ: 'w', һ: 'h', ӏ: 'l', ɡ: 'g',
  А: 'a', В: 'b', Е: 'e', К: 'k', М: 'm', Н: 'h', О: 'o', Р: 'p', С: 'c', Т: 't', У: 'y', Х: 'x', Ѕ: 's', І: 'i', Ј: 'j',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y', ω: 'w',
  Α: 'a', Β: 'b', Ε: 'e', Η: 'h', Ι: 'i', Κ: 'k', Μ: 'm', Ν: 'n', Ο: 'o', Ρ: 'p', Τ: 't', Υ: 'y', Χ: 'x', Ζ: 'z',
  // Symbols and letter-likes NFKC leaves alone
  ß: 'ss', æ: 'ae', œ: 'oe', ø: 'o', đ: 'd', ł: 'l', ı: 'i', ƒ: 'f', '€': 'e', '£': 'l', '¢': 'c', '¡': 'i', '×': 'x',
};
const HOMOGLYPH_RE = new RegExp(`[${Object.keys(HOMOGLYPHS).join('')}]`, 'g');

/** Leetspeak inside a word. `1`, `!` and `|` become `i` ("k1ll", "b!tch"); "11" becomes "ll" ("ki11"). */
const LEET: Record<string, string> = { '0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '9': 'g', '@': 'a', $: 's', '!': 'i', '|': 'i' };
/** A run of letters and leet characters: what counts as one word for folding. */
const WORDISH = /[a-z0-9@$!|]*[0-9@$!|][a-z0-9@$!|]*/g;
const HAS_LETTER = /[a-z]/;
const HAS_LEET = /[0-9@$!|]/;
const LEET_CHARS = /[0134579@$!|]/;
/** Digits-with-a-suffix that are not leetspeak: 5th, 2nd, 10x, 100k, 60fps, 1v1, 3am, 4k, 2fa. */
const NOT_LEET = /^(?:\d+(?:st|nd|rd|th|s|k|m|b|x|h|hr|hrs|min|mins|sec|secs|am|pm|gb|mb|tb|fps|hz|ms|kg|lb|lbs|km|mi|cm|mm|yo|d|p|v\d+|fa)|[a-z]+[1-9]\d*|[a-z]+\d{2,}|v\d+(?:\.\d+)*|\d+[a-z]\d+)$/;

const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|gg|xyz|top|click|gift|ru|tk|ml|ga|cf|gq|cn|icu|buzz|live|online|site|shop|work|rest|fit|loan|win|bid|pw|cc|su|info|biz|me|co|ly|app|link|store|club|fun|vip|best|today|pro|tv|us|uk|de|in)(?:\/[^\s<>"']*)?(?![a-z0-9.-])/g;
/** Cheap check before the URL regex: a dot between a letter/digit and two letters, or "//". */
const MAYBE_URL = /[a-z0-9]\.[a-z]{2}|\/\//;
const MENTION_RE = /(?:^|(?<=[\s(,]))@[a-z0-9_.]{2,32}|<@!?&?\d+>/g;
const APOSTROPHE = /['’‘`ʼ´]/g;
/** A single letter, then at least two more each after a separator: "k y s", "k.i.l.l", "f-u-c-k". */
const SPACED = /(?<![a-z0-9])[a-z](?:(?:[\s._*·~+,\/-]{1,3})[a-z](?![a-z0-9])){2,}/g;
const SPACED_PUNCT = /[._*·~+,\/-]/;
/** Cheap check before SPACED: one letter, a separator, one letter. */
const MAYBE_SPACED = /(?:^|[^a-z0-9])[a-z][\s._*·~+,\/-]{1,3}[a-z](?![a-z0-9])/;
/** Joined even when only three letters were spaced with blanks ("k y s"); longer spaced runs always are. */
const SHORT_SPACED_WORDS = new Set(['kys', 'kms', 'die', 'fag', 'cum', 'sex', 'fck', 'fuk', 'ass', 'nig', 'kkk', 'dck', 'gay', 'wtf', 'stfu', 'gtfo']);
/** Letters that English rarely doubles: a run of three or more collapses to one ("diiiie" → "die"); others to two ("sooo" → "soo"). */
const RARELY_DOUBLED = new Set(['a', 'i', 'u', 'y', 'h', 'k', 'w', 'j', 'q', 'v', 'x']);
const STRETCHED = /([a-z])\1{2,}/g;
const NON_WORD = /[^a-z0-9]+/g;
const SPLIT_SELF = /\b(my|your|ur|him|her|it|thy|yo) self\b/g;
const SPLIT_SELVES = /\b(your|our|them|ur) selves\b/g;
/** Words written with asterisks: "f*ck", "sh*t", "n****r", "k*ll". Resolved before anything else. */
const MASK_CHARS = /[*#%]/;
const MASKED: [RegExp, string][] = [
  [/\bf[*#%@]+c?k/g, 'fuck'],
  [/\bf[*#%]{2,}(?![a-z])/g, 'fuck'],
  [/\bsh[*#%]+t/g, 'shit'],
  [/\bb[*#%]+tch/g, 'bitch'],
  [/\bc[*#%]+nt/g, 'cunt'],
  [/\bd[*#%]+ck/g, 'dick'],
  [/\bp[*#%]+ss?y/g, 'pussy'],
  [/\bwh[*#%]+re/g, 'whore'],
  [/\bsl[*#%]+t/g, 'slut'],
  [/\ba[*#%$]{2}(?=hole|\b)/g, 'ass'],
  [/\bn[*#%]+gg?[*#%]*(?=er|a|uh)/g, 'nigg'],
  [/\bn[*#%]{3,}(?=r\b|a\b|rs\b|as\b)/g, 'nigge'],
  [/\bf[*#%]+g+[*#%o]*t/g, 'faggot'],
  [/\bf[*#%]+g(?=s?\b)/g, 'fag'],
  [/\bk[*#%]ke/g, 'kike'],
  [/\bch[*#%]nk/g, 'chink'],
  [/\br[*#%]+tard/g, 'retard'],
  [/\bk[*#%]+ll/g, 'kill'],
  [/\bk[*#%]+s\b/g, 'kys'],
];
/** Emoji that carry meaning for the patterns become words in `norm` ("😏" → "emosmirk"). */
const EMOJI_WORDS: Record<string, string> = {
  '😂': 'emolaugh', '🤣': 'emolaugh', '💀': 'emoskull', '😏': 'emosmirk', '😉': 'emowink', '👀': 'emoeyes', '😘': 'emokiss', '🥵': 'emohot',
  '💦': 'emodrops', '🍆': 'emoeggplant', '🍑': 'emopeach', '😈': 'emodevil', '🤤': 'emodrool', '🔪': 'emoknife', '🔫': 'emogun', '💣': 'emobomb',
  '🪦': 'emograve', '⚰': 'emocoffin', '🚀': 'emorocket', '💰': 'emomoney', '🎁': 'emogift', '🙂': 'emosmile', '😊': 'emosmile', '❤': 'emoheart',
};
const EMOJI_RE = new RegExp(`(?:${Object.keys(EMOJI_WORDS).join('|')})`, 'gu');
/** Common respellings of swear words that no character folding reaches. */
const RESPELLINGS = new Map<string, string>(
  Object.entries({
    fvck: 'fuck', fuk: 'fuck', fck: 'fuck', fcuk: 'fuck', phuck: 'fuck', fuq: 'fuck', fukk: 'fuck', fking: 'fucking', fkin: 'fucking', fkn: 'fucking', fuckin: 'fucking',
    biatch: 'bitch', biotch: 'bitch', bich: 'bitch', shyt: 'shit', sht: 'shit', azz: 'ass', cnt: 'cunt', kunt: 'cunt', phaggot: 'faggot', fagg: 'fag',
  }),
);
/** Stretched pronouns the letter collapse leaves half-done: "yoouuu" → "you". */
const STRETCHED_PRONOUNS: [RegExp, string][] = [
  [/\by+o+u+\b/g, 'you'],
  [/\by+o+u+r+\b/g, 'your'],
  [/\bu+r+\b/g, 'ur'],
];

function foldWord(w: string): string {
  if (!HAS_LETTER.test(w) || !HAS_LEET.test(w)) return w;
  // Trailing "!!!" / leading "$500" are punctuation and money, not letters.
  const m = /^([$]?)(.*?)([!|]*)$/.exec(w)!;
  const core = m[2];
  if (!HAS_LETTER.test(core) || !LEET_CHARS.test(core) || NOT_LEET.test(core)) return w;
  let out = '';
  for (const ch of core.replace(/11/g, 'll')) out += LEET[ch] ?? ch;
  return `${m[1] ? 's' : ''}${out}${m[3] ? ' ' : ''}`;
}

/** NFKC, zero-width, diacritics and homoglyphs: the readable lower-case form. */
function fold(original: string, found: Set<Obfuscation>): string {
  let s = original;
  if (NON_ASCII.test(s)) {
    const nz = s.replace(ZERO_WIDTH, '');
    if (nz.length !== s.length) found.add('zero_width');
    s = nz.normalize('NFKC').normalize('NFD').replace(COMBINING, '').normalize('NFC');
    const hg = s.replace(HOMOGLYPH_RE, (c) => HOMOGLYPHS[c]);
    // Homoglyphs inside otherwise-Latin words are an obfuscation; a message in Russian is not.
    if (hg !== s && /[a-z]/i.test(s)) found.add('homoglyph');
    s = hg;
  }
  return s.toLowerCase();
}

const NONE: readonly Obfuscation[] = Object.freeze([]);

export function normalizeText(original: string): NormalizedText {
  const found = new Set<Obfuscation>();
  const lower = fold(original, found);

  let s = MAYBE_URL.test(lower) ? lower.replace(URL_RE, ' link ') : lower;
  if (s.includes('@')) s = s.replace(MENTION_RE, ' atmention ');
  s = s.replace(APOSTROPHE, '');
  if (NON_ASCII.test(s)) s = s.replace(EMOJI_RE, (e) => ` ${EMOJI_WORDS[e]} `);
  if (MASK_CHARS.test(s)) {
    for (const [re, word] of MASKED) {
      const r = s.replace(re, word);
      if (r !== s) found.add('masked');
      s = r;
    }
  }
  if (HAS_LEET.test(s)) {
    s = s.replace(WORDISH, (w) => {
      const f = foldWord(w);
      if (f !== w) found.add('leet');
      return f;
    });
  }
  if (MAYBE_SPACED.test(s)) {
    s = s.replace(SPACED, (run) => {
      const letters = run.replace(/[^a-z]/g, '');
      if (letters.length >= 4 || SPACED_PUNCT.test(run) || SHORT_SPACED_WORDS.has(letters)) {
        found.add('spaced');
        return letters;
      }
      return run;
    });
  }
  s = s.replace(STRETCHED, (run, ch: string) => {
    found.add('stretched');
    return RARELY_DOUBLED.has(ch) ? ch : ch + ch;
  });
  if (found.has('stretched')) for (const [re, word] of STRETCHED_PRONOUNS) s = s.replace(re, word);
  // A lone "1" among leetspeak is the word "I": "1 kn0w wh3re y0u l1ve".
  if (found.has('leet')) s = s.replace(/(?<![a-z0-9])1 (?=[a-z])/g, 'i ');

  let norm = s.replace(NON_WORD, ' ').trim();
  // "my self", "your self": one word, as most people write it.
  if (norm.includes(' sel')) norm = norm.replace(SPLIT_SELF, '$1self').replace(SPLIT_SELVES, '$1selves');
  let tokens = norm.length > 0 ? norm.split(' ') : [];
  let respelled = false;
  for (let i = 0; i < tokens.length; i++) {
    const r = RESPELLINGS.get(tokens[i]);
    if (r !== undefined) {
      tokens[i] = r;
      respelled = true;
    }
  }
  if (respelled) {
    found.add('leet');
    norm = tokens.join(' ');
    tokens = norm.split(' ');
  }
  return { original, lower, norm, tokens, obfuscations: found.size ? [...found] : NONE };
}

/** Letters and the share of them in upper case, from the original text. */
export function capsStats(original: string): { letters: number; upper: number; ratio: number } {
  let letters = 0;
  let upper = 0;
  for (let i = 0; i < original.length; i++) {
    const c = original.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      letters++;
      upper++;
    } else if (c >= 97 && c <= 122) letters++;
    else if (c > 127) {
      const ch = original[i];
      const lo = ch.toLowerCase();
      const up = ch.toUpperCase();
      if (lo !== up) {
        letters++;
        if (ch === up) upper++;
      }
    }
  }
  return { letters, upper, ratio: letters === 0 ? 0 : upper / letters };
}

/** Short, loggable form of a matched phrase: at most `max` characters. */
export function clip(s: string, max = 48): string {
  const t = s.trim();
  return t.length <= max ? t : `${t.slice(0, max - 1)}…`;
}
