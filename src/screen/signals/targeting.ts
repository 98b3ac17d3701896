/*
 * Targeting: is the message aimed at someone? Second-person phrasing ("you are", "you're such a",
 * "ur", "u r"), @mentions, a reply to someone, and imperatives like "go die" / "shut up". It has
 * no category of its own: fusion uses it to amplify toxic, harassment and sexual evidence, because
 * an insult aimed at a person is worse than the same word said about a game.
 */
import type { Event, RiskFlag } from '../../models/index.js';
import type { NormalizedText } from '../text.js';
import type { SignalResult } from './types.js';

const SECOND_PERSON = new Set(['you', 'u', 'ur', 'your', 'youre', 'yourself', 'urself', 'ya', 'yall', 'yours', 'youd', 'youll', 'youve', 'ure', 'yourselves', 'thee', 'thou']);
const FRAME = /\b(?:youre|you are|you r|u r|u are|ur|your|ure) (?:a|an|such a|such an|so|the|just a|literally a|nothing but|one|always|never)\b|\b(?:you|u) (?:stupid|dumb|fat|little|ugly|fucking|pathetic|worthless|useless|absolute|complete)\b/;
const IMPERATIVE = /\b(?:go (?:die|away|to hell|cry|kill|jump|rot|drown)|shut (?:up|it|your|ur|the)|get (?:lost|out|a life|off)|stfu|gtfo|kys|piss off|fuck off|screw you|fuck you|drop dead|leave (?:us|this|the)|nobody asked|stay mad|cry about it)\b/;

export function targetingSignal(t: NormalizedText, event?: Pick<Event, 'metadata'>): SignalResult & { secondPerson: boolean } {
  const evidence: string[] = [];
  const flags: RiskFlag[] = [];
  let value = 0;
  let second = 0;
  let mentions = 0;
  for (const tok of t.tokens) {
    if (SECOND_PERSON.has(tok)) second++;
    else if (tok === 'atmention') mentions++;
  }
  const metaMentions = Array.isArray(event?.metadata?.mentions) ? event!.metadata.mentions!.length : 0;
  if (second > 0) {
    value = Math.max(value, 0.35);
    evidence.push('second-person address');
  }
  const frame = FRAME.exec(t.norm);
  if (frame) {
    value = Math.max(value, 0.65);
    evidence.push(`aimed phrasing "${frame[0]}"`);
  }
  const imp = IMPERATIVE.exec(t.norm);
  if (imp) {
    value = Math.max(value, 0.65);
    evidence.push(`imperative "${imp[0]}"`);
  }
  if (mentions + metaMentions > 0) {
    value = Math.min(1, Math.max(value, 0.3) + 0.2);
    flags.push('mentions');
    evidence.push(`${mentions + metaMentions} mention${mentions + metaMentions > 1 ? 's' : ''}`);
  }
  if (event?.metadata?.is_reply_to) {
    value = Math.min(1, Math.max(value, 0.2) + 0.1);
    evidence.push('reply to someone');
  }
  if (value >= 0.5) flags.push('targeted_language');
  return { value, flags, evidence, secondPerson: second > 0 || mentions > 0 };
}
