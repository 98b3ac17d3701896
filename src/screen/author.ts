import type { Event } from '../models/index.js';
import type { Bus } from '../stream/index.js';
import type { AuthorStats } from './types.js';

export interface AuthorTrackerOptions {
  /** Length of the fixed window that messages are counted in. Default 60 s. */
  windowS?: number;
}

/**
 * "Same content": case and runs of white space do not make a copy-pasted message different.
 * A 53-bit non-cryptographic hash (cyrb53): short fields, and a rare collision only makes two
 * messages of one author in one window count as the same for a behaviour signal. Four times
 * cheaper than SHA-1 through node:crypto, which showed up in the worker's profile.
 */
export function contentKey(content: string): string {
  const s = content.toLowerCase();
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  // White space is collapsed and trimmed on the fly (no regex pass over the text).
  let pendingSpace = false;
  let started = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13) || c === 160 || c === 0x2028 || c === 0x2029 || c === 0xfeff || (c >= 0x2000 && c <= 0x200a) || c === 0x3000) {
      pendingSpace = started;
      continue;
    }
    if (pendingSpace) {
      h1 = Math.imul(h1 ^ 32, 2654435761);
      h2 = Math.imul(h2 ^ 32, 1597334677);
      pendingSpace = false;
    }
    started = true;
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/**
 * Window bucket of an event: by the time it was written (`created_at`), so a backlog replayed at
 * once is not mistaken for a burst; times in the future or unreadable fall back to `nowMs`.
 */
export function windowBucket(createdAt: string, windowS: number, nowMs: number): number {
  let t = Date.parse(createdAt);
  if (Number.isNaN(t) || t > nowMs) t = nowMs;
  return Math.floor(t / 1000 / windowS);
}

/**
 * Author behaviour kept by the bus (Redis: src/stream/redis/lua/author.lua): per author and fixed
 * window, the number of messages and the channels each content was posted in, in one hash per
 * `<platform>:<author_id>:<bucket>` scope that expires two windows after it was made. One round
 * trip per batch.
 *
 * Counted once per stream entry: an entry screened again (a retry after a transient failure, or
 * a claim) reads the counts without adding to them.
 */
export class AuthorTracker {
  readonly windowS: number;

  constructor(private readonly bus: Pick<Bus, 'authorActivity'>, opts: AuthorTrackerOptions = {}) {
    this.windowS = opts.windowS ?? 60;
  }

  /** Records `items` (in order) and returns each one's stats, this event included. */
  async observe(items: { entryId: string; event: Event }[], nowMs = Date.now()): Promise<AuthorStats[]> {
    if (items.length === 0) return [];
    const activity = await this.bus.authorActivity(
      items.map(({ entryId, event: e }) => ({
        entryId,
        scope: `${e.platform}:${e.author_id}:${windowBucket(e.created_at, this.windowS, nowMs)}`,
        content: `c${contentKey(e.content)}`,
        channel: e.channel_id ?? '',
      })),
      this.windowS * 2,
    );
    return activity.map((a) => ({ messagesInWindow: a.messages, windowS: this.windowS, sameContentChannels: a.channels }));
  }
}
