import { Worker } from 'node:worker_threads';
import { eventTime } from '../../projections/event-time.js';
import { serviceOfStream, serviceOwningStream } from '../domain/streams.js';
import type { StoreLocation } from '../event-store/store-url.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import { compareFindingOrder, findingOrder, type FindingOrder } from '../policy/evaluate-policy.js';
import {
  rollbackDecisionsProjection,
  type PendingDecision,
  type RollbackDecisionsState,
} from '../policy/rollback-decisions.js';
import type { RollbackPolicy } from '../policy/rollback-policy.js';
import { skipping } from './archived-history.js';
import type { History } from './history.js';
import { foldEvent, initialVerification, type VerificationState } from './verification-fold.js';
import { expectDecisions, telemetryDecisionsIn, type DecisionsByCause } from './verify-telemetry-decisions.js';

/**
 * A full verification split by service: each partition reads the whole history and folds the
 * events of its services, plus those every service needs (ticks, migrations); of the others it
 * takes only their time, which moves the recorded time every service is judged at. Each service's
 * state and decisions depend only on its own events and that time (latches, windows, alerts,
 * revisions, telemetry freshness are all per service; a migration's rules judge its own service),
 * so the partitions' results, merged, are the single fold's. Migrations are folded by every
 * partition: their order in the read model orders the findings of one tick. One coupling is
 * global: a tick judges every service while any rule is latched, and a partition sees only its
 * own latches; it judges fewer, but only services whose judgement cannot have changed (the
 * fold's own tick skip), so it decides the same.
 * Assumes, as Failsafe's writers do, that an event on a service's stream names that service.
 */

/** A stable share of the services: the same service always falls in the same one of `count`. */
export function partitionOf(service: string, count: number): number {
  // FNV-1a: the same on every run and machine, unlike anything keyed by memory.
  let hash = 0x811c9dc5;
  for (let i = 0; i < service.length; i += 1) hash = Math.imul(hash ^ service.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % count;
}

export interface Partition {
  readonly index: number;
  readonly count: number;
}

/** Where the fold of a whole history stands once done, for its snapshot. */
export interface FoldInfo {
  position: bigint;
  lastEventId: string;
  eventsFolded: number;
  maxEventTime: number;
  minEventTime: number;
}

/** One partition's fold, as it goes to the merge (from a worker: structured-cloned). */
export interface PartitionResult {
  readonly state: VerificationState;
  /** For each of `state.computed`, where it comes among the decisions of its tipping event. */
  readonly order: FindingOrder[];
  readonly info: FoldInfo;
}

const owner = (partition: Partition) => (service: string) => partitionOf(service, partition.count) === partition.index;

/** The recorded telemetry decisions about the partition's services. */
function ownDecisions(byCause: DecisionsByCause, owns: (service: string) => boolean): DecisionsByCause {
  const own = new Map<string, DecisionsByCause extends ReadonlyMap<string, infer D> ? D : never>();
  for (const [cause, decisions] of byCause) {
    const kept = decisions.filter((d) => owns(d.data.service));
    if (kept.length > 0) own.set(cause, kept);
  }
  return own;
}

/** Whether the partition folds the event, rather than only taking its time. */
function concerns(event: TypedRecordedEvent, owns: (service: string) => boolean, byCause: DecisionsByCause): boolean {
  // The cause of one of its telemetry decisions: the check runs at that event.
  if (byCause.has(event.id)) return true;
  const service = serviceOwningStream(event.stream);
  if (service !== undefined) return owns(service);
  if (event.type === 'ClockTicked' || event.type.startsWith('Migration')) return true;
  const named = (event.data as { service?: unknown }).service;
  return typeof named !== 'string' || owns(named);
}

/** Nothing decided: one empty answer, as the fold's own. */
const NOTHING: readonly never[] = Object.freeze([]);

/** The recorded time the read models judge by, moved on by an event the partition does not fold. */
function passTime(state: VerificationState, time: number): void {
  const { fold, telemetry } = state;
  // What the last event decided, here for the partition's services: nothing.
  fold.decisions = NOTHING;
  fold.escalations = NOTHING;
  fold.health.asOf = Math.max(fold.health.asOf, time);
  fold.migrations.asOf = Math.max(fold.migrations.asOf, time);
  telemetry.freshness.asOf = Math.max(telemetry.freshness.asOf, time);
}

/** Where the decision's finding came in the evaluation that made it. */
function orderOf(policy: RollbackPolicy, fold: RollbackDecisionsState, decision: PendingDecision): FindingOrder {
  const { service, rule, migration, evidenceEventIds } = decision.decided.data;
  // A migration rule's evidence starts with the migration's own event (its newest progress, or last move).
  const first = evidenceEventIds[0];
  const migrationId =
    migration?.migrationId ??
    Object.values(fold.migrations.migrations).find(
      (m) => m.service === service && (m.lastProgressEventId === first || m.lastMovedEventId === first),
    )?.migrationId;
  return findingOrder(policy, fold, { rule, service }, migrationId);
}

type Skip = (stream: string, type: string, id: string) => boolean;

/**
 * Folds the whole history for the partition's services. Reads it twice: for the telemetry
 * decisions (by type, where the store picks them), then to fold it (other services' own streams left
 * undecoded but for their time: read twice by two threads, an event's decode would cost twice).
 */
export async function foldPartition(
  history: History,
  policy: RollbackPolicy,
  partition: Partition,
): Promise<PartitionResult> {
  const owns = owner(partition);
  const byCause = ownDecisions(await telemetryDecisionsIn(history, 0n), owns);
  const projection = rollbackDecisionsProjection(policy);
  const state = initialVerification(projection);
  expectDecisions(state.telemetry, byCause);
  const order: FindingOrder[] = [];
  const info: FoldInfo = {
    position: -1n,
    lastEventId: '',
    eventsFolded: 0,
    maxEventTime: Number.NEGATIVE_INFINITY,
    minEventTime: Number.POSITIVE_INFINITY,
  };
  const otherServices: Skip = (stream, _type, id) => {
    const service = serviceOwningStream(stream);
    return service !== undefined && !owns(service) && !byCause.has(id);
  };
  const read = history.readSkipping?.(0n, otherServices) ?? skipping(history.readDecoded(0n), otherServices);
  for await (const event of read) {
    const time = 'skipped' in event ? event.time : eventTime(event);
    info.position = event.position;
    info.lastEventId = event.id;
    info.eventsFolded += 1;
    info.maxEventTime = Math.max(info.maxEventTime, time);
    info.minEventTime = Math.min(info.minEventTime, time);
    if ('skipped' in event || !concerns(event, owns, byCause)) {
      passTime(state, time);
      continue;
    }
    const before = state.computed.length;
    foldEvent(state, projection, event, byCause, owns);
    if (state.computed.length === before) continue;
    for (const decision of state.fold.decisions)
      if (owns(decision.decided.data.service)) order.push(orderOf(policy, state.fold, decision));
  }
  return { state, order, info };
}

/** Each partition's entries of a record keyed by service (or by what `serviceOf` reads a service from). */
function byOwner<T>(
  results: readonly PartitionResult[],
  record: (state: VerificationState) => Record<string, T>,
  serviceOf: (key: string) => string = (key) => key,
): Record<string, T> {
  const merged: Record<string, T> = {};
  for (const [index, result] of results.entries())
    for (const [key, value] of Object.entries(record(result.state)))
      if (partitionOf(serviceOf(key), results.length) === index) merged[key] = value;
  return merged;
}

const byPosition = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/**
 * The state the single fold would have reached: every service's part from its partition, what
 * every partition folds (time, migrations) from the first, and the decisions in the order one
 * fold makes them (by tipping event, then as one evaluation orders its findings).
 */
export function mergePartitions(results: readonly PartitionResult[], policy: RollbackPolicy): VerificationState {
  const [first, ...rest] = results;
  if (!first) throw new Error('mergePartitions: no partition to merge');
  const count = results.length;
  const computed = results
    .flatMap((r) => r.state.computed.map((decision, i) => ({ decision, order: r.order[i]! })))
    .sort(
      (a, b) =>
        byPosition(a.decision.tippingPosition, b.decision.tippingPosition) || compareFindingOrder(a.order, b.order),
    );
  const owned = (service: string, index: number) => partitionOf(service, count) === index;
  const fold = first.state.fold;
  return {
    fold: {
      services: { services: byOwner(results, (s) => s.fold.services.services) },
      health: { ...fold.health, services: byOwner(results, (s) => s.fold.health.services) },
      migrations: fold.migrations,
      alerts: {
        known: Object.assign({}, ...results.map((r) => r.state.fold.alerts.known)),
        services: byOwner(results, (s) => s.fold.alerts.services),
      },
      latched: byOwner(
        results,
        (s) => s.fold.latched,
        (key) => key.split('|')[0]!,
      ),
      // What the last event decided (reset by the next one): each service's from its partition.
      decisions: results
        .flatMap((r, i) => r.state.fold.decisions.filter((d) => owned(d.decided.data.service, i)))
        .map((d) => ({ d, order: orderOf(policy, fold, d) }))
        .sort((a, b) => compareFindingOrder(a.order, b.order))
        .map(({ d }) => d),
      escalations: results.flatMap((r, i) =>
        r.state.fold.escalations.filter((e) => owned(serviceOfStream(e.stream) ?? '', i)),
      ),
    },
    computed: computed.map((c) => c.decision),
    recorded: results.flatMap((r) => r.state.recorded).sort((a, b) => byPosition(a.position, b.position)),
    recordedNext: Object.assign({}, ...results.map((r) => r.state.recordedNext)),
    telemetry: {
      freshness: {
        ...first.state.telemetry.freshness,
        services: byOwner(results, (s) => s.telemetry.freshness.services),
      },
      staleAfter: byOwner(results, (s) => s.telemetry.staleAfter),
      verdicts: Object.assign({}, first.state.telemetry.verdicts, ...rest.map((r) => r.state.telemetry.verdicts)),
    },
  };
}

/** What a worker needs to fold its partition: where to open the history again, and the policy. */
export interface PartitionWork {
  readonly store: StoreLocation;
  readonly policy: RollbackPolicy;
  readonly partition: Partition;
}

/** Worker code that imports the TypeScript `entry` through tsx's API (resolved here, not in the working folder). */
function tsxLoader(entry: URL, parent: string): string {
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${api}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(parent)}))`;
}

/**
 * Starts the worker of one partition. From the sources (tsx, vitest) the worker loads the
 * TypeScript entry through tsx's API: Node 20 does not pass `--import` loaders on to workers.
 */
function startWorker(work: PartitionWork): { readonly result: Promise<PartitionResult>; readonly worker: Worker } {
  const here = import.meta.url;
  const fromSources = here.endsWith('.ts');
  const entry = new URL(`./verify-split-worker.${fromSources ? 'ts' : 'js'}`, here);
  const worker = fromSources
    ? new Worker(tsxLoader(entry, here), { eval: true, workerData: work })
    : new Worker(entry, { workerData: work });
  const result = new Promise<PartitionResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`verification worker ${work.partition.index} exited (${code})`)));
  });
  return { result, worker };
}

/**
 * Folds the whole history in `threads` partitions, the first in this thread over `history`, the
 * others in workers that open the store at `store` themselves, and merges them.
 */
export async function foldSplit(
  history: History,
  policy: RollbackPolicy,
  store: StoreLocation,
  threads: number,
): Promise<{ state: VerificationState; info: FoldInfo }> {
  const workers = Array.from({ length: threads - 1 }, (_, i) =>
    startWorker({ store, policy, partition: { index: i + 1, count: threads } }),
  );
  try {
    const results = await Promise.all([
      foldPartition(history, policy, { index: 0, count: threads }),
      ...workers.map((w) => w.result),
    ]);
    return { state: mergePartitions(results, policy), info: results[0]!.info };
  } finally {
    await Promise.all(workers.map((w) => w.worker.terminate()));
  }
}
