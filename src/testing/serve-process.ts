import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const failsafeBin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const releasesDir = fileURLToPath(new URL('../../drills/sample-fleet/releases/', import.meta.url));

/** A real `failsafe serve` child process, as an operator runs it, for end-to-end tests and benchmarks. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** Failsafe's own base URL (REST, /mcp, /metrics). */
  readonly url: string;
  /** Each fleet service's stable address, as serve printed it. */
  readonly fleet: Readonly<Record<string, string>>;
  output(): string;
  /** The CLI as a client of this serve, with the given token. */
  cli(token: string, ...args: string[]): { code: number | null; stdout: string; stderr: string };
  /** SIGTERM and wait; the fleet stays up (a later serve adopts it): `stopFleet` ends it. */
  stop(): Promise<void>;
}

export interface ServeProcessOptions {
  readonly dataDir: string;
  /** The failsafe.js to run (default this checkout's); its sources unless `env` sets FAILSAFE_FROM_SOURCE=0. */
  readonly bin?: string;
  /** Arguments after `serve --port 0 --data-dir <dataDir>`, e.g. `--fleet`, `--config`. */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Fleet services whose address serve must print before it counts as started. */
  readonly services?: readonly string[];
  readonly timeoutMs?: number;
}

/** Writes a fleet file of the sample service on any free port, probed every `intervalSeconds`. */
export function writeSampleFleet(path: string, intervalSeconds = 1): string {
  writeFileSync(
    path,
    `services:\n  sample:\n    driver: process\n    releasesDir: ${releasesDir}\n    port: 0\n    probeTool: time\n` +
      `probe:\n  intervalSeconds: ${intervalSeconds}\n`,
  );
  return path;
}

export function startServeProcess(options: ServeProcessOptions): Promise<ServeProcess> {
  const bin = options.bin ?? failsafeBin;
  const args = [bin, 'serve', '--port', '0', '--data-dir', options.dataDir, ...(options.args ?? [])];
  // The sources, never a dist/ built before the last edit (benchmarks run outside vitest's env).
  const env = { ...process.env, FAILSAFE_FROM_SOURCE: '1', ...options.env };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const serve = (url: string, fleet: Record<string, string>): ServeProcess => ({
    child,
    url,
    fleet,
    output: () => output,
    cli: (token, ...cliArgs) => {
      const client = { ...env, FAILSAFE_URL: url, FAILSAFE_TOKEN: token, XDG_CONFIG_HOME: options.dataDir };
      const r = spawnSync(process.execPath, [bin, ...cliArgs], {
        encoding: 'utf8',
        timeout: 120_000,
        env: client,
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within ${options.timeoutMs ?? 30_000} ms:\n${output}`));
    }, options.timeoutMs ?? 30_000);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${child.exitCode ?? child.signalCode} before it started:\n${output}`));
    });
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      const fleet = Object.fromEntries(
        (options.services ?? []).map((s) => [s, new RegExp(`fleet: ${s} answers on (http://\\S+)`).exec(output)?.[1]]),
      );
      if (url && Object.values(fleet).every((a) => a !== undefined)) {
        clearTimeout(timer);
        resolve(serve(url, fleet as Record<string, string>));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
  });
}

/** Kills the fleet a serve with this data directory supervised (it outlives serve by design). */
export function stopFleet(dataDir: string): void {
  const pids = join(dataDir, 'fleet', 'pids');
  for (const pid of existsSync(pids) ? readdirSync(pids) : []) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
