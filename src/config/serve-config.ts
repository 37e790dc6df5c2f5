import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ADMIN_NAME } from '../auth/admin-token.js';
import { ROLES } from '../auth/roles.js';
import { DEFAULT_REQUEST_EXPIRY_MS } from '../domain/deployment.js';
import { DEFAULT_EXECUTION_LEASE_MS } from '../domain/execution-lease.js';
import { DEFAULT_VERIFICATION_WINDOW_MS } from '../domain/rollback.js';
import type { TokenEntry } from '../auth/tokens.js';
import { InvalidStoreUrl, parseStoreUrl, type StoreLocation } from '../event-store/store-url.js';
import { identifier, timestamp } from '../events/common-schemas.js';
import { type KafkaConfig, kafkaConfigSchema } from './kafka-config.js';
import { InvalidYamlFile, readYamlFile } from './yaml-file.js';

export interface ServeConfig {
  /** Folder of the embedded store (`failsafe.db` inside it), the checkpoints and the admin token. */
  readonly dataDir: string;
  /** The event store: `--store`, FAILSAFE_STORE or `store:`; default the embedded store in the data folder. */
  readonly store: StoreLocation;
  readonly host: string;
  readonly port: number;
  /** Where the MCP endpoint answers (the seeds' MCP_HTTP_BASE_PATH). */
  readonly mcpPath: string;
  /** Host header names accepted (port-agnostic), against DNS rebinding. */
  readonly allowedHosts: readonly string[];
  /** Origin host names accepted when a browser sends one. */
  readonly allowedOrigins: readonly string[];
  readonly maxBodyBytes: number;
  readonly rateLimit: { readonly perMinute: number; readonly burst: number };
  /** How long in-flight requests may take to finish after SIGTERM. */
  readonly shutdownGraceSeconds: number;
  /** /ready answers 503 while a read model is more than this many events behind the store. */
  readonly readyMaxLagEvents: number;
  /** Tokens from the config file (hashes only). */
  readonly tokens: readonly TokenEntry[];
  /** An admin token given in the environment (FAILSAFE_ADMIN_TOKEN) instead of a generated one. */
  readonly adminToken?: string | undefined;
  /** The rollback policy file; the seeds' defaults when absent. */
  readonly policyPath?: string | undefined;
  /** How often the passage of time is recorded (ClockTicked), for time-based rules. */
  readonly tickSeconds: number;
  /** How long a deployment request waits for an executor before it expires (never runs late). */
  readonly requestExpirySeconds: number;
  /** How long an executor's claim on a rollback or deployment holds unless renewed (replicas take it over after). */
  readonly executionLeaseSeconds: number;
  /** How long a restored release is watched (probed, its error rate judged) before a rollback counts as verified. */
  readonly verificationWindowSeconds: number;
  /** The fleet to act on; without it Failsafe records and decides but acts on nothing. */
  readonly fleetPath?: string | undefined;
  /** The drills to run on their schedules (with a fleet); without it no drill is scheduled. */
  readonly drillsDir?: string | undefined;
  /** A running Toxiproxy for drills; without it each drill starts its own. */
  readonly toxiproxyUrl?: string | undefined;
  /** Telemetry in and the event feed out through Kafka; without it Failsafe runs without Kafka. */
  readonly kafka?: KafkaConfig | undefined;
}

export interface ServeFlags {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly store?: string | undefined;
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly policy?: string | undefined;
  readonly tickSeconds?: string | undefined;
  readonly fleet?: string | undefined;
  readonly drills?: string | undefined;
}

/** Every problem found in the configuration, so an operator fixes them all in one go. */
export class InvalidConfig extends Error {
  readonly code = 'INVALID_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(
      `InvalidConfig: Failsafe will not start until these are fixed:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'InvalidConfig';
  }
}

const LOOPBACK = new Set(['localhost', '::1']);
const isLoopback = (host: string) => LOOPBACK.has(host) || (isIP(host) === 4 && host.startsWith('127.'));
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export const DEFAULT_DATA_DIR = './data';
/** The embedded store's file inside the data folder. */
export const STORE_FILE = 'failsafe.db';

/** The optional config file (`--config`, env FAILSAFE_CONFIG); paths in it are relative to it. */
export const configFileSchema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  policy: z.string().min(1).optional(),
  fleet: z.string().min(1).optional(),
  drills: z.string().min(1).optional(),
  tickSeconds: z.number().optional(),
  requestExpirySeconds: z.number().optional(),
  executionLeaseSeconds: z.number().optional(),
  verificationWindowSeconds: z.number().optional(),
  /** Brokers may also come from FAILSAFE_KAFKA_BROKERS, which wins. */
  kafka: kafkaConfigSchema.partial({ brokers: true }).optional(),
  http: z
    .strictObject({
      host: z.string().min(1).optional(),
      port: z.number().optional(),
      basePath: z.string().optional(),
      allowedHosts: z.array(z.string().min(1)).optional(),
      allowedOrigins: z.array(z.string().min(1)).optional(),
      maxBodyBytes: z.number().optional(),
      rateLimit: z.strictObject({ perMinute: z.number().optional(), burst: z.number().optional() }).optional(),
      shutdownGraceSeconds: z.number().optional(),
      readyMaxLagEvents: z.number().optional(),
    })
    .optional(),
  auth: z
    .strictObject({
      tokens: z.array(
        z.strictObject({
          /** Recorded as the actor of every action taken with the token. */
          name: identifier.refine(
            (n) => n !== ADMIN_NAME,
            `"${ADMIN_NAME}" is the built-in admin's; name the token's holder`,
          ),
          role: z.enum(ROLES),
          sha256: z
            .string()
            .regex(
              /^[0-9a-f]{64}$/,
              'the SHA-256 of the token in hex (`failsafe token new` prints one); never the token itself',
            ),
          /** The token is refused from this instant on. */
          expiresAt: timestamp.optional(),
        }),
      ),
    })
    .optional(),
});
type ConfigFile = z.infer<typeof configFileSchema>;

/** One setting's raw value and where it came from, for messages that say what to change. */
interface Raw {
  readonly value: unknown;
  readonly from: string;
}

const pick = (candidates: readonly [unknown, string][], fallback: unknown): Raw => {
  const found = candidates.find(([value]) => value !== undefined && value !== '');
  return found ? { value: found[0], from: found[1] } : { value: fallback, from: 'default' };
};

const shown = (raw: Raw) => `${raw.from}=${JSON.stringify(raw.value)}`;

/**
 * Flags win over environment variables (the seeds' `MCP_*` names where they fit, `FAILSAFE_*`
 * otherwise), which win over the config file, which wins over the defaults: 127.0.0.1:8080,
 * /mcp, ./data, the seeds' policy, a tick every 10 s, requests expiring after 15 min. Every problem is listed at once.
 */
export function loadServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeConfig {
  const problems: string[] = [];
  const configPath = flags.config ?? env.FAILSAFE_CONFIG;
  let file: ConfigFile = {};
  if (configPath) {
    try {
      file = readYamlFile(configFileSchema, configPath, 'InvalidConfigFile');
    } catch (error) {
      if (!(error instanceof InvalidYamlFile)) throw error;
      problems.push(...error.problems.map((p) => `${configPath}: ${p}`));
    }
  }
  const base = configPath ? dirname(resolve(configPath)) : process.cwd();
  const fromFile = (key: string) => `${configPath} ${key}`;

  const integer = (raw: Raw, min: number, max: number, what: string): number => {
    const n = typeof raw.value === 'number' ? raw.value : /^\d+$/.test(String(raw.value)) ? Number(raw.value) : NaN;
    if (!Number.isInteger(n) || n < min || n > max)
      problems.push(`${shown(raw)}: must be ${what} from ${min} to ${max}`);
    return n;
  };
  const list = (raw: Raw): string[] =>
    Array.isArray(raw.value)
      ? raw.value.map(String)
      : String(raw.value ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
  const path = (raw: Raw): string | undefined =>
    raw.value === undefined
      ? undefined
      : resolve(raw.from.startsWith(`${configPath} `) ? base : process.cwd(), String(raw.value));

  const http = file.http ?? {};
  const hostRaw = pick(
    [
      [flags.host, '--host'],
      [env.MCP_HTTP_HOST, 'MCP_HTTP_HOST'],
      [http.host, fromFile('http.host')],
    ],
    '127.0.0.1',
  );
  const host = String(hostRaw.value);
  const port = integer(
    pick(
      [
        [flags.port, '--port'],
        [env.MCP_HTTP_PORT, 'MCP_HTTP_PORT'],
        [http.port, fromFile('http.port')],
      ],
      8080,
    ),
    0,
    65535,
    'a port number',
  );
  const mcpPathRaw = pick(
    [
      [env.MCP_HTTP_BASE_PATH, 'MCP_HTTP_BASE_PATH'],
      [http.basePath, fromFile('http.basePath')],
    ],
    '/mcp',
  );
  const mcpPath = String(mcpPathRaw.value);
  if (
    !/^\/[\w./-]*$/.test(mcpPath) ||
    mcpPath.startsWith('/api/') ||
    ['/health', '/ready', '/metrics'].includes(mcpPath)
  ) {
    problems.push(`${shown(mcpPathRaw)}: must be a path such as /mcp, not under /api/ nor /health, /ready or /metrics`);
  }

  const allowedHosts = list(
    pick(
      [
        [env.MCP_ALLOWED_HOSTS, 'MCP_ALLOWED_HOSTS'],
        [http.allowedHosts, fromFile('http.allowedHosts')],
      ],
      undefined,
    ),
  );
  const allowedOrigins = list(
    pick(
      [
        [env.MCP_ALLOWED_ORIGINS, 'MCP_ALLOWED_ORIGINS'],
        [http.allowedOrigins, fromFile('http.allowedOrigins')],
      ],
      undefined,
    ),
  );
  const loopback = isLoopback(host);
  if (!loopback && (allowedHosts.length === 0 || allowedOrigins.length === 0)) {
    problems.push(
      `${shown(hostRaw)}: bound to a non-loopback address, ` +
        'Failsafe needs the host names clients use and the origins browsers may send, ' +
        'against DNS rebinding: set MCP_ALLOWED_HOSTS and MCP_ALLOWED_ORIGINS (comma-separated host names) ' +
        'or http.allowedHosts / http.allowedOrigins in the config file',
    );
  }

  const maxBodyBytes = integer(
    pick(
      [
        [env.MCP_MAX_BODY_BYTES, 'MCP_MAX_BODY_BYTES'],
        [http.maxBodyBytes, fromFile('http.maxBodyBytes')],
      ],
      1_048_576,
    ),
    1024,
    64 * 1_048_576,
    'a whole number of bytes',
  );
  const rate = http.rateLimit ?? {};
  const perMinute = integer(
    pick(
      [
        [env.MCP_RATE_LIMIT_PER_MINUTE, 'MCP_RATE_LIMIT_PER_MINUTE'],
        [rate.perMinute, fromFile('http.rateLimit.perMinute')],
      ],
      600,
    ),
    1,
    1_000_000,
    'a whole number of requests',
  );
  const burst = integer(
    pick(
      [
        [env.MCP_RATE_LIMIT_BURST, 'MCP_RATE_LIMIT_BURST'],
        [rate.burst, fromFile('http.rateLimit.burst')],
      ],
      100,
    ),
    1,
    1_000_000,
    'a whole number of requests',
  );
  const shutdownGraceSeconds = integer(
    pick(
      [
        [env.FAILSAFE_SHUTDOWN_GRACE_SECONDS, 'FAILSAFE_SHUTDOWN_GRACE_SECONDS'],
        [http.shutdownGraceSeconds, fromFile('http.shutdownGraceSeconds')],
      ],
      10,
    ),
    0,
    600,
    'a whole number of seconds',
  );
  const readyMaxLagEvents = integer(
    pick(
      [
        [env.FAILSAFE_READY_MAX_LAG, 'FAILSAFE_READY_MAX_LAG'],
        [http.readyMaxLagEvents, fromFile('http.readyMaxLagEvents')],
      ],
      1000,
    ),
    0,
    10_000_000,
    'a whole number of events',
  );
  const tickSeconds = integer(
    pick(
      [
        [flags.tickSeconds, '--tick-seconds'],
        [env.FAILSAFE_TICK_SECONDS, 'FAILSAFE_TICK_SECONDS'],
        [file.tickSeconds, fromFile('tickSeconds')],
      ],
      10,
    ),
    1,
    3600,
    'a whole number of seconds',
  );

  /** A top-level setting in whole seconds: the environment's, else the file's, else the default. */
  const seconds = (
    variable: string,
    key: 'requestExpirySeconds' | 'executionLeaseSeconds' | 'verificationWindowSeconds',
    fallback: number,
    min: number,
    max: number,
  ) =>
    integer(
      pick(
        [
          [env[variable], variable],
          [file[key], fromFile(key)],
        ],
        fallback,
      ),
      min,
      max,
      'a whole number of seconds',
    );
  const requestExpirySeconds = seconds(
    'FAILSAFE_REQUEST_EXPIRY_SECONDS',
    'requestExpirySeconds',
    DEFAULT_REQUEST_EXPIRY_MS / 1000,
    1,
    7 * 24 * 3600,
  );
  // Renewed every third of it: below 3 s a renewal would have under a second to reach the store.
  const executionLeaseSeconds = seconds(
    'FAILSAFE_EXECUTION_LEASE_SECONDS',
    'executionLeaseSeconds',
    DEFAULT_EXECUTION_LEASE_MS / 1000,
    3,
    3600,
  );
  // Three probes need two intervals of at least a second; past 10 min the verdict comes too late to act on.
  const verificationWindowSeconds = seconds(
    'FAILSAFE_VERIFICATION_WINDOW_SECONDS',
    'verificationWindowSeconds',
    DEFAULT_VERIFICATION_WINDOW_MS / 1000,
    2,
    600,
  );

  const dataDirRaw = pick(
    [
      [flags.dataDir, '--data-dir'],
      [env.FAILSAFE_DATA_DIR, 'FAILSAFE_DATA_DIR'],
      [file.dataDir, fromFile('dataDir')],
    ],
    DEFAULT_DATA_DIR,
  );
  if (String(dataDirRaw.value).trim() === '') problems.push(`${shown(dataDirRaw)}: must not be empty`);
  const dataDir = path(dataDirRaw)!;
  const storeRaw = pick(
    [
      [flags.store, '--store'],
      [env.FAILSAFE_STORE, 'FAILSAFE_STORE'],
      [file.store, fromFile('store')],
    ],
    undefined,
  );
  let store: StoreLocation = { kind: 'sqlite', path: join(dataDir, STORE_FILE) };
  if (storeRaw.value !== undefined) {
    try {
      store = parseStoreUrl(String(storeRaw.value), storeRaw.from.startsWith(`${configPath} `) ? base : process.cwd());
    } catch (error) {
      if (!(error instanceof InvalidStoreUrl)) throw error;
      problems.push(`${storeRaw.from}: ${error.message}`);
    }
  }
  const policyPath = path(
    pick(
      [
        [flags.policy, '--policy'],
        [env.FAILSAFE_POLICY, 'FAILSAFE_POLICY'],
        [file.policy, fromFile('policy')],
      ],
      undefined,
    ),
  );
  const fleetPath = path(
    pick(
      [
        [flags.fleet, '--fleet'],
        [env.FAILSAFE_FLEET, 'FAILSAFE_FLEET'],
        [file.fleet, fromFile('fleet')],
      ],
      undefined,
    ),
  );
  const drillsDir = path(
    pick(
      [
        [flags.drills, '--drills'],
        [env.FAILSAFE_DRILLS, 'FAILSAFE_DRILLS'],
        [file.drills, fromFile('drills')],
      ],
      undefined,
    ),
  );
  if (drillsDir && !fleetPath)
    problems.push('--drills / FAILSAFE_DRILLS: scheduled drills need a fleet to run against (--fleet)');
  const toxiproxyUrl = env.FAILSAFE_TOXIPROXY_URL || undefined;

  const brokersRaw = pick(
    [
      [env.FAILSAFE_KAFKA_BROKERS, 'FAILSAFE_KAFKA_BROKERS'],
      [file.kafka?.brokers, fromFile('kafka.brokers')],
    ],
    undefined,
  );
  let kafka: KafkaConfig | undefined;
  if (brokersRaw.value !== undefined) {
    const parsed = kafkaConfigSchema.safeParse({ ...file.kafka, brokers: list(brokersRaw) });
    if (parsed.success) kafka = parsed.data;
    else
      problems.push(...parsed.error.issues.map((i) => `${shown(brokersRaw)}: kafka.${i.path.join('.')}: ${i.message}`));
  } else if (file.kafka) {
    problems.push(`${fromFile('kafka')}: names no brokers (kafka.brokers, or FAILSAFE_KAFKA_BROKERS)`);
  }

  const adminToken = env.FAILSAFE_ADMIN_TOKEN || undefined;
  if (adminToken !== undefined && adminToken.length < 24)
    problems.push('FAILSAFE_ADMIN_TOKEN: must be at least 24 characters (e.g. `openssl rand -base64 32`)');
  const tokens = file.auth?.tokens ?? [];
  const names = tokens.map((t) => t.name);
  for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
    problems.push(
      `${fromFile('auth.tokens')}: the name "${name}" is given to more than one token; names identify actors`,
    );

  if (problems.length > 0) throw new InvalidConfig(problems);
  return {
    dataDir,
    store,
    host,
    port,
    mcpPath,
    allowedHosts: allowedHosts.length > 0 ? allowedHosts : LOOPBACK_NAMES,
    allowedOrigins: allowedOrigins.length > 0 ? allowedOrigins : LOOPBACK_NAMES,
    maxBodyBytes,
    rateLimit: { perMinute, burst },
    shutdownGraceSeconds,
    readyMaxLagEvents,
    tokens,
    tickSeconds,
    requestExpirySeconds,
    executionLeaseSeconds,
    verificationWindowSeconds,
    ...(adminToken && { adminToken }),
    ...(policyPath && { policyPath }),
    ...(fleetPath && { fleetPath }),
    ...(drillsDir && { drillsDir }),
    ...(toxiproxyUrl && { toxiproxyUrl }),
    ...(kafka && { kafka }),
  };
}
