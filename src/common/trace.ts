import { randomBytes } from 'node:crypto';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A new W3C traceparent, or a child span of the incoming one when it is valid. */
export function traceparentFor(incoming?: string | string[]): string {
  const parent = Array.isArray(incoming) ? incoming[0] : incoming;
  const m = parent ? TRACEPARENT.exec(parent.trim().toLowerCase()) : null;
  const traceId = m && !/^0+$/.test(m[1]) ? m[1] : randomBytes(16).toString('hex');
  const flags = m ? m[3] : '01';
  return `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
}

export function isTraceparent(s: string): boolean {
  return TRACEPARENT.test(s);
}
