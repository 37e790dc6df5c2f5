import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where scripts/provision.sh keeps the real tools, per machine and keyed by version. */
export const toolsDir = (env: NodeJS.ProcessEnv = process.env): string =>
  env.FAILSAFE_TOOLS ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'failsafe', 'tools');
