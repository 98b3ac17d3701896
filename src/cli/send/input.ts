import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { RiskpipeError } from '../../common/errors.js';

/** One event read from the input, with where it came from (for error reports). */
export interface InputItem {
  /** 1-based line number (JSON Lines) or 1-based position in a JSON array. */
  line: number;
  /** `line` as a person reads it: "line 7" for JSON Lines, "item 7" for a JSON array. */
  at: string;
  event?: unknown;
  /** Set when the line is not JSON at all; the item is reported as rejected and never sent. */
  parseError?: string;
}

/** The rejection reason of a line that is not JSON, shared so that such lines group together. */
export const NOT_JSON = 'not valid JSON';

/**
 * Reads events from text: a JSON array, `{"events": [...]}`, a single JSON object, or JSON Lines.
 * A line that is not JSON becomes an item with `parseError` instead of failing the whole input, so
 * one bad line never stops the others from being sent. A document that is clearly meant as one
 * JSON array but does not parse is a CLI input error (exit 2): there are no lines to fall back on.
 */
export function parseInput(text: string, source: string): InputItem[] {
  // Editors on Windows write a byte order mark that JSON.parse would reject on line 1.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const doc = parseWhole(body);
  if (doc.ok) {
    const v = doc.value;
    if (Array.isArray(v)) return v.map((event, i) => ({ line: i + 1, at: `item ${i + 1}`, event }));
    if (v && typeof v === 'object' && Array.isArray((v as { events?: unknown }).events)) {
      return ((v as { events: unknown[] }).events).map((event, i) => ({ line: i + 1, at: `item ${i + 1}`, event }));
    }
    // One object (a one-line JSON Lines file, or one pretty-printed event) is one event; a lone
    // scalar is one (bad) event too, which the server rejects with its reason.
    return [{ line: 1, at: 'line 1', event: v }];
  }
  if (body.trimStart().startsWith('[')) {
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `${source}: not a valid JSON array: ${doc.message}`);
  }
  return parseJsonLines(body);
}

function parseWhole(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    // JSON Lines of two or more objects fail here right after the first object: the cost is one line.
    return { ok: false, message: (err as Error).message };
  }
}

/** JSON Lines: one event per line; blank lines are skipped, CRLF line ends are fine. */
export function parseJsonLines(text: string): InputItem[] {
  const items: InputItem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const at = `line ${i + 1}`;
    try {
      items.push({ line: i + 1, at, event: JSON.parse(line) });
    } catch (err) {
      items.push({ line: i + 1, at, parseError: (err as Error).message });
    }
  }
  return items;
}

/**
 * Reads `path` (or stdin for "-", through the caller's reader: only the CLI layer touches
 * process.stdin). An unreadable file is a CLI input error.
 */
export async function readInputFile(path: string, readStdin: () => Promise<string>): Promise<InputItem[]> {
  if (path === '-') return parseInput(await readStdin(), 'stdin');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new RiskpipeError('RP_ERR_CLI_INPUT', `cannot read ${path}: ${why}`, { cause: err });
  }
  return parseInput(text, path);
}

export interface TextEventOptions {
  /** Default "web_chat". */
  platform?: string;
  /** user_id and author_id. Default "cli-user". */
  author?: string;
  /** Default "cli". */
  channel?: string;
  now?: () => Date;
}

/** One quick message with generated ids, for `send --text`. */
export function textEvent(text: string, opts: TextEventOptions = {}): Record<string, unknown> {
  const author = opts.author ?? 'cli-user';
  return {
    // The "cli-" prefix tells these apart from client events when they show up downstream.
    event_id: `cli-${randomUUID()}`,
    event_type: 'message_created',
    platform: opts.platform ?? 'web_chat',
    channel_id: opts.channel ?? 'cli',
    user_id: author,
    author_id: author,
    content: text,
    created_at: (opts.now?.() ?? new Date()).toISOString(),
  };
}
