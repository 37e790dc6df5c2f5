import type { z } from 'zod';
import type { History } from '../audit/history.js';
import type { Permission, Principal } from '../auth/roles.js';
import type { EventStore } from '../event-store/event-store.js';
import type { RollbackPolicy } from '../policy/rollback-policy.js';
import type { SnapshotStore } from '../runtime/snapshot-store.js';
import type { ReadModels } from './read-models.js';

/** What every operation may use: the store, the live read models and the policy. */
export interface ApiDependencies {
  readonly store: EventStore;
  /** The store and its archive: what audits replay. */
  readonly history: History;
  /** Where replays of the history start from and save their snapshots; absent: every replay folds from zero. */
  readonly snapshots?: SnapshotStore;
  readonly readModels: ReadModels;
  readonly policy: RollbackPolicy;
  readonly now: () => Date;
  /** The drills `serve --drills` can run; absent without a drills folder. */
  readonly drills?: { has(drill: string): boolean };
  /** What the fleet's drivers can tell of a release: false when it does not exist, undefined when they cannot tell. */
  readonly releases?: { hasRelease(service: string, release: string): Promise<boolean | undefined> };
}

export interface OperationContext {
  readonly principal: Principal;
}

/**
 * One thing Failsafe can be asked to do, described once: REST routes, MCP tools and the OpenAPI
 * document are all generated from these, so the same schema validates and the same permission
 * guards an action whichever door it comes through.
 */
export interface Operation<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  /** The MCP tool name. */
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly permission: Permission;
  readonly input: I;
  readonly output: O;
  /** The REST route; `{name}` segments are taken from the input. */
  readonly http: { readonly method: 'GET' | 'POST'; readonly path: string };
  run(deps: ApiDependencies, input: z.infer<I>, context: OperationContext): Promise<z.infer<O>>;
}

export const defineOperation = <I extends z.ZodObject, O extends z.ZodObject>(operation: Operation<I, O>): Operation =>
  operation as unknown as Operation;

/** Names of a route's `{param}` segments. */
export const pathParams = (path: string): string[] => [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
