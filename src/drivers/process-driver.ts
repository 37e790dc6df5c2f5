import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { identifier } from '../events/common-schemas.js';
import { expand, readReleaseDescriptor, RELEASE_FILE, type ReleaseDescriptor } from './release-descriptor.js';
import {
  noFeatureFlags,
  ReleaseNotFound,
  ReleaseNotReady,
  UnknownService,
  UnsafeName,
  type FeatureFlags,
  type Instance,
  type TargetDriver,
} from './target-driver.js';
import { HttpForwarder } from './http-forwarder.js';
import { pushTelemetryEnv, type PushTelemetrySettings } from '../config/push-telemetry-env.js';
import { systemClock, type Clock } from '../runtime/clock.js';

export interface ProcessServiceConfig {
  /** Folder holding one sub-folder per release, each with its `release.yaml`. */
  readonly releasesDir: string;
  /** The service's stable address on loopback; 0 picks a free port. */
  readonly port: number;
  /**
   * Environment for every release of the service (the fleet's, e.g. where its dependencies are);
   * a release's own env wins.
   */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** A service that publishes its own health samples (`telemetry: push`): where, and how often. */
  readonly push?: Omit<PushTelemetrySettings, 'service'> | undefined;
  /**
   * Keep the release a deployment replaced running, idle, until the next deployment: rolling back to
   * it is then a switch of the address, not a start. Default true; one idle process a service.
   */
  readonly warmStandby?: boolean | undefined;
}

export interface ProcessDriverOptions {
  readonly services: Readonly<Record<string, ProcessServiceConfig>>;
  /** Where the supervisor keeps its state, config snapshots (backups/) and instance logs (logs/). */
  readonly stateDir: string;
  readonly log?: (line: string) => void;
  readonly clock?: Clock;
}

interface Running {
  readonly instance: Instance;
  readonly pid: number;
  readonly port: number;
  readonly flags: FeatureFlags;
  readonly graceMs: number;
  /** Absent for an instance adopted from a previous supervisor. */
  readonly child?: ChildProcess;
}

interface InstanceState {
  readonly release: string;
  readonly pid: number;
  readonly port: number;
  readonly flags?: FeatureFlags;
  /** Written by supervisors from before agents and legacy mode: their instances are adopted too. */
  readonly disabledTools?: readonly string[];
  readonly graceMs: number;
  readonly startedAt: string;
}

interface StateFile extends InstanceState {
  /** The warm standby, when there is one. */
  readonly standby?: InstanceState;
}

const instanceState = (running: Running): InstanceState => ({
  release: running.instance.release,
  pid: running.pid,
  port: running.port,
  flags: running.flags,
  graceMs: running.graceMs,
  startedAt: running.instance.startedAt,
});

const sorted = (names: readonly string[]) => [...new Set(names)].sort();
const sameFlags = (a: FeatureFlags, b: FeatureFlags) =>
  a.tools.join() === b.tools.join() && a.agents.join() === b.agents.join() && a.legacyMode === b.legacyMode;

/** How the sample server (and any release that follows the convention) is told its flags. */
const flagsEnv = (flags: FeatureFlags) => ({
  MCP_DISABLE_TOOLS: flags.tools.join(','),
  MCP_DISABLE_AGENTS: flags.agents.join(','),
  MCP_LEGACY_MODE: String(flags.legacyMode),
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The command line a pid runs, where /proc tells it: a recorded pid may since belong to another program. */
const commandLine = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
};

const flagsOf = (state: InstanceState): FeatureFlags =>
  state.flags ?? { ...noFeatureFlags, tools: state.disabledTools ?? [] };

/** The instance a state file records, if it still runs and answers: a new supervisor adopts it. */
async function adoptable(service: string, state: InstanceState): Promise<Running | undefined> {
  const url = `http://127.0.0.1:${state.port}`;
  if (!alive(state.pid) || !(await answers(`${url}/health`))) return undefined;
  const { release, pid, port, graceMs, startedAt } = state;
  return {
    instance: { id: `${service}-${pid}`, service, release, url, startedAt },
    pid,
    port,
    flags: flagsOf(state),
    graceMs,
  };
}

/** A plain name, or UnsafeName: the API and the store check names too, this is the driver's own wall. */
function plainName(service: string, what: string, name: string): string {
  if (!identifier.safeParse(name).success) throw new UnsafeName(service, what, name, 'is not a plain name');
  return name;
}

/** `folder/parts...`, or UnsafeName when it resolves (links followed) outside the folder. */
function confined(service: string, folder: string, ...parts: string[]): string {
  const path = join(folder, ...parts);
  if (!existsSync(path)) return path;
  const within = relative(realpathSync(folder), realpathSync(path));
  if (!within.startsWith('..') && !isAbsolute(within)) return path;
  throw new UnsafeName(service, 'path', join(...parts), `leads outside ${folder}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * The seeds' systemd procedure, done by a supervisor: releases on disk with snapshots of their
 * configuration, blue-green start with a readiness wait, a switch of the service's stable address,
 * a graceful stop of the previous instance. A release that never becomes ready is stopped and the
 * previous one keeps serving: nothing is left half-deployed.
 */
export class ProcessDriver implements TargetDriver {
  private readonly running = new Map<string, Running>();
  /** The release each service's last deployment replaced, still running and idle (warmStandby). */
  private readonly standby = new Map<string, Running>();
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Previous instances finishing their in-flight work after the switch. */
  private readonly stopping = new Set<Promise<void>>();

  private constructor(
    private readonly options: ProcessDriverOptions,
    private readonly forwarders: ReadonlyMap<string, HttpForwarder>,
  ) {}

  /** Opens each service's address and adopts the instances a previous supervisor left running. */
  static async start(options: ProcessDriverOptions): Promise<ProcessDriver> {
    mkdirSync(join(options.stateDir, 'logs'), { recursive: true });
    mkdirSync(join(options.stateDir, 'pids'), { recursive: true });
    const forwarders = new Map<string, HttpForwarder>();
    for (const [service, config] of Object.entries(options.services))
      forwarders.set(service, await HttpForwarder.listen(config.port));
    const driver = new ProcessDriver(options, forwarders);
    for (const service of forwarders.keys()) await driver.adopt(service);
    await driver.stopOrphans();
    writeFileSync(supervisorFile(options.stateDir), `${process.pid}\n`);
    return driver;
  }

  /** The stable address of a service, where its clients connect. */
  address(service: string): string {
    return `http://127.0.0.1:${this.forwarder(service).port}`;
  }

  private forwarder(service: string): HttpForwarder {
    const forwarder = this.forwarders.get(service);
    if (!forwarder) throw new UnknownService(service, [...this.forwarders.keys()]);
    return forwarder;
  }

  private statePath(service: string): string {
    return join(this.options.stateDir, `${service}.json`);
  }

  private async adopt(service: string): Promise<void> {
    if (!existsSync(this.statePath(service))) return;
    const state = JSON.parse(readFileSync(this.statePath(service), 'utf8')) as StateFile;
    const standby = state.standby && (await adoptable(service, state.standby));
    if (standby) this.standby.set(service, standby);
    const running = await adoptable(service, state);
    if (!running) return this.restart(service, state.release, flagsOf(state));
    this.running.set(service, running);
    this.forwarder(service).switchTo(state.port, 'at once');
    this.options.log?.(`${service}: adopted ${state.release} (pid ${state.pid}) left running by a previous supervisor`);
  }

  private writeState(service: string): void {
    const running = this.running.get(service)!;
    const standby = this.standby.get(service);
    const state: StateFile = { ...instanceState(running), ...(standby && { standby: instanceState(standby) }) };
    writeFileSync(this.statePath(service), `${JSON.stringify(state)}\n`);
  }

  /**
   * The release last switched to no longer runs (`failsafe fleet stop`, a reboot): a supervisor
   * starts it again with its flags, so what serves is what the store records. If it cannot start,
   * nothing serves, and the prober's samples say so.
   */
  private async restart(service: string, release: string, flags: FeatureFlags): Promise<void> {
    try {
      await this.switchTo(service, release, flags, 'restart');
      this.options.log?.(`${service}: ${release} was not running; started it again`);
    } catch (error) {
      this.options.log?.(
        `${service}: ${release} was not running and could not be started: ${(error as Error).message}`,
      );
    }
  }

  /** Instances a crashed supervisor started but never switched to (or never stopped): stopped now. */
  private async stopOrphans(): Promise<void> {
    const adopted = new Set([...this.running.values(), ...this.standby.values()].map((r) => r.pid));
    await stopRecordedInstances(this.options.stateDir, adopted, this.options.log);
  }

  /**
   * Stops every instance recorded under a supervisor's state folder, running or adopted: the fleet
   * outlives Failsafe by design, so this is how a person (or a test) ends it for good.
   */
  static async stopAllRecorded(stateDir: string, log?: (line: string) => void): Promise<number> {
    const supervisor = Number(
      existsSync(supervisorFile(stateDir)) ? readFileSync(supervisorFile(stateDir), 'utf8') : 0,
    );
    // A supervisor that is still running would see its instances vanish and no rule could tell why.
    if (supervisor > 0 && supervisor !== process.pid && alive(supervisor)) throw new FleetStillSupervised(supervisor);
    return stopRecordedInstances(stateDir, new Set(), log);
  }

  /** One action at a time per service, in the order asked. */
  private async serialized<T>(service: string, work: () => Promise<T>): Promise<T> {
    this.forwarder(service);
    const next = (this.queues.get(service) ?? Promise.resolve()).then(work, work);
    this.queues.set(
      service,
      next.catch(() => undefined),
    );
    return next;
  }

  private releaseFile(service: string, release: string): string {
    const { releasesDir } = this.options.services[service]!;
    return confined(service, releasesDir, plainName(service, 'release', release), RELEASE_FILE);
  }

  private snapshotDir(service: string, release: string): string {
    return confined(service, this.options.stateDir, 'backups', service, plainName(service, 'release', release));
  }

  async hasRelease(service: string, release: string): Promise<boolean> {
    this.forwarder(service);
    try {
      const snapshot = join(this.snapshotDir(service, release), RELEASE_FILE);
      return existsSync(this.releaseFile(service, release)) || existsSync(snapshot);
    } catch (error) {
      if (error instanceof UnsafeName) return false;
      throw error;
    }
  }

  private descriptor(service: string, release: string, preferSnapshot: boolean): ReleaseDescriptor {
    const original = this.releaseFile(service, release);
    const snapshot = confined(service, this.options.stateDir, 'backups', service, release, RELEASE_FILE);
    if (!existsSync(original) && !(preferSnapshot && existsSync(snapshot)))
      throw new ReleaseNotFound(service, release, original);
    const descriptor = readReleaseDescriptor(preferSnapshot && existsSync(snapshot) ? snapshot : original);
    return { ...descriptor, dir: join(this.options.services[service]!.releasesDir, release) };
  }

  private snapshot(service: string, release: string, flags: FeatureFlags): void {
    const dir = this.snapshotDir(service, release);
    mkdirSync(dir, { recursive: true });
    const source = this.releaseFile(service, release);
    if (existsSync(source)) writeFileSync(join(dir, RELEASE_FILE), readFileSync(source));
    const snapshot = { release, flags, takenAt: (this.options.clock ?? systemClock).now().toISOString() };
    writeFileSync(join(dir, 'snapshot.json'), `${JSON.stringify(snapshot, null, 2)}\n`);
  }

  deploy(service: string, release: string): Promise<Instance[]> {
    return this.serialized(service, () =>
      this.switchTo(service, release, this.running.get(service)?.flags ?? noFeatureFlags, 'deploy'),
    );
  }

  rollback(service: string, release: string): Promise<Instance[]> {
    return this.serialized(service, () =>
      this.switchTo(service, release, this.running.get(service)?.flags ?? noFeatureFlags, 'rollback'),
    );
  }

  setFeatureFlags(service: string, flags: FeatureFlags): Promise<Instance[]> {
    return this.serialized(service, async () => {
      const current = this.running.get(service);
      if (!current) throw new ReleaseNotReady(service, '(none)', 'is not running, so no feature can be disabled');
      const normal = { tools: sorted(flags.tools), agents: sorted(flags.agents), legacyMode: flags.legacyMode };
      return this.switchTo(service, current.instance.release, normal, 'flags');
    });
  }

  async instances(service: string): Promise<Instance[]> {
    this.forwarder(service);
    const running = this.running.get(service);
    return running ? [running.instance] : [];
  }

  /** As the release's descriptor declares them: the snapshot it ran with, else its folder. */
  async expectedTools(service: string, release: string): Promise<readonly string[] | undefined> {
    return this.descriptor(service, release, true).tools;
  }

  /**
   * A deployment keeps the instance it replaces as the warm standby (stopping the one before); a
   * rollback to the standby's release and flags takes the standby, without a start.
   */
  private async switchTo(
    service: string,
    release: string,
    flags: FeatureFlags,
    why: 'deploy' | 'rollback' | 'flags' | 'restart',
  ): Promise<Instance[]> {
    const current = this.running.get(service);
    if (current?.instance.release === release && sameFlags(current.flags, flags)) return [current.instance];
    const standby = this.standby.get(service);
    const warm =
      why === 'rollback' &&
      standby?.instance.release === release &&
      sameFlags(standby.flags, flags) &&
      (await answers(`${standby.instance.url}/health`))
        ? standby
        : undefined;
    const started =
      warm ?? (await this.startInstance(service, this.descriptor(service, release, why !== 'deploy'), flags));
    // Away from a bad release, its requests under way are cut; otherwise they get the release's grace.
    const drain = why === 'rollback' || !current ? 'at once' : { graceMs: current.graceMs };
    this.forwarder(service).switchTo(started.port, drain);
    this.running.set(service, started);
    const keepWarm = why === 'deploy' && current && this.options.services[service]!.warmStandby !== false;
    const retired = [keepWarm || warm ? standby : undefined, keepWarm ? undefined : current];
    if (keepWarm) this.standby.set(service, current);
    else if (warm) this.standby.delete(service);
    this.writeState(service);
    this.snapshot(service, release, flags);
    const how = warm ? ', the warm standby' : '';
    this.options.log?.(
      `${service}: ${release} serving on ${this.address(service)} (instance ${started.instance.url}${how})`,
    );
    // Traffic already goes to the new instance: the old one gets its grace period in the background.
    for (const old of retired) {
      if (!old || old === started) continue;
      const stopped = this.stopInstance(old).finally(() => this.stopping.delete(stopped));
      this.stopping.add(stopped);
    }
    return [started.instance];
  }

  private async startInstance(service: string, descriptor: ReleaseDescriptor, flags: FeatureFlags): Promise<Running> {
    for (const tool of flags.tools) plainName(service, 'tool', tool);
    for (const agent of flags.agents) plainName(service, 'agent', agent);
    const port = await freePort();
    const values = { releaseDir: descriptor.dir, port };
    const [command, ...args] = descriptor.command.map((part) => expand(part, values));
    const env = Object.fromEntries(Object.entries(descriptor.env).map(([k, v]) => [k, expand(v, values)]));
    const logPath = join(this.options.stateDir, 'logs', `${service}-${descriptor.release}.log`);
    // The instance writes to its log file itself and lives in its own process group: it outlives
    // this supervisor (the next one adopts it), and holds nothing that keeps Failsafe from exiting.
    const log = openSync(logPath, 'a');
    const { env: fleetEnv, push } = this.options.services[service]!;
    const pushEnv = push && pushTelemetryEnv({ ...push, service });
    const child = spawn(command!, args, {
      cwd: descriptor.dir,
      env: { ...process.env, ...fleetEnv, ...env, ...flagsEnv(flags), ...pushEnv },
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    child.unref();
    if (child.pid !== undefined)
      writeFileSync(pidFile(this.options.stateDir, child.pid), `${[command, ...args].join(' ')}\n`);
    const url = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + descriptor.readiness.timeoutSeconds * 1000;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        await exited;
        const tail = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        throw new ReleaseNotReady(
          service,
          descriptor.release,
          `exited (code ${child.exitCode ?? child.signalCode}) before it was ready: ${tail}`,
        );
      }
      if (await answers(`${url}${descriptor.readiness.path}`)) break;
      if (performance.now() > deadline) {
        await this.stopInstance({ pid: child.pid, child, graceMs: 1000 });
        throw new ReleaseNotReady(
          service,
          descriptor.release,
          `did not answer ${descriptor.readiness.path} within ${descriptor.readiness.timeoutSeconds} s`,
        );
      }
      await sleep(100);
    }
    return {
      instance: {
        id: `${service}-${child.pid}`,
        service,
        release: descriptor.release,
        url,
        startedAt: (this.options.clock ?? systemClock).now().toISOString(),
      },
      pid: child.pid,
      port,
      flags,
      graceMs: descriptor.stopGraceSeconds * 1000,
      child,
    };
  }

  private stopInstance(running: Pick<Running, 'pid' | 'child' | 'graceMs'>): Promise<void> {
    return stopInstance(this.options.stateDir, running);
  }

  /** Stops listening; instances keep running, to be adopted by the next supervisor. */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values(), ...this.stopping]);
    for (const forwarder of this.forwarders.values()) await forwarder.close();
    rmSync(supervisorFile(this.options.stateDir), { force: true });
    const left = this.running.size + this.standby.size;
    if (left > 0) {
      const them = left === 1 ? '1 fleet instance keeps' : `${left} fleet instances keep`;
      this.options.log?.(`${them} running for the next serve to adopt; \`failsafe fleet stop\` stops them`);
    }
  }

  /** Stops every instance (tests and a full shutdown of the fleet). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.queues.values(), ...this.stopping]);
    for (const running of [...this.running.values(), ...this.standby.values()]) await this.stopInstance(running);
    this.running.clear();
    this.standby.clear();
  }
}

const pidFile = (stateDir: string, pid: number) => join(stateDir, 'pids', String(pid));
/** The running supervisor's pid, removed when it closes. */
const supervisorFile = (stateDir: string) => join(stateDir, 'supervisor.pid');

export class FleetStillSupervised extends Error {
  readonly code = 'FLEET_STILL_SUPERVISED';
  constructor(readonly pid: number) {
    super(
      `FleetStillSupervised: failsafe serve (pid ${pid}) still supervises this fleet; ` +
        'stop it first (Ctrl-C or SIGTERM)',
    );
    this.name = 'FleetStillSupervised';
  }
}

/** SIGTERM, then up to the grace period for in-flight work, then SIGKILL. */
async function stopInstance(stateDir: string, running: Pick<Running, 'pid' | 'child' | 'graceMs'>): Promise<void> {
  const { child, pid } = running;
  const gone = () => (child ? child.exitCode !== null || child.signalCode !== null : !alive(pid));
  if (!gone()) {
    process.kill(pid, 'SIGTERM');
    const deadline = performance.now() + running.graceMs;
    while (!gone() && performance.now() < deadline) await sleep(50);
    if (!gone()) process.kill(pid, 'SIGKILL');
    while (!gone()) await sleep(20);
  }
  rmSync(pidFile(stateDir, pid), { force: true });
}

/** Stops the recorded instances not kept, checking each pid still runs what was recorded (pids are reused). */
async function stopRecordedInstances(
  stateDir: string,
  keep: ReadonlySet<number>,
  log?: (line: string) => void,
): Promise<number> {
  const pids = join(stateDir, 'pids');
  let stopped = 0;
  for (const name of existsSync(pids) ? readdirSync(pids) : []) {
    const pid = Number(name);
    if (keep.has(pid)) continue;
    const recorded = readFileSync(pidFile(stateDir, pid), 'utf8').trim();
    if (alive(pid) && commandLine(pid) === recorded) {
      log?.(`stopping instance ${pid}`);
      await stopInstance(stateDir, { pid, graceMs: 5_000 });
      stopped += 1;
    }
    rmSync(pidFile(stateDir, pid), { force: true });
  }
  return stopped;
}
