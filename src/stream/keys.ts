import { STREAMS } from '../models/index.js';
import { STREAM_IDS, type StreamId, type StreamNames } from './types.js';

/*
 * Every Redis key and stream name, built once from the prefix. Libraries receive this object
 * (or the bus, which holds one), never a prefix string.
 *
 * Layout: `<prefix>[{<tag>}:]<name>`. With a hash tag (`hashTag: 'rp'` → `{rp}:events:raw`,
 * `t1:{rp}:dd:i:evt-1`, or a prefix that carries its own: `{t1}:` → `{t1}:events:raw`) every key
 * shares it, so every multi-key script (dedup keys of a batch + the stream, settle + batch
 * counters, dead-letter, replay) touches one Redis Cluster hash slot. Without one (the default)
 * the names are those of riskpipe 0.1 and the original services (`events:raw`, `dd:c:…`), which
 * is right for a single Redis node and keeps existing consumers of the streams working.
 */

export interface KeysOptions {
  /** Put before every key and stream name. Default "". */
  prefix?: string;
  /** Hash tag put after the prefix unless the prefix has one (Redis Cluster: e.g. "rp"). Default "": none. */
  hashTag?: string;
}

export interface Keys {
  readonly prefix: string;
  /** What every name starts with: prefix + hash tag. */
  readonly base: string;
  readonly streams: StreamNames;
  /** The logical id of a physical stream name, if it is one of ours. */
  streamId(name: string): StreamId | undefined;
  /** A physical stream name from a logical id or a default name ("events:raw"); other names get the prefix put before them. */
  resolveStream(nameOrId: string): string;
  dedupContent(contentHash: string): string;
  dedupEventId(eventId: string): string;
  /** Prefix of the dedup time buckets of a window (Redis bus: one hash per bucket, append.lua). */
  dedupBuckets(windowS: number): string;
  /** Author behaviour counters of one scope (platform:author:bucket). */
  author(scope: string): string;
  batch(batchId: string): string;
}

/** Whether `s` holds a Redis Cluster hash tag: a "{" followed later by "}" with something in between. */
function hasHashTag(s: string): boolean {
  const open = s.indexOf('{');
  if (open < 0) return false;
  const close = s.indexOf('}', open + 1);
  return close > open + 1;
}

export function createKeys(opts: KeysOptions = {}): Keys {
  const prefix = opts.prefix ?? '';
  const tag = opts.hashTag ?? '';
  const base = hasHashTag(prefix) || tag === '' ? prefix : `${prefix}{${tag}}:`;
  const streams = Object.fromEntries(STREAM_IDS.map((id) => [id, base + STREAMS[id]])) as StreamNames;
  const byName = new Map<string, StreamId>(STREAM_IDS.map((id) => [streams[id], id]));
  const defaults = new Map<string, StreamId>(STREAM_IDS.map((id) => [STREAMS[id] as string, id]));
  return {
    prefix,
    base,
    streams,
    streamId: (name) => byName.get(name),
    resolveStream(nameOrId) {
      if ((STREAM_IDS as readonly string[]).includes(nameOrId)) return streams[nameOrId as StreamId];
      const id = defaults.get(nameOrId);
      if (id) return streams[id];
      if (byName.has(nameOrId)) return nameOrId;
      // Not one of ours: the prefix is put before it, as it always was.
      return prefix + nameOrId;
    },
    dedupContent: (h) => `${base}dd:c:${h}`,
    dedupEventId: (id) => `${base}dd:i:${id}`,
    dedupBuckets: (windowS) => `${base}dd:w${windowS}:`,
    author: (scope) => `${base}author:${scope}`,
    batch: (id) => `${base}batch:${id}`,
  };
}

/** The physical stream names under a prefix (and hash tag, if any). */
export function streamNames(prefix = '', hashTag?: string): StreamNames {
  return createKeys({ prefix, hashTag }).streams;
}
