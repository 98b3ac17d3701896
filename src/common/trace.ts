import { randomFillSync } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

// Random ids come from a pooled buffer: one randomFillSync per 4 KiB instead of one per id,
// which showed up at ~6% of ingest CPU.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

/** A new W3C traceparent, or a child span of the incoming one when it is valid. */
export function traceparentFor(incoming?: string | string[]): string {
  const parent = Array.isArray(incoming) ? incoming[0] : incoming;
  const m = parent ? TRACEPARENT.exec(parent.trim().toLowerCase()) : null;
  const traceId = m && !/^0+$/.test(m[1]) ? m[1] : randomHex(16);
  const flags = m ? m[3] : '01';
  return `00-${traceId}-${randomHex(8)}-${flags}`;
}

export function isTraceparent(s: string): boolean {
  return TRACEPARENT.test(s);
}
