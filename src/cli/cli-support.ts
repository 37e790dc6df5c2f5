import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { z } from 'zod';
import { DEFAULT_DATA_DIR, STORE_FILE } from '../config/serve-config.js';
import type { EventStore } from '../event-store/event-store.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';

/** Adds `--data-dir` to a command that opens the embedded store. */
export const withDataDir = (command: Command): Command =>
  command.option(
    '--data-dir <dir>',
    `folder of the embedded event store (env FAILSAFE_DATA_DIR, default ${DEFAULT_DATA_DIR})`,
  );

export const openEmbeddedStore = (dataDir: string | undefined): SqliteEventStore =>
  SqliteEventStore.open({
    path: join(resolve(dataDir ?? process.env.FAILSAFE_DATA_DIR ?? DEFAULT_DATA_DIR), STORE_FILE),
  });

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

/** Runs `work` against the embedded store and closes it whatever happens. */
export async function withStore<T>(
  dataDir: string | undefined,
  work: (store: SqliteEventStore) => Promise<T>,
): Promise<T> {
  const store = openEmbeddedStore(dataDir);
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
