import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { z } from 'zod';
import { DEFAULT_DATA_DIR, STORE_FILE } from '../config/serve-config.js';
import { connectStore } from '../event-store/connect-store.js';
import type { EventStore } from '../event-store/event-store.js';
import { parseStoreUrl, type StoreLocation } from '../event-store/store-url.js';
import { checkpointsFile } from '../runtime/checkpoints-file.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import { SqliteSnapshotStore } from '../runtime/sqlite-snapshot-store.js';

/** Adds `--data-dir` to a command that uses the data folder. */
export const withDataDir = (command: Command): Command =>
  command.option(
    '--data-dir <dir>',
    `folder of the embedded event store (env FAILSAFE_DATA_DIR, default ${DEFAULT_DATA_DIR})`,
  );

/** Adds `--data-dir` and `--store` to a command that opens the event store. */
export const withStoreOptions = (command: Command): Command =>
  withDataDir(command).option(
    '--store <url>',
    `the event store: sqlite:<path>, postgres://…, esdb://… or kurrentdb://… ` +
      `(env FAILSAFE_STORE, default the embedded store sqlite:<data-dir>/${STORE_FILE})`,
  );

export interface StoreFlags {
  readonly dataDir?: string | undefined;
  readonly store?: string | undefined;
}

const dataDirOf = (flags: StoreFlags): string =>
  resolve(flags.dataDir ?? process.env.FAILSAFE_DATA_DIR ?? DEFAULT_DATA_DIR);

/** `--store`, else FAILSAFE_STORE, else the embedded store of the data folder. */
export function storeLocation(flags: StoreFlags): StoreLocation {
  const url = flags.store || process.env.FAILSAFE_STORE;
  if (url) return parseStoreUrl(url);
  return { kind: 'sqlite', path: join(dataDirOf(flags), STORE_FILE) };
}

/** Runs `work` with the snapshots of the flags' store, kept beside its checkpoints in the data folder. */
export async function withSnapshots<T>(flags: StoreFlags, work: (snapshots: SnapshotStore) => Promise<T>): Promise<T> {
  const snapshots = new SqliteSnapshotStore(checkpointsFile(dataDirOf(flags), storeLocation(flags)));
  try {
    return await work(snapshots);
  } finally {
    await snapshots.close();
  }
}

/** Opens the store the flags name; one clear line if it cannot be used. */
export const openStoreOf = (flags: StoreFlags): Promise<EventStore> => connectStore(storeLocation(flags));

/** Errors Failsafe raises on purpose carry a `code` and a message that says what to do. */
const isExpected = (error: unknown): error is Error =>
  error instanceof Error && 'code' in error && typeof error.code === 'string' && !error.code.startsWith('ERR_');

/** Runs a command's action: expected errors print one clear line and exit 1, anything else its stack. */
export function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      process.stderr.write(
        `failsafe: ${isExpected(error) ? error.message : ((error as Error).stack ?? String(error))}\n`,
      );
      process.exitCode = 1;
    }
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
export const untilSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolveSignal) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveSignal(signal);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

/** Prints one line to standard output. */
export const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** Runs `work` against the store the flags name and closes it whatever happens. */
export async function withStore<T>(flags: StoreFlags, work: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await openStoreOf(flags);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Option parser for a positive whole number; `what` names it in the error. */
export const positiveInteger =
  (what: string) =>
  (value: string): number => {
    if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError(`must be a positive whole number of ${what}`);
    return Number(value);
  };

/** Argument parser for a name the shared schemas check (a service, a release...): refused as the API would. */
export const named =
  (schema: z.ZodType<string>) =>
  (value: string): string => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((i) => i.message).join('; '));
    return parsed.data;
  };
