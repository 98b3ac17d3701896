/*
 * The original screening service's flag names, raised wherever their meaning applies, next to
 * riskpipe's own (docs/screening.md lists every flag and what raises it). These only describe
 * a message: they never change its score.
 *
 *   repeated_punctuation   three or more "!" / "?" in a row ("idiot!!!"), as the original counts
 *   offensive_language     profanity and slurs (signals/offensive.ts) and insulting words
 *                          (stupid, idiot, loser, moron …)
 *   targeting_behavior     second-person targeting: aimed phrasing ("you're such a", "shut up") or
 *                          "you" together with an insult, a threat or harassment
 *   ALL_CAPS_spam          a message in capitals (at least 12 letters, 70% upper case)
 *   repeated_name_calling  two or more insults in one message, or one insult said again
 *   doxxing_attempt        a street address, "i know where you live", "i have your address / ip",
 *                          real names with schools or workplaces to "go visit"
 *   rapid_messages         (signals/author.ts) a burst of messages from one author
 */
import type { RiskFlag } from '../../models/index.js';
import { capsStats, type NormalizedText } from '../text.js';

/** Insulting words (norm tokens) the original counts as offensive language. */
export const INSULT_WORDS = new Set(
  (
    'stupid idiot idiots idiotic moron morons moronic loser losers dumb dumbass dumbasses imbecile imbeciles cretin cretins dimwit halfwit nitwit dunce fool fools ' +
    'retard retarded clown clowns buffoon bozo pathetic worthless useless trash garbage scum scumbag lowlife freak freaks creep creepy weirdo psycho ' +
    'ugly fat pig pigs cow whale disgusting gross cringe incel simp virgin neckbeard jerk jerks ignorant brainless braindead airhead numpty muppet ' +
    'donkey rat rats parasite parasites vermin subhuman degenerate failure disgrace embarrassment noob noobs trashcan dork dorks twat prick bastard asshole'
  ).split(' '),
);
/** Insults that say "bad at the game" rather than "bad as a person": offensive only when aimed. */
const MILD_INSULTS = new Set(['trash', 'garbage', 'noob', 'noobs', 'dumb', 'useless', 'cringe', 'gross', 'dork', 'dorks', 'clown', 'clowns', 'fat', 'ugly', 'jerk', 'trashcan']);

/** Adjectives: "stupid idiot" is one name called, not two. */
const ADJECTIVES = new Set(['stupid', 'idiotic', 'moronic', 'dumb', 'retarded', 'pathetic', 'worthless', 'useless', 'ugly', 'fat', 'disgusting', 'gross', 'cringe', 'creepy', 'ignorant', 'brainless', 'braindead', 'subhuman', 'degenerate']);

const SECOND = /\b(?:you|u|ur|your|youre|yourself|urself|ya|yall|atmention)\b/;
const AIMED = /\b(?:youre|you are|you r|u r|u are|ur|your|ure) (?:a|an|such a|such an|so|the|just a|literally a|nothing but|one)\b|\b(?:you|u) (?:stupid|dumb|fat|little|ugly|fucking|pathetic|worthless|useless|absolute|complete|idiot|moron|loser)\b|\b(?:shut up|stfu|gtfo|kys|fuck you|screw you|go die|drop dead|get lost|nobody asked)\b/;

/** "I know where you live", "I have your address", a street address, "his real name is … go say hi". */
const DOXXING = [
  /\b(?:i|we|ive|weve|i have|we have|they|someone)(?: already| totally| literally| now| even| still| all)? (?:know|found|have|got|know exactly|found out|figured out|can see|saved|wrote down|traced|tracked down|pulled) (?:where (?:you|u|ya|he|she|they|your \w+|ur \w+) (?:live|lives|sleep|sleeps|work|works|go to school|goes to school|stay|stays)|(?:your|ur|his|her|their) (?:address|home address|house|ip|ip address|location|real name|full name|phone number|number|license plate|workplace|school|parents address|moms house|dox|info|details))\b/,
  /\b(?:his|her|their|your|ur) (?:real name|full name|home address|address|phone number|number|ip|ip address|school|workplace|job) (?:is|are)\b/,
  /\b\d{1,5} [a-z]+(?: [a-z]+)? (?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|court|ct|way|boulevard|blvd|close|crescent|place|terrace)\b/,
  /\b(?:apartment|apt|flat|unit) \d+[a-z]?\b.*\b(?:street|st|road|rd|avenue|ave|lane|drive)\b/,
  /\b(?:post|posting|leak|leaking|drop|dropping|share|sharing|release|releasing|publish|publishing|doxx?|doxxing|doxing)(?: \w+){0,2} (?:(?:your|ur|his|her|their) )?(?:address|dox|ip|real name|full name|phone number|home address|location|info|personal info|nudes|pics)\b/,
  /\b(?:pay (?:him|her|them|you) a visit|go say hi|everyone (?:go )?visit|swat(?:ting)? (?:you|him|her|them))\b/,
];

/** Whether a normalised text looks like doxxing (an address, "i know where you live" …). */
export function looksLikeDoxxing(norm: string): boolean {
  return DOXXING.some((re) => re.test(norm));
}

export interface CompatFlagInput {
  t: NormalizedText;
  /** Flags other signals raised already. */
  raised: ReadonlySet<RiskFlag>;
  /** Profane/slur words offensive.ts found. */
  offensiveWords: readonly string[];
}

export function compatFlags({ t, raised, offensiveWords }: CompatFlagInput): RiskFlag[] {
  const out: RiskFlag[] = [];
  if (/[!?]{3,}/.test(t.original)) out.push('repeated_punctuation');
  const caps = capsStats(t.original);
  if (caps.letters >= 12 && caps.ratio >= 0.7) out.push('ALL_CAPS_spam');

  const insults: string[] = [];
  for (const tok of t.tokens) if (INSULT_WORDS.has(tok)) insults.push(tok);
  const second = SECOND.test(t.norm);
  const aimed = AIMED.test(t.norm);
  const strongInsult = insults.some((w) => !MILD_INSULTS.has(w));
  if (offensiveWords.length > 0 || strongInsult || (insults.length > 0 && (second || aimed))) out.push('offensive_language');
  const abusive = insults.length > 0 || offensiveWords.length > 0 || raised.has('harassment_language') || raised.has('threat_language') || raised.has('hate_language') || raised.has('offensive_language');
  if (aimed || (second && abusive) || raised.has('targeted_language')) out.push('targeting_behavior');
  const names = [...insults.filter((w) => !ADJECTIVES.has(w)), ...offensiveWords];
  if (names.length >= 2) {
    if (aimed || second || raised.has('mentions')) out.push('repeated_name_calling');
  }
  if (looksLikeDoxxing(t.norm)) out.push('doxxing_attempt');
  return out;
}
