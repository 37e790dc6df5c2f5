import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadServeConfig } from '../config/serve-config.js';
import { startControlPlane, STORE_FILE, type RunningControlPlane } from '../control-plane.js';
import { ProcessDriver } from '../drivers/process-driver.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { loadDrill, type Drill } from './drill-file.js';
import type { McpApprover } from './drill-mcp-client.js';
import { K6_VERSION } from './k6.js';
import { freePort, TOXIPROXY_VERSION, ToxiproxyControl } from './toxiproxy.js';
import { toolsDir } from '../tools/tools-dir.js';

const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));
const seedsPolicy = fileURLToPath(new URL('../../projections/rollback-policy.yaml', import.meta.url));
export const drillsDir = fileURLToPath(new URL('../../drills/', import.meta.url));

/**
 * The real k6 and Toxiproxy the drills run that are not provisioned: the drill tests skip without
 * them, except in CI, where a missing tool fails the run.
 */
export function missingDrillTools(): string[] {
  const missing = [
    join(toolsDir(), `k6-${K6_VERSION}`, 'k6'),
    join(toolsDir(), `toxiproxy-server-${TOXIPROXY_VERSION}`, 'toxiproxy-server'),
  ].filter((tool) => !existsSync(tool));
  if (missing.length > 0 && process.env.CI === 'true')
    throw new Error(
      `the drills need the real k6 and Toxiproxy: ${missing.join(', ')} missing; run scripts/provision.sh`,
    );
  return missing;
}

/**
 * A shipped drill, shortened for CI: less baseline and verification load, and no fault or load
 * phase longer than `maxMs` (the bench's policy counts 12 s of failing health checks, not 5 min).
 */
export const short = (name: string, maxMs = 40_000): Drill => {
  const drill = loadDrill(`${drillsDir}${name}.yaml`);
  const cap = (ms: number) => Math.min(ms, maxMs);
  return {
    ...drill,
    load: { ...drill.load, before: 3000, after: 5000, during: cap(drill.load.during) },
    faults: drill.faults.map((f) => (f.kind === 'toxic' && f.until !== undefined ? { ...f, until: cap(f.until) } : f)),
    expectations: drill.expectations.map((e) =>
      'within' in e ? { ...e, within: cap(e.within) } : 'during' in e ? { ...e, during: cap(e.during) } : e,
    ),
  };
};

export interface DrillBench {
  readonly plane: RunningControlPlane;
  /** A second connection to the control plane's store, as `failsafe drill run` opens it. */
  readonly store: SqliteEventStore;
  readonly toxiproxy: ToxiproxyControl;
  readonly targetAddress: string;
  /** An approver's token on the control plane's MCP endpoint, for drills that approve through it. */
  readonly approver: McpApprover;
  readonly dataDir: string;
  readonly fleetPath: string;
  readonly log: string[];
  /** Stops serving and the fleet, and removes the bench's folder (data, fleet file, policy). */
  stop(): Promise<void>;
}

export interface DrillBenchOptions {
  /**
   * `short` (the default): the seeds' policy except that health checks failing for 12 s (not 5 min)
   * roll back, 10 s without migration progress is a stall (not 1 h) and a circuit breaker open for
   * 10 s (not 1 min) disables its tool: the short version of the drills. `off`: a policy without
   * rules, so that Failsafe decides nothing (every drill must then fail).
   */
  readonly policy?: 'short' | 'off';
}

/** The seeds' policy shortened for CI (see DrillBenchOptions), or none at all. */
const policyText = (policy: 'short' | 'off'): string =>
  policy === 'off'
    ? 'version: 1\nrules: {}\n'
    : readFileSync(seedsPolicy, 'utf8')
        .replace(/(when: health_failing_for\n\s+threshold:) 300/, '$1 12')
        .replace(/(when: migration_stalled_for\n\s+threshold:) 3600/, '$1 10')
        .replace(/(when: circuit_breaker_open_for\n\s+threshold:) 60/, '$1 10');

/** The free ports a drill fleet file was written with. */
export interface DrillFleetPorts {
  readonly service: number;
  readonly inventory: number;
  /** Toxiproxy's proxy between the sample service and inventory. */
  readonly link: number;
  /** Toxiproxy's API. */
  readonly api: number;
}

/**
 * drills/sample-fleet/drill-fleet.yaml's shape on free ports, written to `path`: the sample service
 * probed every second, calling inventory through Toxiproxy (or, in v1.0.0, its replica directly).
 * `sample` adds lines to the sample service's entry, `proxies` to Toxiproxy's (e.g. a pushing sample
 * behind a proxy to Kafka).
 */
export async function writeDrillFleet(
  path: string,
  extra: { readonly sample?: readonly string[]; readonly proxies?: readonly string[] } = {},
): Promise<DrillFleetPorts> {
  const [service, inventory, link, api] = [await freePort(), await freePort(), await freePort(), await freePort()];
  writeFileSync(
    path,
    [
      'services:',
      '  inventory:',
      '    driver: process',
      `    releasesDir: ${releasesDir}`,
      `    port: ${inventory}`,
      '    probeTool: time',
      '  sample:',
      '    driver: process',
      `    releasesDir: ${releasesDir}`,
      `    port: ${service}`,
      '    probeTool: time',
      ...(extra.sample ?? []),
      '    env:',
      `      SAMPLE_DEPENDENCY_URL: "http://127.0.0.1:${link}"`,
      `      SAMPLE_DEPENDENCY_REPLICA_URL: "http://127.0.0.1:${inventory}"`,
      'toxiproxy:',
      `  api: 127.0.0.1:${api}`,
      '  proxies:',
      `    - { name: sample-to-inventory, listen: "127.0.0.1:${link}", upstream: "127.0.0.1:${inventory}" }`,
      ...(extra.proxies ?? []),
      'probe:',
      '  intervalSeconds: 1',
      '  timeoutSeconds: 3',
    ].join('\n'),
  );
  return { service, inventory, link, api };
}

/**
 * The real thing on loopback, shaped like drills/sample-fleet/drill-fleet.yaml on free ports:
 * `failsafe serve --fleet` with the sample service probed every second, calling inventory through
 * Toxiproxy (started by serve) or, in v1.0.0, directly (its replica), under the short policy or none.
 */
export async function startDrillBench(options: DrillBenchOptions = {}): Promise<DrillBench> {
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-drill-'));
  const fleet = join(dir, 'fleet.yaml');
  const { api } = await writeDrillFleet(fleet);
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, policyText(options.policy ?? 'short'));
  const dataDir = join(dir, 'data');
  const log: string[] = [];
  const approverToken = newToken();
  const config = loadServeConfig({ dataDir, port: '0', fleet, policy, tickSeconds: '1' }, {});
  const tokens = [{ name: 'drill-approver', role: 'approver' as const, sha256: hashToken(approverToken) }];
  const plane = await startControlPlane({ ...config, tokens }, (line) => log.push(line));
  const store = SqliteEventStore.open({ path: join(dataDir, STORE_FILE) });
  return {
    plane,
    store,
    toxiproxy: new ToxiproxyControl(`http://127.0.0.1:${api}`),
    targetAddress: plane.serviceAddresses.sample!,
    approver: { mcpUrl: plane.mcpUrl, token: approverToken },
    dataDir,
    fleetPath: fleet,
    log,
    async stop() {
      await store.close();
      await plane.stop();
      // The fleet outlives Failsafe by design: a test ends it for good.
      await ProcessDriver.stopAllRecorded(join(dataDir, 'fleet'));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
