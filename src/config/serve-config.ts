import { isIP } from 'node:net';
import { resolve } from 'node:path';

export interface ServeConfig {
  /** Folder of the embedded store (`failsafe.db` inside it). */
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** The rollback policy file; the seeds' defaults when absent. */
  readonly policyPath?: string | undefined;
  /** How often the passage of time is recorded (ClockTicked), for time-based rules. */
  readonly tickSeconds: number;
  /** The fleet to act on; without it Failsafe records and decides but acts on nothing. */
  readonly fleetPath?: string | undefined;
}

export interface ServeFlags {
  readonly dataDir?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly policy?: string | undefined;
  readonly tickSeconds?: string | undefined;
  readonly fleet?: string | undefined;
}

/** Every problem found in the configuration, so an operator fixes them all in one go. */
export class InvalidConfig extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(`InvalidConfig: Failsafe will not start until these are fixed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidConfig';
  }
}

const LOOPBACK = new Set(['localhost', '::1']);
const isLoopback = (host: string) => LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith('127.'));

export const DEFAULT_DATA_DIR = './data';

/**
 * Flags win over environment variables (the seeds' `MCP_HTTP_HOST` / `MCP_HTTP_PORT`, and
 * `FAILSAFE_DATA_DIR`, `FAILSAFE_POLICY`, `FAILSAFE_TICK_SECONDS`), which win over the
 * defaults: 127.0.0.1:8080, ./data, the seeds' policy, a tick every 10 s.
 */
export function loadServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeConfig {
  const problems: string[] = [];
  const host = flags.host ?? env.MCP_HTTP_HOST ?? '127.0.0.1';
  const portText = flags.port ?? env.MCP_HTTP_PORT ?? '8080';
  const dataDir = flags.dataDir ?? env.FAILSAFE_DATA_DIR ?? DEFAULT_DATA_DIR;
  const policyPath = flags.policy ?? env.FAILSAFE_POLICY;
  const fleetPath = flags.fleet ?? env.FAILSAFE_FLEET;
  const tickText = flags.tickSeconds ?? env.FAILSAFE_TICK_SECONDS ?? '10';
  const hostSource = flags.host !== undefined ? '--host' : 'MCP_HTTP_HOST';
  const portSource = flags.port !== undefined ? '--port' : 'MCP_HTTP_PORT';

  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    problems.push(`${portSource}="${portText}": must be a port number from 0 to 65535`);
  }
  if (!isLoopback(host)) {
    problems.push(
      `${hostSource}="${host}": Failsafe binds to loopback only (127.0.0.1, ::1 or localhost) until ` +
        'allowed hosts and origins can be configured to guard against DNS rebinding',
    );
  }
  if (dataDir.trim() === '') problems.push('FAILSAFE_DATA_DIR / --data-dir: must not be empty');
  const tickSeconds = Number(tickText);
  if (!/^\d+$/.test(tickText) || tickSeconds < 1 || tickSeconds > 3600) {
    problems.push(`${flags.tickSeconds !== undefined ? '--tick-seconds' : 'FAILSAFE_TICK_SECONDS'}="${tickText}": must be a whole number of seconds from 1 to 3600`);
  }
  if (problems.length > 0) throw new InvalidConfig(problems);
  return {
    dataDir: resolve(dataDir),
    host,
    port,
    tickSeconds,
    ...(policyPath && { policyPath: resolve(policyPath) }),
    ...(fleetPath && { fleetPath: resolve(fleetPath) }),
  };
}
