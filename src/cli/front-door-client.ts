import type { z } from 'zod';
import { pathParams, type Operation } from '../api/operation.js';
import { operations } from '../api/operations.js';
import { readCredentials } from './credentials.js';

/** Where `failsafe serve` listens by default. */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

const LOGIN_HINT = 'run `failsafe login` or set FAILSAFE_TOKEN';

/** No token for this server: nothing was sent. */
export class NotLoggedIn extends Error {
  readonly code = 'NOT_LOGGED_IN';
  constructor(url: string, storedFor: string | undefined) {
    const stored = storedFor ? ` (the saved credentials are for ${storedFor})` : '';
    super(`NotLoggedIn: no token for ${url}${stored}; ${LOGIN_HINT}`);
    this.name = 'NotLoggedIn';
  }
}

/** Nothing answered at the server's address. */
export class ServerUnreachable extends Error {
  readonly code = 'SERVER_UNREACHABLE';
  constructor(url: string, cause: string) {
    const hint = `is \`failsafe serve\` running at ${url}? (--url or FAILSAFE_URL name another)`;
    super(`ServerUnreachable: ${url} does not answer (${cause}); ${hint}`);
    this.name = 'ServerUnreachable';
  }
}

/** The server refused or failed the request; its message says why, ours what to do about a missing login. */
export class FrontDoorError extends Error {
  readonly code = 'FRONT_DOOR_ERROR';
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    const named = message.startsWith(`${error}:`) ? message : `${error}: ${message}`;
    const hint = status === 401 ? `; ${LOGIN_HINT}` : '';
    super(`${named}${hint}${problems.map((p) => `\n  - ${p}`).join('')}`);
    this.name = error;
  }
}

/** Input refused before anything was sent: the operation's own schema said no. */
export class InvalidInput extends Error {
  readonly code = 'INVALID_INPUT';
  constructor(operation: string, problems: readonly string[]) {
    super(`InvalidInput: ${operation}: ${problems.join('; ')}`);
    this.name = 'InvalidInput';
  }
}

export class UnknownOperation extends Error {
  readonly code = 'UNKNOWN_OPERATION';
  constructor(name: string) {
    super(`UnknownOperation: "${name}"; the operations are ${operations.map((o) => o.name).join(', ')}`);
    this.name = 'UnknownOperation';
  }
}

export const operationNamed = (name: string): Operation => {
  const operation = operations.find((o) => o.name === name);
  if (!operation) throw new UnknownOperation(name);
  return operation;
};

const problemsOf = (error: z.ZodError) =>
  error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`);
const queryValue = (value: unknown) => (Array.isArray(value) ? value.join(',') : String(value));

/**
 * The CLI's way in: calls an operation of src/api/operations.ts by its REST route, with a bearer
 * token, so roles and the second-identity rule apply as they do for any caller.
 */
export class FrontDoorClient {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  /** Runs an operation: its input checked by its own schema first, its result checked by its output schema. */
  async call(name: string, input: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const operation = operationNamed(name);
    const checked = operation.input.safeParse(input);
    if (!checked.success) throw new InvalidInput(name, problemsOf(checked.error));
    const rest = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
    const { method, path: route } = operation.http;
    const path = route.replace(/\{(\w+)\}/g, (_match, param: string) => encodeURIComponent(String(rest[param])));
    for (const param of pathParams(route)) delete rest[param];
    const target = new URL(`${this.url}/api/v1${path}`);
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
    let body: string | undefined;
    const query = target.searchParams;
    if (method === 'GET') for (const [key, value] of Object.entries(rest)) query.set(key, queryValue(value));
    else [body, headers['Content-Type']] = [JSON.stringify(rest), 'application/json'];
    const answer = await this.send(target, { method, headers, body });
    const result = operation.output.safeParse(answer);
    if (result.success) return result.data;
    const skew = `${this.url} answered ${name} in a shape this CLI does not know (a different version?)`;
    throw new FrontDoorError(200, 'UnexpectedResponse', skew, problemsOf(result.error));
  }

  private async send(target: URL, init: RequestInit): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(target, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerUnreachable(this.url, cause?.code ?? cause?.message ?? (error as Error).message);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.ok && body !== undefined) return body;
    const { error, message, problems } = (body ?? {}) as { error?: string; message?: string; problems?: string[] };
    const said = message ?? (text.slice(0, 200) || response.statusText);
    throw new FrontDoorError(response.status, error ?? `HTTP ${response.status}`, said, problems);
  }
}

/** `--url` (or FAILSAFE_URL), given to every command that talks to the server. */
export interface ServerFlags {
  readonly url?: string;
}

/**
 * The server and token to use: --url, then FAILSAFE_URL, then the saved login, then the default;
 * FAILSAFE_TOKEN, else the saved token, sent only to the server it was saved for.
 */
export function connect(flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): FrontDoorClient {
  const saved = readCredentials();
  const url = serverUrl(flags, env);
  const token = env.FAILSAFE_TOKEN || (saved && normaliseUrl(saved.url) === url ? saved.token : undefined);
  if (!token) throw new NotLoggedIn(url, saved?.url);
  return new FrontDoorClient(url, token);
}

/** The server's address: --url, then FAILSAFE_URL, then the saved login's, then the default. */
export const serverUrl = (flags: ServerFlags, env: NodeJS.ProcessEnv = process.env): string =>
  normaliseUrl(flags.url ?? (env.FAILSAFE_URL || readCredentials()?.url || DEFAULT_URL));

export class InvalidUrl extends Error {
  readonly code = 'INVALID_URL';
  constructor(value: string) {
    super(`InvalidUrl: "${value}" is not a server address; give one like ${DEFAULT_URL}`);
    this.name = 'InvalidUrl';
  }
}

/** An http(s) origin with an optional path, without the trailing slash. */
export function normaliseUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidUrl(value);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidUrl(value);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
