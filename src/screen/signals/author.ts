/*
 * Author behaviour and standing: bursts of messages, the same content in several channels, low
 * reputation, a brand-new account, earlier violations. These AMPLIFY other evidence in fusion (a
 * new account posting a link) and never make a plainly benign message risky on their own. The one
 * exception is the same content posted in several channels at once, which is itself weak spam
 * evidence (`spamValue`), still too weak to escalate alone.
 */
import type { Event, RiskFlag } from '../../models/index.js';
import type { AuthorStats } from '../types.js';
import type { SignalResult } from './types.js';

export interface AuthorThresholds {
  /** Messages within the window that count as a burst. Default 10. */
  rapidMessages: number;
  /** Reputation (0–1) below which an author counts as low-reputation. Default 0.3. */
  lowReputation: number;
  /** Account age in days below which it counts as new. Default 7. */
  newAccountDays: number;
}

export const DEFAULT_AUTHOR_THRESHOLDS: AuthorThresholds = { rapidMessages: 10, lowReputation: 0.3, newAccountDays: 7 };

export function authorSignal(event: Pick<Event, 'metadata'> | undefined, author: AuthorStats | undefined, th: AuthorThresholds = DEFAULT_AUTHOR_THRESHOLDS): SignalResult & { spamValue: number } {
  const flags: RiskFlag[] = [];
  const evidence: string[] = [];
  let rest = 1;
  let spamValue = 0;
  const add = (v: number) => {
    rest *= 1 - v;
  };
  const md = event?.metadata ?? {};
  const rep = typeof md.author_reputation === 'number' ? md.author_reputation : typeof md.user_reputation === 'number' ? md.user_reputation : undefined;
  if (rep !== undefined && rep < th.lowReputation) {
    add(rep < th.lowReputation / 2 ? 0.5 : 0.3);
    flags.push('low_reputation');
    evidence.push(`reputation ${rep.toFixed(2)}`);
  }
  const age = typeof md.account_age_days === 'number' ? md.account_age_days : undefined;
  if (age !== undefined && age < th.newAccountDays) {
    add(age < 1 ? 0.5 : 0.35);
    flags.push('new_account');
    evidence.push(`account ${age < 1 ? 'under a day' : `${Math.floor(age)} days`} old`);
  }
  const prev = typeof md.previous_violations === 'number' ? md.previous_violations : 0;
  if (prev > 0) {
    add(prev >= 3 ? 0.6 : prev === 2 ? 0.4 : 0.25);
    flags.push('previous_violations');
    evidence.push(`${prev} previous violation${prev > 1 ? 's' : ''}`);
  }
  if (author && author.messagesInWindow >= th.rapidMessages) {
    add(author.messagesInWindow >= th.rapidMessages * 2 ? 0.5 : 0.3);
    flags.push('rapid_messages');
    evidence.push(`${author.messagesInWindow} messages in ${author.windowS}s`);
  }
  if (author && author.sameContentChannels >= 2) {
    add(author.sameContentChannels >= 3 ? 0.5 : 0.25);
    spamValue = author.sameContentChannels >= 4 ? 0.4 : author.sameContentChannels >= 3 ? 0.32 : 0.18;
    flags.push('cross_channel_duplicate');
    evidence.push(`same content in ${author.sameContentChannels} channels`);
  }
  return { value: 1 - rest, flags, evidence, spamValue };
}
