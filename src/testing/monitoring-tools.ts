/**
 * Throwaway Prometheus and Alertmanager servers (Debian's packages, which `scripts/provision.sh`
 * installs) on free loopback ports, their storage in a temporary folder that `stop()` removes; and
 * the path of their command-line checkers. A missing tool fails the run in CI and skips elsewhere.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../drills/toxiproxy.js';

const PACKAGES: Record<string, string> = {
  prometheus: 'prometheus',
  promtool: 'prometheus',
  'prometheus-alertmanager': 'prometheus-alertmanager',
  amtool: 'prometheus-alertmanager',
};

/** The tool's path; undefined (with a warning) when it is missing outside CI. */
export function monitoringTool(name: keyof typeof PACKAGES): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    const message = `${name} is missing: run scripts/provision.sh (Debian package ${PACKAGES[name]})`;
    if (process.env.CI === 'true') throw new Error(message);
    console.warn(`${message}; the test that needs it is skipped`);
    return undefined;
  }
}

export interface MonitoringServer {
  readonly url: string;
  /** What the server printed so far: for a failing test's message. */
  output(): string;
  stop(): Promise<void>;
}

async function startServer(
  command: string,
  args: (dir: string, port: number) => string[],
  readyPath: string,
): Promise<MonitoringServer> {
  const dir = mkdtempSync(join(tmpdir(), `failsafe-${command}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(command, args(dir, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Up to 20 s, in steps of 100 ms.
  for (let attempt = 1; ; attempt += 1) {
    const ready = await fetch(`${url}${readyPath}`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return { url, output: () => output, stop };
    if (child.exitCode !== null || attempt >= 200) {
      await stop();
      throw new Error(`${command} did not become ready on ${url}:\n${output}`);
    }
    await sleep(100);
  }
}

/** Prometheus with the given configuration file (its rule files relative to it). */
export const startPrometheus = (configFile: string): Promise<MonitoringServer> =>
  startServer(
    'prometheus',
    (dir, port) => [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    '/-/ready',
  );

/** Alertmanager with the given configuration file, without its gossip port. */
export const startAlertmanager = (configFile: string): Promise<MonitoringServer> =>
  startServer(
    'prometheus-alertmanager',
    (dir, port) => [
      `--config.file=${configFile}`,
      `--storage.path=${dir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    '/-/ready',
  );
