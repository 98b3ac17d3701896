/**
 * The chat events bench:screen (and bench/screen-steps.ts) score: realistic, varied messages,
 * mostly benign, some spam, toxicity, harassment, threats and self-harm; every text differs.
 */
import type { Event } from '../src/models/index.js';
import type { ScreenWorker } from '../src/screen/worker.js';

const BENIGN = [
  'anyone up for ranked tonight?',
  'gg that last round was close',
  'check the pinned message for the schedule',
  'lol my connection died again',
  'does anyone know when the patch drops',
  'thanks for the help earlier, it worked',
  'what time is the stream tomorrow',
  'I think the new map is way better than the old one',
  'can someone review my PR when they have a minute',
  'happy birthday {name}!! hope you have a great day',
  'the build is green again, nice work everyone',
  'brb grabbing food',
  'has anyone tried the new update on mac?',
  'that boss fight took us like 40 tries',
  'welcome to the server {name}, read the rules channel first',
];
const SPAM = [
  'FREE NITRO here: discord-gift.example/claim?id={n}',
  'Earn $500/day from home!!! DM me now http://bit.ly/{n}',
  'click here for free followers www.cheap-follows.example/{n}',
  'CRYPTO GIVEAWAY send 0.1 ETH get 1 ETH back!!! limited time',
];
const TOXIC = [
  'you are such an idiot, {name}',
  'shut up nobody asked you, loser',
  'this team is full of absolute morons',
  'what a stupid take, uninstall the game',
];
const HARASS = ['@{name} everyone knows you are pathetic, just leave', 'nobody here would miss you if you left, {name}', '{name} you are worthless and ugly'];
const THREAT = ['I will find you and hurt you {name}', 'I know where you live, watch your back', 'you are going to regret this, I will kill you'];
const SELF_HARM = ['I want to end it all tonight', 'I have been thinking about hurting myself again'];
const NAMES = ['alex', 'sam', 'jordan', 'riley', 'casey', 'morgan', 'taylor', 'jamie'];
const PLATFORMS = ['discord', 'slack', 'twitch', 'telegram', 'web_chat', 'twitter', 'reddit'] as const;

export function message(n: number): string {
  const r = (n * 2654435761) % 100;
  const pool = r < 70 ? BENIGN : r < 80 ? SPAM : r < 88 ? TOXIC : r < 93 ? HARASS : r < 97 ? THREAT : SELF_HARM;
  let text = pool[(n * 7919) % pool.length].replaceAll('{name}', NAMES[n % NAMES.length]).replaceAll('{n}', String(n));
  if (n % 5 === 0) text += ` ${BENIGN[(n * 31) % BENIGN.length]}`;
  if (n % 11 === 0) text = text.toUpperCase();
  if (n % 13 === 0) text += '!!!';
  // Every text differs (as most chat does): no embedding is ever served from the worker's cache
  // of recent vectors, so the comparison with raw inference is fair.
  return `${text} #${n}`;
}

export function event(n: number): Event {
  return {
    event_id: `bench-${n}`,
    event_type: 'message_created',
    platform: PLATFORMS[n % PLATFORMS.length],
    channel_id: `chan-${n % 50}`,
    user_id: `user-${n % 3000}`,
    author_id: `author-${n % 3000}`,
    content: message(n),
    created_at: new Date(Date.now() - (20_000 - (n % 20_000)) * 10).toISOString(),
    metadata: { user_reputation: (n % 10) / 10, account_age_days: n % 400, previous_violations: n % 17 === 0 ? 2 : 0 },
  };
}

/** Resolves once `worker` has routed or dead-lettered `n` entries (polled every 5 ms). */
export async function settled(worker: ScreenWorker, n: number): Promise<void> {
  const done = () => {
    const s = worker.metrics.snapshot();
    return s.routed.reasoning_queue + s.routed.low_risk + s.deadlettered;
  };
  while (done() < n) await new Promise((res) => setTimeout(res, 5));
}
