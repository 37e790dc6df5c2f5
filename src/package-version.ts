import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Failsafe's package.json, found walking up from this file: above src/, or above dist/src/ in the build. */
function packageJsonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'package.json');
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}: is this a Failsafe checkout or install?`);
  }
}

export const VERSION = (JSON.parse(readFileSync(packageJsonPath(), 'utf8')) as { version: string }).version;
