/*
 * Typography: shouting in capitals, runs of "!!!!" / "????", stretched letters. Weak on its own
 * and never a category: fusion lets it amplify evidence of abuse ("YOU'RE A WASTE OF SPACE!!!")
 * a little. Short messages and friendly excitement ("OMG THIS IS AMAZING!!!") do not count.
 */
import type { RiskFlag } from '../../models/index.js';
import { capsStats, type NormalizedText } from '../text.js';
import type { SignalResult } from './types.js';

/** Shorter than this many letters, capitals say nothing ("GG", "LOL", "OK"). */
const MIN_LETTERS_FOR_CAPS = 12;
const FRIENDLY = /\b(?:amazing|awesome|love|loved|lovely|congrats|congratulations|thank|thanks|thx|ty|happy|birthday|bday|lets go|lets goo|lfg|omg|yay|wow|best|great|hype|hyped|pog|poggers|nice|cute|beautiful|gorgeous|yes|yess|woo|woohoo|gg|ggs|wp|welcome|hello|hi|hey|good|wonderful|incredible|excited|epic|legend|legendary|goat|clutch|insane|fire|banger|proud|win|won|winner|victory|finally|hooray|cheers|merry|christmas|new year|blessed|grateful|free shipping|sale|emoheart|emosmile)\b/;
const FRIENDLY_EMOJI = /[❤😍🥰😊🎉🥳💖💕✨🙌👏😄😁🤩]/u;
const PUNCT_RUN = /[!?]{4,}|(?:[!?]\s*){6,}/;
const PUNCT_RUNS = /[!?]{4,}|(?:[!?]\s*){6,}/g;
const STRETCH_RUN = /([A-Za-z])\1{4,}/;
const STRETCH_RUNS = /([A-Za-z])\1{4,}/g;

export function heuristicsSignal(t: NormalizedText): SignalResult {
  const evidence: string[] = [];
  const flags: RiskFlag[] = [];
  let rest = 1;
  const caps = capsStats(t.original);
  const shouting = caps.letters >= MIN_LETTERS_FOR_CAPS && caps.ratio >= 0.7;
  const punct = PUNCT_RUN.test(t.original) ? t.original.match(PUNCT_RUNS) : null;
  const stretched = STRETCH_RUN.test(t.original) ? t.original.match(STRETCH_RUNS) : null;
  if (!shouting && !punct && !stretched) return { value: 0, flags, evidence };
  // Excitement is not aggression: only now is the friendliness check worth its cost.
  const friendly = FRIENDLY.test(t.norm) || FRIENDLY_EMOJI.test(t.original);
  if (shouting && !friendly) {
    const v = 0.3 + 0.5 * ((caps.ratio - 0.7) / 0.3);
    rest *= 1 - v;
    flags.push('excessive_caps');
    evidence.push(`${Math.round(caps.ratio * 100)}% capitals`);
  }
  if (punct && !friendly) {
    rest *= 1 - Math.min(0.4, 0.2 * punct.length);
    flags.push('repeated_punctuation');
    evidence.push(`repeated punctuation "${punct[0].slice(0, 8)}"`);
  }
  if (stretched && !friendly) {
    rest *= 1 - Math.min(0.3, 0.15 * stretched.length);
    flags.push('repeated_characters');
    evidence.push(`stretched letters "${stretched[0].slice(0, 10)}"`);
  }
  return { value: 1 - rest, flags, evidence };
}
