import { resolve } from 'node:path';
import { EventStoreError } from './errors.js';

/**
 * Where an event store lives, as a URL: the one way flags, env and the config file name a store.
 *   sqlite:<path>                      the embedded store (a relative path is from `base`: the working folder,
 *                                      or the config file's folder for a URL written there)
 *   postgres://… or postgresql://…     PostgreSQL (a libpq URL; several hosts allowed for failover)
 *   esdb://… or kurrentdb://…          EventStoreDB / KurrentDB
 */
export type StoreLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | { readonly kind: 'eventstore'; readonly url: string };

/** The text of a store URL with any password masked, for logs and errors. */
const maskPassword = (text: string): string => text.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');

/** A store URL that cannot name a store; says what would (never showing a password). */
export class InvalidStoreUrl extends EventStoreError {
  readonly code = 'INVALID_STORE_URL';
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(
      `InvalidStoreUrl: ${JSON.stringify(maskPassword(url))} ${detail}; ` +
        'use sqlite:<path>, postgres://user@host:port/db, esdb://host:port or kurrentdb://host:port',
    );
  }
}

const SCHEMES: Readonly<Record<string, StoreLocation['kind']>> = {
  'sqlite:': 'sqlite',
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'esdb:': 'eventstore',
  'esdb+discover:': 'eventstore',
  'kurrentdb:': 'eventstore',
  'kurrentdb+discover:': 'eventstore',
};

const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;

export function parseStoreUrl(text: string, base = process.cwd()): StoreLocation {
  if (text.trim() === '') throw new InvalidStoreUrl(text, 'is empty');
  if (text.includes('\0')) throw new InvalidStoreUrl(text, 'contains a NUL character');
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(text)?.[0].toLowerCase();
  const kind = scheme ? SCHEMES[scheme] : undefined;
  if (!scheme || !kind) throw new InvalidStoreUrl(text, scheme ? `has an unknown scheme ${scheme}` : 'has no scheme');
  if (kind === 'sqlite') {
    const path = text.slice(scheme.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new InvalidStoreUrl(text, 'names no file');
    return { kind, path: resolve(base, path) };
  }
  const authority = /^\/\/(?:[^@/?#]*@)?([^/?#]*)/.exec(text.slice(scheme.length))?.[1];
  // Several comma-separated hosts are allowed (failover, gossip seeds), which WHATWG URL refuses.
  const hosts = authority?.split(',') ?? [];
  if (hosts.length === 0 || !hosts.every((host) => HOST.test(host)))
    throw new InvalidStoreUrl(text, 'is not a valid URL (scheme://[user[:password]@]host[:port][,host[:port]…]/…)');
  return { kind, url: text };
}

/** The location with any password masked, for logs and errors. */
export function describeStore(location: StoreLocation): string {
  if (location.kind === 'sqlite') return `sqlite:${location.path}`;
  return maskPassword(location.url);
}
