import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadServeConfig } from '../config/serve-config.js';
import { startControlPlane, STORE_FILE, type RunningControlPlane } from '../control-plane.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { startToxiproxyServer, ToxiproxyControl, type RunningToxiproxy } from './toxiproxy.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));
export const drillsDir = fileURLToPath(new URL('../../drills/', import.meta.url));

export interface DrillBench {
  readonly plane: RunningControlPlane;
  /** A second connection to the control plane's store, as `failsafe drill run` opens it. */
  readonly store: SqliteEventStore;
  readonly toxiproxy: ToxiproxyControl;
  readonly targetAddress: string;
  readonly log: string[];
  stop(): Promise<void>;
}

/**
 * The real thing on loopback: `failsafe serve --fleet` with the sample fleet (probed every second),
 * and a Toxiproxy server, for drills to run against.
 */
export async function startDrillBench(): Promise<DrillBench> {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-drill-'));
  const fleet = join(dir, 'fleet.yaml');
  writeFileSync(fleet, `services:\n  sample:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: 0\nprobe:\n  intervalSeconds: 1\n  timeoutSeconds: 2\n`);
  const log: string[] = [];
  const toxi: RunningToxiproxy = await startToxiproxyServer();
  const plane = await startControlPlane(loadServeConfig({ dataDir: join(dir, 'data'), port: '0', fleet, tickSeconds: '1' }, {}), (line) => log.push(line));
  const store = SqliteEventStore.open({ path: join(dir, 'data', STORE_FILE) });
  return {
    plane,
    store,
    toxiproxy: new ToxiproxyControl(toxi.url),
    targetAddress: plane.serviceAddresses.sample!,
    log,
    async stop() {
      await store.close();
      await plane.stop();
      await toxi.stop();
    },
  };
}
