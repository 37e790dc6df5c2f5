import { existsSync } from 'node:fs';
import { VERSION } from './package-version.js';
import { join } from 'node:path';
import { RollbackProcessManager } from './policy/rollback-process-manager.js';
import { loadFleetConfig, type FleetConfig } from './config/fleet-config.js';
import { FleetDriver } from './drivers/fleet-driver.js';
import { registerServices } from './application/register-services.js';
import type { TargetDriver } from './drivers/target-driver.js';
import { WebhookDriver } from './drivers/webhook-driver.js';
import { KubernetesDriver } from './drivers/kubernetes-driver.js';
import { STORE_FILE, type ServeConfig } from './config/serve-config.js';
import type { KafkaConfig } from './config/kafka-config.js';
import { ProcessDriver } from './drivers/process-driver.js';
import { connectStore } from './event-store/connect-store.js';
import { describeStore } from './event-store/store-url.js';
import { RequestExpiry } from './execution/request-expiry.js';
import { ServiceReconciler } from './execution/service-reconciler.js';
import { createHttpApp } from './http/http-app.js';
import { startHttpServer } from './http/http-server.js';
import { FailsafeMetrics } from './http/metrics.js';
import { ReadModels } from './api/read-models.js';
import { storeHistory } from './audit/store-history.js';
import { adminToken } from './auth/admin-token.js';
import { RateLimiter } from './auth/rate-limiter.js';
import { TokenRegistry } from './auth/tokens.js';
import type { EventStore } from './event-store/event-store.js';
import { TimedEventStore } from './event-store/timed-event-store.js';
import { EventFeedRelay } from './kafka/event-feed-relay.js';
import { createKafka } from './kafka/kafka-client.js';
import { createMcpEndpoint } from './mcp/mcp-endpoint.js';
import { TelemetryConsumer } from './kafka/telemetry-consumer.js';
import { DrillScheduler } from './drills/drill-scheduler.js';
import { runDrillFile } from './drills/run-drill-file.js';
import { startToxiproxyServer, toxiproxyAnswers, ToxiproxyControl } from './drills/toxiproxy.js';
import { loadPolicy } from './policy/policy-file.js';
import { HealthProber, LOOPBACK } from './probing/health-prober.js';
import { pushingServicesHeard, servicesFedBy } from './config/telemetry-sources.js';
import { TelemetryWatcher } from './policy/telemetry-watcher.js';
import { systemClock } from './runtime/clock.js';
import { ClockTicker } from './runtime/clock-ticker.js';
import { checkpointsFile } from './runtime/checkpoints-file.js';
import { SqliteSnapshotStore } from './runtime/sqlite-snapshot-store.js';
import { SqliteCheckpointStore } from './runtime/sqlite-checkpoint-store.js';

export { STORE_FILE };

/** Counts rollbacks decided or requested from now on, for `mcp_rollbacks_triggered_total`. */
function countRollbacks(store: EventStore, metrics: FailsafeMetrics): () => Promise<void> {
  const subscription = store.subscribe({ after: 'end' });
  const loop = (async () => {
    for await (const event of subscription) {
      if (event.type === 'RollbackDecided')
        metrics.rollbacksTriggered.inc({ reason: String(event.data.rule), mode: String(event.data.mode) });
      else if (event.type === 'RollbackRequested')
        metrics.rollbacksTriggered.inc({ reason: 'manual_request', mode: 'manual' });
    }
  })();
  return async () => {
    await subscription.close();
    await loop;
  };
}

/** The drivers a fleet file asks for, behind one driver; with the stable address of each process-driven service. */
async function fleetDriver(
  fleet: FleetConfig,
  stateDir: string,
  push: PushSettings | undefined,
  log: (line: string) => void,
) {
  const entries = Object.entries(fleet.services);
  const processServices = Object.fromEntries(
    entries.flatMap(([name, s]) =>
      s.driver === 'process' ? [[name, { ...s, push: s.telemetry === 'push' ? push : undefined }]] : [],
    ),
  );
  const processes = await ProcessDriver.start({ services: processServices, stateDir, log });
  const kubernetes = new KubernetesDriver({
    services: Object.fromEntries(entries.flatMap(([name, s]) => (s.driver === 'kubernetes' ? [[name, s]] : []))),
    log,
  });
  const drivers = new Map<string, TargetDriver>(
    entries.map(([name, s]) => [
      name,
      s.driver === 'process'
        ? processes
        : s.driver === 'kubernetes'
          ? kubernetes
          : new WebhookDriver({
              url: s.url,
              secret: process.env[s.secretEnv]!,
              retries: s.retries,
              timeoutMs: s.timeoutSeconds * 1000,
            }),
    ]),
  );
  const driver = new FleetDriver(drivers);
  return Object.assign(driver, {
    addresses: entries.flatMap(([name, s]) =>
      s.driver === 'process'
        ? [[name, processes.address(name)] as const]
        : s.driver === 'kubernetes'
          ? [[name, s.address] as const]
          : [],
    ),
  });
}

type PushSettings = ReturnType<typeof pushSettings>;

/**
 * Where the fleet's pushing services (`telemetry: push`) publish: the serve config's brokers (or
 * pushBrokers) and samples topic, at the fleet's probe interval.
 */
function pushSettings(fleet: FleetConfig, kafka: KafkaConfig) {
  return {
    brokers: kafka.telemetry.pushBrokers ?? kafka.brokers,
    topic: kafka.telemetry.samplesTopic,
    intervalMs: fleet.probe.intervalSeconds * 1000,
    timeoutMs: fleet.probe.timeoutSeconds * 1000,
  };
}

/**
 * The fleet's Toxiproxy: started unless one answers, its proxies created afresh;
 * stopped with Failsafe if started here.
 */
async function fleetToxiproxy(
  config: NonNullable<FleetConfig['toxiproxy']>,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  const url = `http://${config.api}`;
  const started = (await toxiproxyAnswers(url))
    ? undefined
    : await startToxiproxyServer(Number(config.api.split(':')[1]));
  const control = new ToxiproxyControl(url);
  for (const proxy of config.proxies) {
    await control.proxy(proxy.name, proxy.listen, proxy.upstream);
    log(`toxiproxy: ${proxy.name} ${proxy.listen} → ${proxy.upstream}`);
  }
  return async () => {
    await started?.stop();
  };
}

export interface RunningControlPlane {
  readonly url: string;
  /** The event store in use, password masked. */
  readonly store: string;
  /** Where MCP clients connect. */
  readonly mcpUrl: string;
  /** The stable address of each process-driven service of the fleet (`http://127.0.0.1:<port>`). */
  readonly serviceAddresses: Readonly<Record<string, string>>;
  /** A generated first-run admin token, to show once; absent when one already existed or came from the environment. */
  readonly newAdminToken?: string | undefined;
  /** Stops in order: HTTP, the acting parts, the policy, then the store. Fleet instances keep running. */
  stop(): Promise<void>;
}

/**
 * Everything `failsafe serve` runs: the event store, the recorded clock, the rollback policy, and,
 * with a fleet, the driver, the health prober and the reconciler that carries out decisions.
 * Configuration files are read before anything starts, so a bad one changes nothing.
 */
export async function startControlPlane(
  config: ServeConfig,
  log: (line: string) => void,
): Promise<RunningControlPlane> {
  const policy = loadPolicy(config.policyPath);
  const fleet = config.fleetPath ? loadFleetConfig(config.fleetPath) : undefined;
  const pushing = fleet && config.fleetPath ? pushingServicesHeard(fleet, config.fleetPath, config.kafka) : [];
  const push = fleet && pushing.length > 0 && config.kafka ? pushSettings(fleet, config.kafka) : undefined;
  const clock = systemClock;
  const opened = await connectStore(config.store, { clock });
  const stops: (() => Promise<void> | void)[] = [() => opened.close()];
  let readModels: ReadModels | undefined;
  const metrics = new FailsafeMetrics(async () => (readModels ? readModels.lag() : {}));
  const store = new TimedEventStore(opened, metrics.observeAppend);
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop();
  };
  const serviceAddresses: Record<string, string> = {};
  /** Known once HTTP listens: scheduled drills approve manual rollbacks through it. */
  let mcpUrl: string | undefined;
  let releases: FleetDriver | undefined;
  try {
    // Local to each replica whatever the store (see checkpointsFile): a lost file costs a rebuild.
    const checkpoints = new SqliteCheckpointStore(checkpointsFile(config.dataDir, config.store));
    stops.push(() => checkpoints.close());
    // Beside the checkpoints, for the same reasons: the replays of the history (GET /state) start from them.
    const snapshots = new SqliteSnapshotStore(checkpointsFile(config.dataDir, config.store));
    stops.push(() => snapshots.close());
    const policyManager = new RollbackProcessManager(store, policy, checkpoints, { log });
    await policyManager.start();
    stops.push(() => policyManager.stop());
    const ticker = new ClockTicker(store, config.tickSeconds * 1000, clock);
    await ticker.start();
    stops.push(() => ticker.stop());
    const requestExpiryMs = config.requestExpirySeconds * 1000;
    const expiry = new RequestExpiry(store, checkpoints, { maxAgeMs: requestExpiryMs, log });
    await expiry.start();
    stops.push(() => expiry.stop());
    if (fleet) {
      const services = Object.keys(fleet.services);
      const registration = { actor: 'failsafe:fleet', now: clock.now(), source: 'fleet' } as const;
      const registered = await registerServices(store, services, registration);
      if (registered.length > 0) log(`fleet: registered ${registered.join(', ')}`);
      if (fleet.toxiproxy) stops.push(await fleetToxiproxy(fleet.toxiproxy, log));
      const driver = await fleetDriver(fleet, join(config.dataDir, 'fleet'), push, log);
      stops.push(() => driver.close());
      releases = driver;
      // A kubernetes service is probed at its Service or ingress address, which the fleet file names.
      const addressHosts = Object.values(fleet.services).flatMap((s) =>
        s.driver === 'kubernetes' ? [new URL(s.address).hostname.replace(/^\[|\]$/g, '')] : [],
      );
      const prober = new HealthProber(store, driver, {
        services: servicesFedBy(fleet, 'probe'),
        allowedHosts: [...LOOPBACK, ...addressHosts],
        intervalMs: fleet.probe.intervalSeconds * 1000,
        timeoutMs: fleet.probe.timeoutSeconds * 1000,
        log,
        clock,
      });
      await prober.start();
      stops.push(() => prober.stop());
      if (pushing.length > 0 && config.kafka) {
        // Samples of these come from Kafka: when they stop, an incident, never a rollback.
        const settings = { services: pushing, staleAfterSeconds: config.kafka.telemetry.staleAfterSeconds };
        const watcher = new TelemetryWatcher(store, settings, checkpoints, { log });
        await watcher.start();
        stops.push(() => watcher.stop());
        metrics.watchTelemetry(() => watcher.staleness());
        log(`telemetry: ${pushing.join(', ')} push their samples; stale after ${settings.staleAfterSeconds} s`);
      }
      const probeTools = Object.fromEntries(
        Object.entries(fleet.services).flatMap(([name, s]) => (s.probeTool ? [[name, s.probeTool]] : [])),
      );
      const leaseMs = config.executionLeaseSeconds * 1000;
      const reconciler = new ServiceReconciler(store, driver, {
        probeTools,
        requestExpiryMs,
        leaseMs,
        verificationWindowMs: config.verificationWindowSeconds * 1000,
        log,
        clock,
      });
      await reconciler.start();
      stops.push(() => reconciler.stop());
      for (const [service, address] of driver.addresses) {
        serviceAddresses[service] = address;
        log(`fleet: ${service} answers on ${address}`);
      }
      if (config.drillsDir) {
        const drillsDir = config.drillsDir;
        const aborting = new AbortController();
        const scheduler = new DrillScheduler({
          store,
          drillsDir,
          fleet,
          log,
          clock,
          run: async (drill, context, lost) => {
            const toxiproxyUrl = config.toxiproxyUrl ?? (fleet.toxiproxy && `http://${fleet.toxiproxy.api}`);
            const token = process.env.FAILSAFE_APPROVER_TOKEN;
            const approver = token && mcpUrl ? { mcpUrl, token } : undefined;
            const { card, files } = await runDrillFile({
              drillsDir,
              drill,
              store,
              dataDir: config.dataDir,
              addressOf: (s) => serviceAddresses[s],
              log,
              signal: AbortSignal.any([aborting.signal, lost]),
              toxiproxyUrl,
              approver,
              ...context,
            });
            log(`drill ${drill} (${card.runId}): ${card.outcome}; report ${files.html}`);
          },
        });
        await scheduler.start();
        stops.push(() => scheduler.stop());
        stops.push(() => aborting.abort('Failsafe is shutting down'));
        log(`drills: scheduled from ${drillsDir}`);
      }
    }
    // After the fleet's registration: samples of a service not registered go to the dead-letter topic.
    let telemetry: TelemetryConsumer | undefined;
    if (config.kafka?.telemetry.enabled) {
      const count = (topic: string, outcome: string, n: number) =>
        metrics.kafkaTelemetryMessages.inc({ topic, outcome }, n);
      telemetry = new TelemetryConsumer({ kafka: config.kafka, store, log, onMessages: count });
      telemetry.start();
      stops.push(() => telemetry?.stop());
      metrics.watchTelemetryConsumer(() => telemetry!.status());
    }
    readModels = new ReadModels(store, checkpoints);
    await readModels.start();
    stops.push(() => readModels?.stop());
    const models = readModels;
    metrics.watchDrills(() => ({
      history: models.drills.current().state,
      schedules: models.drillSchedules.current().state,
    }));
    metrics.watchRollbacks(() => models.rollbackTimings.current().state);
    metrics.watchServices(() => models.services.current().state);
    stops.push(countRollbacks(store, metrics));
    let eventFeed: EventFeedRelay | undefined;
    if (config.kafka?.feed.enabled) {
      const feed = new EventFeedRelay({
        store,
        kafka: createKafka(config.kafka, log),
        topic: config.kafka.feed.topic,
        checkpoints,
        log,
        onPublished: (events) => metrics.feedPublished.inc(events),
      });
      await feed.start();
      stops.push(() => feed.stop());
      metrics.watchEventFeed(() => feed.report());
      eventFeed = feed;
    }
    const admin = adminToken(config.dataDir, config.adminToken);
    const { drillsDir } = config;
    const drills = drillsDir ? { has: (drill: string) => existsSync(join(drillsDir, `${drill}.yaml`)) } : undefined;
    const deps = {
      store,
      history: storeHistory(opened),
      snapshots,
      readModels,
      policy,
      now: () => clock.now(),
      ...(drills && { drills }),
      ...(releases && { releases }),
    };
    const mcp = createMcpEndpoint(deps, {
      version: VERSION,
      log,
      onToolCall: (tool, status) => metrics.toolRequests.inc({ tool_name: tool, status }),
    });
    stops.push(() => mcp.close());
    const http = createHttpApp({
      deps,
      storeEngine: config.store.kind,
      metrics,
      tokens: new TokenRegistry([admin.entry, ...config.tokens], clock),
      limiter: new RateLimiter(config.rateLimit.perMinute, config.rateLimit.burst),
      mcp,
      mcpPath: config.mcpPath,
      allowedHosts: config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      maxBodyBytes: config.maxBodyBytes,
      readyMaxLagEvents: config.readyMaxLagEvents,
      ...(telemetry && { telemetry: () => telemetry.status() }),
      ...(eventFeed && { eventFeed: () => eventFeed.report() }),
      log,
    });
    const server = await startHttpServer(http.app.fetch, config.host, config.port);
    mcpUrl = `${server.url}${config.mcpPath}`;
    stops.push(() => server.close(config.shutdownGraceSeconds * 1000));
    stops.push(() => http.drain());
    return {
      url: server.url,
      mcpUrl: `${server.url}${config.mcpPath}`,
      store: describeStore(config.store),
      serviceAddresses,
      newAdminToken: admin.printOnce,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
