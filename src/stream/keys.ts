import { STREAMS } from '../models/index.js';
import { STREAM_IDS, type StreamId, type StreamNames } from './types.js';

/*
 * Every Redis key and stream name, built once from the prefix. Libraries receive this object
 * (or the bus, which holds one), never a prefix string.
 *
 * Layout: `<prefix>{<tag>}:<name>`, e.g. `{rp}:events:raw`, `t1:{rp}:dd:i:evt-1`. All keys share
 * the hash tag, so every multi-key script (dedup keys of a batch + the stream, route + ack,
 * dead-letter + batch counters) touches one Redis Cluster hash slot. A prefix that carries its
 * own hash tag (`{t1}:`) is used as it is: `{t1}:events:raw`. `hashTag: ''` with a tag-less
 * prefix gives the names of riskpipe ≤ 0.1 (`events:raw`): single-node Redis only.
 */

export interface KeysOptions {
  /** Put before every key and stream name. Default "". */
  prefix?: string;
  /** Hash tag put after the prefix unless the prefix has one. Default "rp"; "" for none. */
  hashTag?: string;
}

export interface Keys {
  readonly prefix: string;
  /** What every name starts with: prefix + hash tag. */
  readonly base: string;
  readonly streams: StreamNames;
  /** The logical id of a physical stream name, if it is one of ours. */
  streamId(name: string): StreamId | undefined;
  /** A physical stream name from a logical id or a default name ("events:raw"); other names get the base put before them. */
  resolveStream(nameOrId: string): string;
  dedupContent(contentHash: string): string;
  dedupEventId(eventId: string): string;
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
  const tag = opts.hashTag ?? 'rp';
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
      return base + nameOrId;
    },
    dedupContent: (h) => `${base}dd:c:${h}`,
    dedupEventId: (id) => `${base}dd:i:${id}`,
    author: (scope) => `${base}author:${scope}`,
    batch: (id) => `${base}batch:${id}`,
  };
}
