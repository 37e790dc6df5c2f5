import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { expand, readReleaseDescriptor, RELEASE_FILE, type ReleaseDescriptor } from './release-descriptor.js';
import { ReleaseNotFound, ReleaseNotReady, UnknownService, type Instance, type TargetDriver } from './target-driver.js';
import { TcpForwarder } from './tcp-forwarder.js';

export interface ProcessServiceConfig {
  /** Folder holding one sub-folder per release, each with its `release.yaml`. */
  readonly releasesDir: string;
  /** The service's stable address on loopback; 0 picks a free port. */
  readonly port: number;
  /** Environment for every release of the service (the fleet's, e.g. where its dependencies are); a release's own env wins. */
  readonly env?: Readonly<Record<string, string>> | undefined;
}

export interface ProcessDriverOptions {
  readonly services: Readonly<Record<string, ProcessServiceConfig>>;
  /** Where the supervisor keeps its state, config snapshots (backups/) and instance logs (logs/). */
  readonly stateDir: string;
  readonly log?: (line: string) => void;
}

interface Running {
  readonly instance: Instance;
  readonly pid: number;
  readonly port: number;
  readonly disabledTools: readonly string[];
  readonly graceMs: number;
  /** Absent for an instance adopted from a previous supervisor. */
  readonly child?: ChildProcess;
}

interface StateFile {
  readonly release: string;
  readonly pid: number;
  readonly port: number;
  readonly disabledTools: readonly string[];
  readonly graceMs: number;
  readonly startedAt: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
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
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Previous instances finishing their in-flight work after the switch. */
  private readonly stopping = new Set<Promise<void>>();

  private constructor(
    private readonly options: ProcessDriverOptions,
    private readonly forwarders: ReadonlyMap<string, TcpForwarder>,
  ) {}

  /** Opens each service's address and adopts the instances a previous supervisor left running. */
  static async start(options: ProcessDriverOptions): Promise<ProcessDriver> {
    mkdirSync(join(options.stateDir, 'logs'), { recursive: true });
    mkdirSync(join(options.stateDir, 'pids'), { recursive: true });
    const forwarders = new Map<string, TcpForwarder>();
    for (const [service, config] of Object.entries(options.services)) forwarders.set(service, await TcpForwarder.listen(config.port));
    const driver = new ProcessDriver(options, forwarders);
    for (const service of forwarders.keys()) await driver.adopt(service);
    await driver.stopOrphans();
    return driver;
  }

  /** The stable address of a service, where its clients connect. */
  address(service: string): string {
    return `http://127.0.0.1:${this.forwarder(service).port}`;
  }

  private forwarder(service: string): TcpForwarder {
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
    const url = `http://127.0.0.1:${state.port}`;
    if (!alive(state.pid) || !(await answers(`${url}/health`))) return;
    this.running.set(service, {
      instance: { id: `${service}-${state.pid}`, service, release: state.release, url, startedAt: state.startedAt },
      pid: state.pid,
      port: state.port,
      disabledTools: state.disabledTools,
      graceMs: state.graceMs,
    });
    this.forwarder(service).switchTo(state.port);
    this.options.log?.(`${service}: adopted ${state.release} (pid ${state.pid}) left running by a previous supervisor`);
  }

  private pidFile(pid: number): string {
    return join(this.options.stateDir, 'pids', String(pid));
  }

  /** Instances a crashed supervisor started but never switched to (or never stopped): stopped now. */
  private async stopOrphans(): Promise<void> {
    const adopted = new Set([...this.running.values()].map((r) => r.pid));
    for (const name of readdirSync(join(this.options.stateDir, 'pids'))) {
      const pid = Number(name);
      if (adopted.has(pid)) continue;
      const recorded = readFileSync(this.pidFile(pid), 'utf8').trim();
      if (alive(pid) && commandLine(pid) === recorded) {
        this.options.log?.(`stopping instance ${pid} left behind by a previous supervisor`);
        await this.stopInstance({ pid, graceMs: 5_000 });
      }
      rmSync(this.pidFile(pid), { force: true });
    }
  }

  /** One action at a time per service, in the order asked. */
  private async serialized<T>(service: string, work: () => Promise<T>): Promise<T> {
    this.forwarder(service);
    const next = (this.queues.get(service) ?? Promise.resolve()).then(work, work);
    this.queues.set(service, next.catch(() => undefined));
    return next;
  }

  private descriptor(service: string, release: string, preferSnapshot: boolean): ReleaseDescriptor {
    const original = join(this.options.services[service]!.releasesDir, release, RELEASE_FILE);
    const snapshot = join(this.options.stateDir, 'backups', service, release, RELEASE_FILE);
    if (!existsSync(original) && !(preferSnapshot && existsSync(snapshot))) throw new ReleaseNotFound(service, release, original);
    const descriptor = readReleaseDescriptor(preferSnapshot && existsSync(snapshot) ? snapshot : original);
    return { ...descriptor, dir: join(this.options.services[service]!.releasesDir, release) };
  }

  private snapshot(service: string, release: string, disabledTools: readonly string[]): void {
    const dir = join(this.options.stateDir, 'backups', service, release);
    mkdirSync(dir, { recursive: true });
    const source = join(this.options.services[service]!.releasesDir, release, RELEASE_FILE);
    if (existsSync(source)) writeFileSync(join(dir, RELEASE_FILE), readFileSync(source));
    writeFileSync(join(dir, 'snapshot.json'), `${JSON.stringify({ release, disabledTools, takenAt: new Date().toISOString() }, null, 2)}\n`);
  }

  deploy(service: string, release: string): Promise<Instance[]> {
    return this.serialized(service, () => this.switchTo(service, release, this.running.get(service)?.disabledTools ?? [], false));
  }

  rollback(service: string, release: string): Promise<Instance[]> {
    return this.serialized(service, () => this.switchTo(service, release, this.running.get(service)?.disabledTools ?? [], true));
  }

  setDisabledTools(service: string, tools: readonly string[]): Promise<Instance[]> {
    return this.serialized(service, async () => {
      const current = this.running.get(service);
      if (!current) throw new ReleaseNotReady(service, '(none)', 'is not running, so no tool can be disabled');
      return this.switchTo(service, current.instance.release, [...new Set(tools)].sort(), true);
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

  private async switchTo(service: string, release: string, disabledTools: readonly string[], preferSnapshot: boolean): Promise<Instance[]> {
    const current = this.running.get(service);
    if (current?.instance.release === release && current.disabledTools.join() === disabledTools.join()) return [current.instance];
    const descriptor = this.descriptor(service, release, preferSnapshot);
    const started = await this.startInstance(service, descriptor, disabledTools);
    this.forwarder(service).switchTo(started.port);
    this.running.set(service, started);
    writeFileSync(
      this.statePath(service),
      `${JSON.stringify({ release, pid: started.pid, port: started.port, disabledTools, graceMs: started.graceMs, startedAt: started.instance.startedAt } satisfies StateFile)}\n`,
    );
    this.snapshot(service, release, disabledTools);
    this.options.log?.(`${service}: ${release} serving on ${this.address(service)} (instance ${started.instance.url})`);
    // Traffic already goes to the new instance: the old one gets its grace period in the background.
    if (current) {
      const stopped = this.stopInstance(current).finally(() => this.stopping.delete(stopped));
      this.stopping.add(stopped);
    }
    return [started.instance];
  }

  private async startInstance(service: string, descriptor: ReleaseDescriptor, disabledTools: readonly string[]): Promise<Running> {
    const port = await freePort();
    const values = { releaseDir: descriptor.dir, port };
    const [command, ...args] = descriptor.command.map((part) => expand(part, values));
    const env = Object.fromEntries(Object.entries(descriptor.env).map(([k, v]) => [k, expand(v, values)]));
    const logPath = join(this.options.stateDir, 'logs', `${service}-${descriptor.release}.log`);
    // The instance writes to its log file itself and lives in its own process group: it outlives
    // this supervisor (the next one adopts it), and holds nothing that keeps Failsafe from exiting.
    const log = openSync(logPath, 'a');
    const child = spawn(command!, args, {
      cwd: descriptor.dir,
      env: { ...process.env, ...this.options.services[service]!.env, ...env, MCP_DISABLE_TOOLS: disabledTools.join(',') },
      stdio: ['ignore', log, log],
      detached: true,
    });
    closeSync(log);
    child.unref();
    if (child.pid !== undefined) writeFileSync(this.pidFile(child.pid), `${[command, ...args].join(' ')}\n`);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + descriptor.readiness.timeoutSeconds * 1000;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
        await exited;
        const tail = existsSync(logPath) ? readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        throw new ReleaseNotReady(service, descriptor.release, `exited (code ${child.exitCode ?? child.signalCode}) before it was ready: ${tail}`);
      }
      if (await answers(`${url}${descriptor.readiness.path}`)) break;
      if (Date.now() > deadline) {
        await this.stopInstance({ pid: child.pid, child, graceMs: 1000 });
        throw new ReleaseNotReady(service, descriptor.release, `did not answer ${descriptor.readiness.path} within ${descriptor.readiness.timeoutSeconds} s`);
      }
      await sleep(100);
    }
    return {
      instance: { id: `${service}-${child.pid}`, service, release: descriptor.release, url, startedAt: new Date().toISOString() },
      pid: child.pid,
      port,
      disabledTools,
      graceMs: descriptor.stopGraceSeconds * 1000,
      child,
    };
  }

  /** SIGTERM, then up to the grace period for in-flight work, then SIGKILL. */
  private async stopInstance(running: Pick<Running, 'pid' | 'child' | 'graceMs'>): Promise<void> {
    const gone = () => (running.child ? running.child.exitCode !== null || running.child.signalCode !== null : !alive(running.pid));
    if (gone()) {
      rmSync(this.pidFile(running.pid), { force: true });
      return;
    }
    process.kill(running.pid, 'SIGTERM');
    const deadline = Date.now() + running.graceMs;
    while (!gone() && Date.now() < deadline) await sleep(50);
    if (!gone()) process.kill(running.pid, 'SIGKILL');
    while (!gone()) await sleep(20);
    rmSync(this.pidFile(running.pid), { force: true });
  }

  /** Stops listening; instances keep running, to be adopted by the next supervisor. */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values(), ...this.stopping]);
    for (const forwarder of this.forwarders.values()) await forwarder.close();
  }

  /** Stops every instance (tests and a full shutdown of the fleet). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.queues.values(), ...this.stopping]);
    for (const running of this.running.values()) await this.stopInstance(running);
    this.running.clear();
  }
}
