/**
 * The one place errors are made safe to log. ioredis puts the failed command on its errors
 * (`command: {name, args}`: for the ingest script the args are the events themselves, content
 * included), Node's JSON errors quote the input, and any error may carry a `cause` that does the
 * same. What is logged is a plain object of known-safe fields: type, message (bounded), code,
 * the Redis command's name (never its arguments), and the scrubbed cause. The logger's `err`
 * serializer calls this, so it holds at every level.
 */

/** Scalar properties that describe where an error came from, never what was sent. */
const SAFE_PROPS = ['code', 'errno', 'syscall', 'address', 'port', 'status', 'statusCode', 'retryable'] as const;
const MAX_MESSAGE_CHARS = 300;

/** Node's JSON.parse errors quote the input (`"hello…" is not valid JSON`): keep only the position. */
function scrubMessage(message: string): string {
  let m = message.replace(/(Unexpected token .*?), ".*" is not valid JSON/s, '$1 (input not shown)');
  m = m.replace(/"(?:[^"\\]|\\.){40,}"/g, '"[string not shown]"');
  return m.length > MAX_MESSAGE_CHARS ? `${m.slice(0, MAX_MESSAGE_CHARS)}… (${m.length} chars)` : m;
}

export interface ScrubbedError {
  type: string;
  message: string;
  stack?: string;
  command?: string;
  cause?: ScrubbedError;
  [prop: string]: unknown;
}

export function scrubError(err: unknown, depth = 0): ScrubbedError {
  if (!(err instanceof Error)) {
    // A thrown non-Error could be anything the client sent: say only what kind of value it was.
    return { type: typeof err, message: `non-Error value thrown (${err === null ? 'null' : typeof err})` };
  }
  const message = scrubMessage(err.message ?? '');
  const out: ScrubbedError = { type: err.constructor?.name || err.name || 'Error', message };
  if (err.stack) {
    // The stack's first line repeats the message; the frames hold no data.
    const frames = err.stack.split('\n').filter((l) => /^\s+at /.test(l));
    out.stack = [`${err.name}: ${message}`, ...frames].join('\n');
  }
  const e = err as unknown as Record<string, unknown>;
  for (const k of SAFE_PROPS) {
    const v = e[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = typeof v === 'string' ? scrubMessage(v) : v;
  }
  const command = e.command as { name?: unknown } | undefined;
  if (command && typeof command.name === 'string') out.command = command.name;
  if (err.cause !== undefined && depth < 3) out.cause = scrubError(err.cause, depth + 1);
  return out;
}

/** A request URL without its query string (the screen API accepts `?content=`). */
export function scrubUrl(url: unknown): string {
  if (typeof url !== 'string') return String(url);
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?[query not shown]`;
}
