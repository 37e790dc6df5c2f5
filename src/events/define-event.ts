import type { z } from 'zod';

/** Turns data stored at one schema version into the next version's shape. */
export type Upcaster = (data: unknown) => unknown;

export interface EventDefinition<T extends string = string, S extends z.ZodType = z.ZodType> {
  readonly type: T;
  /** Current schema version: 1 plus the number of upcasters. */
  readonly version: number;
  readonly schema: S;
  /** `upcasters[v - 1]` lifts data stored at version `v` to `v + 1`. */
  readonly upcasters: readonly Upcaster[];
}

/**
 * One event type of the catalogue. Changing a schema incompatibly means adding an upcaster from
 * the previous shape, never editing stored events: history is immutable.
 */
export const defineEvent = <T extends string, S extends z.ZodType>(
  type: T,
  schema: S,
  upcasters: readonly Upcaster[] = [],
): EventDefinition<T, S> => ({ type, version: upcasters.length + 1, schema, upcasters });
