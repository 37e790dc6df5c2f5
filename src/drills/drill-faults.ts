import type { EventData } from '../events/catalogue.js';
import type { Drill, DrillFault } from './drill-file.js';
import type { DrillTarget } from './drill-target.js';
import type { ToxiproxyControl } from './toxiproxy.js';

/** What an injected fault was, as DrillFaultInjected records it, and a line for the log. */
export interface InjectedFault {
  readonly fault: EventData<'DrillFaultInjected'>['fault'];
  readonly line: string;
}

/** The one port a drill's faults go through, whatever they are: a toxic, a bad release, a stalled migration. */
export interface FaultPort {
  readonly name: string;
  /** When to inject it, and (for a toxic) to heal it, from the start of the fault phase. */
  readonly at: number;
  readonly until?: number | undefined;
  inject(): Promise<InjectedFault>;
  /** Takes the fault away while the drill goes on: false when it is not in place or cannot be taken away. */
  heal(): Promise<boolean>;
  /** After the drill: nothing of the fault is left (what it did, for the log). */
  close(): Promise<string | undefined>;
}

export interface FaultContext {
  readonly drill: Drill;
  readonly runId: string;
  readonly toxiproxy: ToxiproxyControl;
  readonly target: DrillTarget;
  /** The drill's own proxy, between its load and the service. */
  readonly proxyName: string;
  /** The migration a migration_stall fault creates: one per run. */
  readonly migrationId: string;
}

/** Toxics carry this prefix, so that the next drill can find what a crashed one left on the fleet's proxies. */
export const TOXIC_PREFIX = 'drill-';

function toxicFault(fault: Extract<DrillFault, { kind: 'toxic' }>, context: FaultContext): FaultPort {
  const proxy = fault.proxy ?? context.proxyName;
  let active = false;
  const heal = async () => {
    if (!active) return false;
    active = false;
    await context.toxiproxy.removeToxic(proxy, `${TOXIC_PREFIX}${fault.name}`);
    return true;
  };
  return {
    name: fault.name,
    at: fault.at,
    until: fault.until,
    async inject() {
      const { type, attributes } = fault.toxic;
      const spec = { stream: fault.stream, toxicity: fault.toxicity, type, attributes };
      await context.toxiproxy.addToxic(proxy, { name: `${TOXIC_PREFIX}${fault.name}`, ...spec });
      active = true;
      return {
        fault: { kind: 'toxic', name: fault.name, toxicType: type, attributes },
        line: `fault ${fault.name}: ${type} ${JSON.stringify(attributes)} injected on ${proxy}`,
      };
    },
    heal,
    close: async () => ((await heal()) ? `toxic ${fault.name} removed` : undefined),
  };
}

function migrationStallFault(fault: Extract<DrillFault, { kind: 'migration_stall' }>, c: FaultContext): FaultPort {
  const { migrationId, target } = c;
  let started = false;
  return {
    name: fault.name,
    at: fault.at,
    async inject() {
      const [first, second] = fault.stages as [string, string];
      const { service } = target;
      const name = `drill ${c.drill.drill}`;
      await target.migrate(migrationId, {
        type: 'StartMigration',
        migrationId,
        service,
        name,
        stages: fault.stages,
        initialStage: first,
      });
      started = true;
      await target.migrate(migrationId, { type: 'AdvanceMigrationStage', migrationId, toStage: second });
      await target.migrate(migrationId, { type: 'RecordMigrationProgress', migrationId, progress: 0.4, errorRate: 0 });
      return {
        fault: { kind: 'migration', name: fault.name, attributes: { migrationId, stages: fault.stages } },
        line: `fault ${fault.name}: migration ${migrationId} started, moved to ${second}, then left stalled`,
      };
    },
    heal: async () => false,
    // The drill's own migration is closed, or its stall would be found again after the drill.
    async close() {
      if (!started) return undefined;
      const migration = await target.migration(migrationId);
      const stages = migration.stages ?? [];
      for (const stage of stages.slice(stages.indexOf(migration.stage ?? stages[0]!) + 1))
        await target.migrate(migrationId, { type: 'AdvanceMigrationStage', migrationId, toStage: stage });
      if (migration.status !== 'completed')
        await target.migrate(migrationId, { type: 'CompleteMigration', migrationId });
      return `migration ${migrationId} closed`;
    },
  };
}

function badReleaseFault(fault: Extract<DrillFault, { kind: 'release' }>, context: FaultContext): FaultPort {
  return {
    name: fault.name,
    at: fault.at,
    async inject() {
      await context.target.requestDeployment(fault.release, `drill ${context.drill.drill} fault ${fault.name}`);
      return {
        fault: { kind: 'release', name: fault.name, attributes: { release: fault.release } },
        line: `fault ${fault.name}: deploying the bad release ${fault.release}`,
      };
    },
    heal: async () => false,
    // The release is taken away by restoring the target's release at cleanup.
    close: async () => undefined,
  };
}

export function faultPort(fault: DrillFault, context: FaultContext): FaultPort {
  if (fault.kind === 'toxic') return toxicFault(fault, context);
  if (fault.kind === 'migration_stall') return migrationStallFault(fault, context);
  return badReleaseFault(fault, context);
}
