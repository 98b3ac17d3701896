import { RiskpipeError, type FieldProblem } from './errors.js';

/**
 * Input limits of the HTTP APIs, checked before anything is queued. JSON that is too deep makes
 * `JSON.stringify` overflow the stack and, parsed, costs memory out of proportion to its size
 * (8 M nested arrays fit in a 16 MiB body); metadata is passed through the whole pipeline, so
 * its size is bounded too.
 */
export interface InputLimits {
  /** Deepest nesting of one event, the event object itself being level 1 (so metadata's values are level 3). Default 32. */
  maxJsonDepth: number;
  /** Largest `metadata` of one event, as UTF-8 JSON. Default 16384 bytes. */
  maxMetadataBytes: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = { maxJsonDepth: 32, maxMetadataBytes: 16 * 1024 };

/** Keys that would change an object's prototype when the body is merged into another object. */
const FORBIDDEN_KEY_TEXT =
  /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:|"(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072)"\s*:/;

/** Items of a batch body that were too deep to parse: replaced by `null`, their problem kept here. */
const tooDeepItems = new WeakMap<object, Map<number, FieldProblem>>();

/** The problems of batch items that `parseJsonBody` refused to parse (index → problem), if any. */
export function rejectedItems(items: unknown): Map<number, FieldProblem> | undefined {
  return items && typeof items === 'object' ? tooDeepItems.get(items) : undefined;
}

function tooDeepMessage(limit: number): string {
  return `JSON nested deeper than ${limit} levels (the limit)`;
}

interface Scan {
  /** [start, end) of each batch item to replace by null, with its index. */
  cut: { start: number; end: number; index: number }[];
}

/**
 * One pass over the raw text (strings skipped) measuring nesting depth, without building
 * anything. The items of a batch — elements of a top-level array or of the top-level object's
 * `events` array — are measured on their own: an item deeper than `maxDepth` is cut out (and
 * reported alone) so that its batch-mates still go through. Anything else deeper than the limit
 * (plus the two levels a batch wraps its events in) refuses the whole body.
 */
function scanDepth(text: string, maxDepth: number): Scan {
  const cut: Scan['cut'] = [];
  const bodyLimit = maxDepth + 2;
  let depth = 0;
  // The batch array: the depth of its interior, its current element's index and start offset.
  let itemsDepth = -1;
  let index = 0;
  let itemStart = 0;
  let itemOver = false;
  let topIsObject = false;
  let lastKey = '';
  let strStart = -1;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // A string: jump to its closing quote (indexOf, not a loop over its characters: strings
      // are most of a body), the first one not escaped by an odd run of backslashes.
      strStart = i;
      let end = -1;
      for (let from = i + 1; ; ) {
        const q = text.indexOf('"', from);
        if (q < 0) break;
        let b = q - 1;
        while (b > strStart && text.charCodeAt(b) === 92) b--;
        if ((q - 1 - b) % 2 === 0) {
          end = q;
          break;
        }
        from = q + 1;
      }
      // Unterminated: nothing more to measure (JSON.parse reports it).
      if (end < 0) break;
      if (depth === 1 && topIsObject) lastKey = text.slice(strStart + 1, end);
      i = end;
      continue;
    }
    if (c === 123 || c === 91) {
      depth++;
      if (depth === 1) {
        topIsObject = c === 123;
        if (c === 91) {
          itemsDepth = 1;
          index = 0;
          itemStart = i + 1;
        }
      } else if (depth === 2 && c === 91 && topIsObject && lastKey === 'events' && itemsDepth < 0) {
        itemsDepth = 2;
        index = 0;
        itemStart = i + 1;
      }
      if (itemsDepth > 0 && depth > itemsDepth && depth - itemsDepth > maxDepth) itemOver = true;
      else if (depth > bodyLimit) throw new RiskpipeError('RP_ERR_JSON_TOO_DEEP', `Body is ${tooDeepMessage(maxDepth)}`, { errors: [{ path: '', message: tooDeepMessage(maxDepth) }] });
    } else if (c === 125 || c === 93) {
      if (depth === itemsDepth) {
        if (itemOver) cut.push({ start: itemStart, end: i, index });
        itemOver = false;
        itemsDepth = -2; // only the first batch array counts
      }
      depth--;
    } else if (c === 44 && depth === itemsDepth) {
      if (itemOver) cut.push({ start: itemStart, end: i, index });
      itemOver = false;
      index++;
      itemStart = i + 1;
    }
  }
  // An unterminated too-deep item: never hand it to JSON.parse (which would build it all first).
  if (itemOver) throw new RiskpipeError('RP_ERR_BAD_JSON', 'Malformed JSON body: unexpected end of a too-deeply nested value');
  return { cut };
}

/** Path of the first `__proto__` (or `constructor.prototype`) key, walked without recursion. */
function findForbiddenKey(root: unknown): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: root, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (!v || typeof v !== 'object') continue;
    for (const k of Object.keys(v)) {
      const child = (v as Record<string, unknown>)[k];
      const p = path ? `${path}.${k}` : k;
      if (k === '__proto__') return p;
      if (k === 'constructor' && child && typeof child === 'object' && Object.prototype.hasOwnProperty.call(child, 'prototype')) return `${p}.prototype`;
      if (child && typeof child === 'object') stack.push({ v: child, path: p });
    }
  }
  return undefined;
}

/**
 * Parses a JSON request body under the limits: empty or malformed JSON → RP_ERR_BAD_JSON, too deep
 * → RP_ERR_JSON_TOO_DEEP (a too-deep batch item is cut out and reported by `rejectedItems`), a
 * `__proto__` / `constructor.prototype` key → RP_ERR_FORBIDDEN_KEY naming where it is.
 */
export function parseJsonBody(text: string, limits: Pick<InputLimits, 'maxJsonDepth'> = DEFAULT_INPUT_LIMITS): unknown {
  if (text.trim() === '') throw new RiskpipeError('RP_ERR_BAD_JSON', 'Malformed JSON body: the body is empty');
  const { cut } = scanDepth(text, limits.maxJsonDepth);
  let source = text;
  if (cut.length > 0) {
    const parts: string[] = [];
    let at = 0;
    for (const c of cut) {
      parts.push(text.slice(at, c.start), 'null');
      at = c.end;
    }
    parts.push(text.slice(at));
    source = parts.join('');
  }
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    throw new RiskpipeError('RP_ERR_BAD_JSON', `Malformed JSON body: ${(err as Error).message}`);
  }
  if (FORBIDDEN_KEY_TEXT.test(source)) {
    const at = findForbiddenKey(value);
    if (at !== undefined) {
      const key = at.endsWith('.prototype') ? 'constructor.prototype' : '__proto__';
      throw new RiskpipeError('RP_ERR_FORBIDDEN_KEY', `Body has a "${key}" key at ${at}: such keys are refused because they would change object prototypes`, {
        errors: [{ path: at, message: `"${key}" keys are not allowed` }],
      });
    }
  }
  if (cut.length > 0) {
    const items = Array.isArray(value) ? value : (value as { events?: unknown }).events;
    if (Array.isArray(items)) {
      const problems = new Map<number, FieldProblem>();
      for (const c of cut) problems.set(c.index, { path: '', message: tooDeepMessage(limits.maxJsonDepth) });
      tooDeepItems.set(items, problems);
    }
  }
  return value;
}

/** Nesting depth of a parsed value (a scalar is 0, `{}` is 1), without recursion; stops counting past `stopAt`. */
export function jsonDepth(root: unknown, stopAt = Infinity): number {
  if (!root || typeof root !== 'object') return 0;
  // Flat objects and arrays (the usual metadata) need no stack.
  let flat = true;
  for (const child of Array.isArray(root) ? root : Object.values(root)) {
    if (child && typeof child === 'object') {
      flat = false;
      break;
    }
  }
  if (flat) return 1;
  let max = 0;
  const values: unknown[] = [root];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const d = depths.pop()!;
    if (!v || typeof v !== 'object') continue;
    if (d > max) max = d;
    if (max > stopAt) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child && typeof child === 'object') {
        values.push(child);
        depths.push(d + 1);
      }
    }
  }
  return max;
}

export type SerialisedEvent = { ok: true; json: string } | { ok: false; code: 'RP_ERR_JSON_TOO_DEEP' | 'RP_ERR_METADATA_TOO_LARGE' | 'RP_ERR_VALIDATION'; detail: string; errors: FieldProblem[] };

/**
 * Checks one validated event against the limits and serialises it, so that a failure is that
 * event's own error and never its batch-mates'.
 */
export function serialiseEvent(event: { metadata?: unknown }, limits: InputLimits = DEFAULT_INPUT_LIMITS): SerialisedEvent {
  // The event object is level 1 and metadata level 2.
  const depth = 1 + jsonDepth(event.metadata, limits.maxJsonDepth);
  if (depth > limits.maxJsonDepth) {
    const message = tooDeepMessage(limits.maxJsonDepth);
    return { ok: false, code: 'RP_ERR_JSON_TOO_DEEP', detail: `metadata: ${message}`, errors: [{ path: 'metadata', message }] };
  }
  try {
    const json = JSON.stringify(event);
    // The metadata's JSON is part of the event's, and a UTF-8 character takes at most 3 bytes per
    // UTF-16 unit: only an event that long can have too large a metadata, so only then is it measured.
    if (json.length * 3 > limits.maxMetadataBytes) {
      const metadataBytes = Buffer.byteLength(JSON.stringify(event.metadata ?? {}), 'utf8');
      if (metadataBytes > limits.maxMetadataBytes) {
        const message = `metadata is ${metadataBytes} bytes as JSON (limit ${limits.maxMetadataBytes})`;
        return { ok: false, code: 'RP_ERR_METADATA_TOO_LARGE', detail: `metadata: ${message}`, errors: [{ path: 'metadata', message }] };
      }
    }
    return { ok: true, json };
  } catch (err) {
    const message = `cannot be serialised: ${(err as Error).message}`;
    return { ok: false, code: 'RP_ERR_VALIDATION', detail: `event ${message}`, errors: [{ path: '', message }] };
  }
}
