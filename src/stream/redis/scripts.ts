import { createHash } from 'node:crypto';
import { ReplyError, type Redis } from 'ioredis';
import { loadLua } from '../../common/lua.js';

/*
 * The one script registry: every Lua script of the Redis bus, loaded from ./lua once per
 * process, run by EVALSHA, and loaded again (SCRIPT LOAD) on NOSCRIPT after a Redis restart or
 * SCRIPT FLUSH. EVALSHA directly: cheaper per call than ioredis' defineCommand wrapper, which
 * showed up in the ingest profile.
 */

export const SCRIPT_NAMES = ['append', 'settle', 'deadletter', 'replay', 'claim', 'leave', 'trim', 'author'] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

interface Script {
  source: string;
  sha: string;
}

let registry: Record<ScriptName, Script> | undefined;

function scripts(): Record<ScriptName, Script> {
  registry ??= Object.fromEntries(
    SCRIPT_NAMES.map((name) => {
      const source = loadLua(import.meta.url, `./lua/${name}.lua`);
      return [name, { source, sha: createHash('sha1').update(source).digest('hex') }];
    }),
  ) as Record<ScriptName, Script>;
  return registry;
}

/** Runs a script of the registry on `redis`. */
export async function runScript<T = unknown>(redis: Redis, name: ScriptName, keys: string[], args: (string | number)[]): Promise<T> {
  const s = scripts()[name];
  try {
    return (await redis.evalsha(s.sha, keys.length, ...keys, ...args)) as T;
  } catch (err) {
    if (!(err instanceof ReplyError) || !(err as Error).message.startsWith('NOSCRIPT')) throw err;
    await redis.script('LOAD', s.source);
    return (await redis.evalsha(s.sha, keys.length, ...keys, ...args)) as T;
  }
}
