/**
 * Throwaway Apache Kafka brokers from the jars `scripts/provision.sh` fetches (see
 * ../shared/REAL-TOOLS.md): one KRaft process, broker and controller, on loopback, its data in a
 * temporary folder that `stop()` removes.
 *
 * Toxiproxy in front of Kafka only works if the broker advertises the proxy's address: after the
 * first metadata request a client connects to the advertised address, never the one it was given.
 * So `proxied` adds a listener of its own whose advertised address is the proxy's, beside the
 * direct listener: clients bootstrapped through the proxy stay behind it, the others never see it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../drills/toxiproxy.js';
import { toolsDir } from '../tools/tools-dir.js';

/** Pinned in scripts/provision.sh too. */
export const KAFKA_VERSION = '4.4.0';

export class KafkaMissing extends Error {
  readonly code = 'KAFKA_MISSING';
  constructor(libs: string) {
    super(`KafkaMissing: no Kafka ${KAFKA_VERSION} jars in ${libs}; run \`bash scripts/provision.sh\``);
    this.name = 'KafkaMissing';
  }
}

export interface KafkaBrokerOptions {
  /** The direct listener's port (default: a free one). Kept across `stop({ keep })` and `start()`. */
  readonly port?: number;
  /** A listener for clients behind a proxy (Toxiproxy): it advertises `127.0.0.1:<advertisedPort>`. */
  readonly proxied?: { readonly advertisedPort: number };
  /** server.properties settings, e.g. `{ 'num.partitions': '3' }`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** The longest to wait for "Kafka Server started" (default 60 s; about 9 s here). */
  readonly readyTimeoutMs?: number;
}

export interface KafkaBroker {
  /** The direct bootstrap address, `127.0.0.1:<port>`. */
  readonly brokers: readonly string[];
  /** Where the proxied listener listens (a proxy's upstream), when `proxied` was asked for. */
  readonly proxiedUpstream?: string;
  readonly dir: string;
  /** SIGTERM (clean, about 2.5 s) or SIGKILL (a crash); the data folder is removed unless `keep`. */
  stop(options?: { kill?: boolean; keep?: boolean }): Promise<void>;
  /** Starts it again on the same ports and data after `stop({ keep: true })`; resolves once it is ready. */
  start(): Promise<void>;
}

const libsDir = () => join(toolsDir(), `kafka-${KAFKA_VERSION}`, 'libs');

/** INFO on stdout: the broker says "Kafka Server started" when it is ready, and nothing without a level set. */
const LOG4J2 = [
  'status = error',
  'appender.out.type = Console',
  'appender.out.name = out',
  'appender.out.layout.type = PatternLayout',
  'appender.out.layout.pattern = [%d] %p %m (%c)%n',
  'rootLogger.level = warn',
  'rootLogger.appenderRef.out.ref = out',
  'logger.server.name = kafka.server.KafkaRaftServer',
  'logger.server.level = info',
].join('\n');

async function java(libs: string, args: readonly string[], dir: string): Promise<string> {
  const child = spawn('java', ['-cp', join(libs, '*'), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`java ${args.slice(0, 2).join(' ')} failed (exit ${code}): ${output.trim()}`);
  return output.trim();
}

/** Formats a fresh data folder and starts a broker, ready to serve (about 10 s). */
export async function startKafkaBroker(options: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const libs = libsDir();
  if (!existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) throw new KafkaMissing(libs);
  const port = options.port ?? (await freePort());
  const controller = await freePort();
  const proxiedPort = options.proxied ? await freePort() : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'failsafe-kafka-'));
  const listeners = [`DIRECT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controller}`];
  const advertised = [`DIRECT://127.0.0.1:${port}`];
  const protocols = ['DIRECT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  if (options.proxied && proxiedPort) {
    listeners.push(`PROXIED://127.0.0.1:${proxiedPort}`);
    advertised.push(`PROXIED://127.0.0.1:${options.proxied.advertisedPort}`);
    protocols.push('PROXIED:PLAINTEXT');
  }
  const settings: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    listeners: listeners.join(','),
    'advertised.listeners': advertised.join(','),
    'listener.security.protocol.map': protocols.join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'DIRECT',
    'controller.quorum.bootstrap.servers': `127.0.0.1:${controller}`,
    'log.dirs': join(dir, 'data'),
    'num.partitions': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    // A restart after a SIGKILL waits for the old session to expire: 3 s instead of the default 9 s.
    'broker.session.timeout.ms': '3000',
    'broker.heartbeat.interval.ms': '1000',
    ...options.settings,
  };
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    Object.entries(settings)
      .map(([key, value]) => `${key}=${value}\n`)
      .join(''),
  );
  writeFileSync(join(dir, 'log4j2.properties'), LOG4J2);
  try {
    const clusterId = await java(libs, ['kafka.tools.StorageTool', 'random-uuid'], dir);
    const format = ['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', properties, '--standalone'];
    await java(libs, [...format, '--ignore-formatted'], dir);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill('SIGKILL');
  const start = async () => {
    const args = [
      '-Xmx512m',
      `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
      '-cp',
      join(libs, '*'),
      'kafka.Kafka',
      properties,
    ];
    const started = spawn('java', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    process.once('exit', killOnExit);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        started.kill('SIGKILL');
        reject(new Error(`Kafka did not start in ${options.readyTimeoutMs ?? 60_000} ms: ${output.slice(-2000)}`));
      }, options.readyTimeoutMs ?? 60_000);
      const watch = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Kafka Server started/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      started.stdout.on('data', watch);
      started.stderr.on('data', watch);
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Kafka exited (code ${code}) before it was ready: ${output.slice(-2000)}`));
      });
    });
    // Past readiness its log is not read: drained so a full pipe never blocks the broker.
    started.stdout.removeAllListeners('data').resume();
    started.stderr.removeAllListeners('data').resume();
  };
  const stop = async ({ kill = false, keep = false } = {}) => {
    const running = child;
    child = undefined;
    process.off('exit', killOnExit);
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill(kill ? 'SIGKILL' : 'SIGTERM');
      await exited;
    }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    brokers: [`127.0.0.1:${port}`],
    ...(proxiedPort && { proxiedUpstream: `127.0.0.1:${proxiedPort}` }),
    dir,
    stop,
    start,
  };
}
