import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';

/** What `failsafe login` keeps: one server and the token it accepted. */
export const credentialsSchema = z.object({ url: z.url(), token: z.string().min(1) });
export type Credentials = z.infer<typeof credentialsSchema>;

/** `$XDG_CONFIG_HOME/failsafe/credentials.json`, or `~/.config/failsafe/credentials.json`. */
export const credentialsPath = (env: NodeJS.ProcessEnv = process.env): string =>
  join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'failsafe', 'credentials.json');

export class InvalidCredentialsFile extends Error {
  readonly code = 'INVALID_CREDENTIALS_FILE';
  constructor(path: string, problem: string) {
    super(`InvalidCredentialsFile: ${path} ${problem}; run \`failsafe login\` again (\`failsafe logout\` removes it)`);
    this.name = 'InvalidCredentialsFile';
  }
}

export function readCredentials(path = credentialsPath()): Credentials | undefined {
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new InvalidCredentialsFile(path, 'is not JSON');
  }
  const parsed = credentialsSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidCredentialsFile(path, 'is not { "url": ..., "token": ... }');
  return parsed.data;
}

/** Only the user may read the token: the folder is 0700 and the file 0600, whatever they were before. */
export function writeCredentials(credentials: Credentials, path = credentialsPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (existsSync(path)) chmodSync(path, 0o600);
  writeFileSync(path, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the file; false when there was none. */
export function removeCredentials(path = credentialsPath()): boolean {
  if (!existsSync(path)) return false;
  rmSync(path);
  return true;
}
