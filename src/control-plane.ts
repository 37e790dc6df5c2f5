import { join } from 'node:path';
import { RollbackProcessManager } from '../projections/rollback-process-manager.js';
import { loadFleetConfig, type FleetConfig } from './config/fleet-config.js';
import { FleetDriver } from './drivers/fleet-driver.js';
import type { TargetDriver } from './drivers/target-driver.js';
import { WebhookDriver } from './drivers/webhook-driver.js';
import type { ServeConfig } from './config/serve-config.js';
import { ProcessDriver } from './drivers/process-driver.js';
import { SqliteEventStore } from './event-store/sqlite-event-store.js';
import { ServiceReconciler } from './execution/service-reconciler.js';
import { createHttpApp } from './http/http-app.js';
import { startHttpServer } from './http/http-server.js';
import { loadPolicy } from './policy/policy-file.js';
import { HealthProber } from './probing/health-prober.js';
import { ClockTicker } from './runtime/clock-ticker.js';
import { SqliteCheckpointStore } from './runtime/sqlite-checkpoint-store.js';

export const STORE_FILE = 'failsafe.db';

/** The drivers a fleet file asks for, behind one driver; with the stable address of each process-driven service. */
async function fleetDriver(fleet: FleetConfig, stateDir: string, log: (line: string) => void) {
  const entries = Object.entries(fleet.services);
  const processServices = Object.fromEntries(entries.flatMap(([name, s]) => (s.driver === 'process' ? [[name, s]] : [])));
  const processes = await ProcessDriver.start({ services: processServices, stateDir, log });
  const drivers = new Map<string, TargetDriver>(
    entries.map(([name, s]) => [
      name,
      s.driver === 'process' ? processes : new WebhookDriver({ url: s.url, secret: process.env[s.secretEnv]!, retries: s.retries, timeoutMs: s.timeoutSeconds * 1000 }),
    ]),
  );
  const driver = new FleetDriver(drivers);
  return Object.assign(driver, { addresses: Object.keys(processServices).map((name) => [name, processes.address(name)] as const) });
}

export interface RunningControlPlane {
  readonly url: string;
  readonly storePath: string;
  /** Stops in order: HTTP, the acting parts, the policy, then the store. Fleet instances keep running. */
  stop(): Promise<void>;
}

/**
 * Everything `failsafe serve` runs: the event store, the recorded clock, the rollback policy, and,
 * with a fleet, the driver, the health prober and the reconciler that carries out decisions.
 * Configuration files are read before anything starts, so a bad one changes nothing.
 */
export async function startControlPlane(config: ServeConfig, log: (line: string) => void): Promise<RunningControlPlane> {
  const policy = loadPolicy(config.policyPath);
  const fleet = config.fleetPath ? loadFleetConfig(config.fleetPath) : undefined;
  const storePath = join(config.dataDir, STORE_FILE);
  const store = SqliteEventStore.open({ path: storePath });
  const stops: (() => Promise<void> | void)[] = [() => store.close()];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  try {
    // The fold is deterministic, so replicas sharing the data folder may share checkpoints too.
    const checkpoints = new SqliteCheckpointStore(join(config.dataDir, 'checkpoints.db'));
    stops.push(() => checkpoints.close());
    const policyManager = new RollbackProcessManager(store, policy, checkpoints, { log });
    await policyManager.start();
    stops.push(() => policyManager.stop());
    const ticker = new ClockTicker(store, config.tickSeconds * 1000);
    await ticker.start();
    stops.push(() => ticker.stop());
    if (fleet) {
      const driver = await fleetDriver(fleet, join(config.dataDir, 'fleet'), log);
      stops.push(() => driver.close());
      const services = Object.keys(fleet.services);
      const prober = new HealthProber(store, driver, { services, intervalMs: fleet.probe.intervalSeconds * 1000, timeoutMs: fleet.probe.timeoutSeconds * 1000, log });
      await prober.start();
      stops.push(() => prober.stop());
      const reconciler = new ServiceReconciler(store, driver, { log });
      await reconciler.start();
      stops.push(() => reconciler.stop());
      for (const [service, address] of driver.addresses) log(`fleet: ${service} answers on ${address}`);
    }
    const server = await startHttpServer(createHttpApp({ store, storeEngine: 'sqlite' }), config.host, config.port);
    stops.push(() => server.close());
    return { url: server.url, storePath, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
