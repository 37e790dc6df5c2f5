/**
 * What `failsafe serve` sees in Failsafe's image (compose/Dockerfile), for the tests of what runs it
 * (compose/compose.yaml, kubernetes/failsafe.yaml): the image's ENV, the entrypoint's additions from
 * the secrets it finds, and which variables serve actually reads.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadServeConfig, type ServeConfig } from '../config/serve-config.js';
import { toolsDir } from '../tools/tools-dir.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const DOCKERFILE = join(root, 'compose', 'Dockerfile');
const ENTRYPOINT = join(root, 'compose', 'failsafe-entrypoint.sh');

export interface DockerStage {
  readonly from: string;
  readonly instructions: { op: string; args: string }[];
}

/** A Dockerfile's instructions per stage, continuation lines joined, comments dropped. */
export function dockerStages(text: string = readFileSync(DOCKERFILE, 'utf8')): DockerStage[] {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op!.toUpperCase() === 'FROM') stages.push({ from: args, instructions: [] });
    else stages.at(-1)?.instructions.push({ op: op!.toUpperCase(), args });
  }
  return stages;
}

/** The ENV of the image's runtime stage. */
export function imageEnv(): Record<string, string> {
  return Object.fromEntries(
    dockerStages()
      .at(-1)!
      .instructions.filter((i) => i.op === 'ENV')
      .flatMap((i) => [...i.args.matchAll(/([A-Z_]+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])),
  );
}

/**
 * What the image's entrypoint adds to the environment (FAILSAFE_ADMIN_TOKEN, FAILSAFE_CONFIG) from
 * the secret files in `secretsDir` (its /run/secrets), given the environment `env`.
 */
export function entrypointEnv(
  secretsDir: string,
  generatedConfig: string,
  env: Record<string, string> = {},
): Record<string, string> {
  const shown = execFileSync(ENTRYPOINT, ['env'], {
    env: { PATH: process.env.PATH, ...env, SECRETS_DIR: secretsDir, GENERATED_CONFIG: generatedConfig },
    encoding: 'utf8',
  });
  return Object.fromEntries(
    shown
      .split('\n')
      .filter((line) => /^(FAILSAFE_ADMIN_TOKEN|FAILSAFE_CONFIG)=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * The configuration `serve` loads from `given`, and the variables of `given` it never reads (a
 * misspelt or obsolete name would be silently ignored otherwise). NODE_ENV is Node's own.
 */
export function readByServe(given: Record<string, string | undefined>): { config: ServeConfig; unread: string[] } {
  const asked = new Set<string>();
  const env = new Proxy(given, {
    get: (target, name: string) => {
      asked.add(name);
      return target[name];
    },
  });
  const config = loadServeConfig({}, env);
  toolsDir(env);
  return { config, unread: Object.keys(given).filter((name) => !asked.has(name) && name !== 'NODE_ENV') };
}
