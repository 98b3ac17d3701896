import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Reads a Lua script shipped next to the module that uses it (copied into dist by the build). */
export function loadLua(moduleUrl: string, relPath: string): string {
  return readFileSync(fileURLToPath(new URL(relPath, moduleUrl)), 'utf8');
}
