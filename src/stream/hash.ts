import { createHash } from 'node:crypto';

/** Content dedup identity: SHA-256 of `platform:author_id:content` (base64url, 43 characters: short keys are cheaper in Redis). */
export function contentHash(e: { platform: string; author_id: string; content: string }): string {
  return createHash('sha256').update(`${e.platform}:${e.author_id}:${e.content}`).digest('base64url');
}
