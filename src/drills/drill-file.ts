import { existsSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import type { FleetConfig } from '../config/fleet-config.js';
import { readYamlFile, type FieldProblem } from '../config/yaml-file.js';
import { RELEASE_FILE } from '../drivers/release-descriptor.js';
import { identifier, releaseName, serviceName } from '../events/common-schemas.js';
import { cronExpression } from './cron.js';

/** The longest duration a drill may state: far below what a Node timer can wait (about 24.8 days). */
const DAY_MS = 86_400_000;

/** "30s", "2m", "500ms" or a number of seconds, as milliseconds; at most a day. */
const duration = z
  .union([
    z
      .number()
      .nonnegative()
      .transform((s) => s * 1000),
    z.string().regex(/^\d+(\.\d+)?(ms|s|m)$/, 'a duration such as 500ms, 30s or 2m'),
  ])
  .transform((v) => {
    if (typeof v === 'number') return v;
    const [, n, unit] = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v)!;
    return Number(n) * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
  })
  .refine((ms) => ms <= DAY_MS, 'at most a day (1440m)');

const name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-"');

/** Toxiproxy's toxics a drill may inject, with the attributes each needs (Toxiproxy's own names). */
const toxic = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('latency'),
    attributes: z.strictObject({
      latency: z.number().int().nonnegative(),
      jitter: z.number().int().nonnegative().default(0),
    }),
  }),
  z.strictObject({
    type: z.literal('timeout'),
    attributes: z.strictObject({ timeout: z.number().int().nonnegative() }),
  }),
  z.strictObject({
    type: z.literal('reset_peer'),
    attributes: z.strictObject({ timeout: z.number().int().nonnegative().default(0) }),
  }),
  z.strictObject({ type: z.literal('bandwidth'), attributes: z.strictObject({ rate: z.number().int().positive() }) }),
  z.strictObject({
    type: z.literal('slicer'),
    attributes: z.strictObject({
      average_size: z.number().int().positive(),
      size_variation: z.number().int().nonnegative().default(0),
      delay: z.number().int().nonnegative().default(0),
    }),
  }),
  z.strictObject({ type: z.literal('limit_data'), attributes: z.strictObject({ bytes: z.number().int().positive() }) }),
]);

const fault = z.discriminatedUnion('kind', [
  z.strictObject({
    name,
    kind: z.literal('toxic'),
    toxic,
    /**
     * A proxy of the fleet's Toxiproxy (e.g. between the service and its dependency);
     * by default the drill's own, between its load and the service.
     */
    proxy: name.optional(),
    stream: z.enum(['upstream', 'downstream']).default('downstream'),
    toxicity: z.number().min(0).max(1).default(1),
    /** When to inject, from the start of the fault phase, and when to heal (default: at the end of the drill). */
    at: duration.default(0),
    until: duration.optional(),
  }),
  z.strictObject({ name, kind: z.literal('release'), release: releaseName, at: duration.default(0) }),
  /** A staged migration of the target that the drill starts, moves one stage, then leaves stalled. */
  z.strictObject({
    name,
    kind: z.literal('migration_stall'),
    stages: z.array(z.string().regex(/^[\w.-]+$/)).min(2),
    at: duration.default(0),
  }),
]);

const within = duration.describe('the longest it may take, from the first fault');

const expectation = z.discriminatedUnion('expect', [
  z.strictObject({
    expect: z.literal('rollback_decided'),
    mode: z.enum(['automatic', 'manual', 'disable_feature']).default('automatic'),
    within,
  }),
  z.strictObject({ expect: z.literal('rollback_completed'), within }),
  z.strictObject({ expect: z.literal('tool_disabled'), tool: identifier, within }),
  z.strictObject({ expect: z.literal('migration_reverted'), within }),
  /**
   * An incident Failsafe raised without rolling back: `telemetry_stale`, a pushing service whose
   * samples stopped arriving (TelemetryStale).
   */
  z.strictObject({ expect: z.literal('incident_opened'), rule: z.enum(['telemetry_stale']), within }),
  /** That incident resolved (its telemetry resumed: TelemetryResumed). */
  z.strictObject({ expect: z.literal('incident_resolved'), within }),
  z.strictObject({
    expect: z.literal('no_rollback'),
    during: duration.describe('how long after the first fault no rollback may start'),
  }),
  z.strictObject({ expect: z.literal('release_after'), release: releaseName }),
  z.strictObject({ expect: z.literal('healthy_after') }),
  z.strictObject({ expect: z.literal('tools_after'), atLeast: z.number().int().nonnegative() }),
  z.strictObject({
    expect: z.literal('load_after'),
    p95BelowMs: z.number().positive().max(DAY_MS),
    errorRateBelow: z.number().min(0).max(1),
  }),
]);

/** A drill file: `drills/<name>.yaml`. Paths in it are relative to the repository (the drills folder's parent). */
export const drillFileSchema = z.strictObject({
  drill: name,
  description: z.string().min(1),
  target: z.strictObject({
    service: serviceName,
    /** The release the drill starts from and restores; deployed first if the service runs another. */
    release: releaseName,
    /** Deployed before `release` when needed, so that a rollback has a last known good release to go to. */
    previous: releaseName.optional(),
    /** Services the target depends on, brought to these releases first (e.g. `{ inventory: v1.0.0 }`). */
    dependencies: z.record(serviceName, releaseName).default({}),
  }),
  steadyState: z
    .strictObject({
      healthy: z.boolean().default(true),
      minTools: z.number().int().nonnegative().default(1),
      maxErrorRate: z.number().min(0).max(1).default(0.01),
    })
    .default({ healthy: true, minTools: 1, maxErrorRate: 0.01 }),
  load: z.strictObject({
    script: z.string().min(1),
    /** Calls per second, kept up however slow the service gets (an open model, as users'). */
    rate: z.number().int().min(1).max(500).default(20),
    /** Which tools the calls go to, with weights (the sample fleet's: add, echo, lookup_item, refund, time). */
    tools: z.record(identifier, z.number().int().min(1)).default({ add: 1 }),
    /** At most this many calls in flight. */
    vus: z.number().int().min(1).max(200).default(30),
    /** Load before the faults (baseline), during them (until recovery or `during` ends) and after (verification). */
    before: duration.default(5000),
    during: duration.default(60_000),
    after: duration.default(10_000),
  }),
  faults: z.array(fault).min(1),
  /**
   * Manual rollbacks Failsafe decides during the drill are approved by an SRE's MCP client
   * (the approve_rollback tool).
   */
  approve: z.enum(['mcp']).optional(),
  expectations: z.array(expectation).min(1),
  /** When `failsafe serve --drills` runs it: a cron expression in UTC (default monthly, 03:00 on the 1st). */
  schedule: cronExpression.optional(),
  /** A drill never takes longer than this; it is aborted (and cleaned up) beyond. */
  timeout: duration.default(180_000),
});

export type DrillFile = z.infer<typeof drillFileSchema>;
export type DrillFault = DrillFile['faults'][number];
export type Expectation = DrillFile['expectations'][number];

export interface Drill extends DrillFile {
  readonly path: string;
  /** The k6 script, resolved. */
  readonly scriptPath: string;
}

/** The repository of a drill file: the drills folder's parent, which `load.script` is relative to. */
const rootOf = (path: string) => resolve(dirname(resolve(path)), '..');

/** A part of a drill file as its schema reads it, or undefined when that part is invalid (the schema says why). */
const valid = <T>(schema: z.ZodType<T>, value: unknown): T | undefined => {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
};
const fields = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
const items = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const seconds = (ms: number) => `${ms / 1000} s`;

type Problem = (at: (string | number)[], message: string) => void;

/** The drill is named for its file, and its k6 script is a file of the repository. */
function nameAndScriptProblems(file: Record<string, unknown>, path: string, problem: Problem): void {
  const stem = basename(path).replace(/\.ya?ml$/, '');
  if (typeof file.drill === 'string' && file.drill !== stem)
    problem(
      ['drill'],
      `"${file.drill}" must be the file's name: rename the file ${file.drill}.yaml or the drill ${stem}`,
    );
  const script = valid(drillFileSchema.shape.load.shape.script, fields(file.load).script);
  if (script === undefined) return;
  const root = rootOf(path);
  const scriptPath = resolve(root, script);
  const inside = relative(root, scriptPath);
  if (inside.startsWith('..') || isAbsolute(inside))
    problem(['load', 'script'], `${script} is outside the repository (${root}): keep k6 scripts in it`);
  else if (!existsSync(scriptPath)) problem(['load', 'script'], `${script} does not exist (looked for ${scriptPath})`);
}

/** Fault names are unique, and a toxic heals after it starts. */
function faultProblems(file: Record<string, unknown>, problem: Problem): void {
  const seen = new Map<string, number>();
  items(file.faults).forEach((item, i) => {
    const faultName = fields(item).name;
    if (typeof faultName === 'string') {
      const first = seen.get(faultName);
      if (first !== undefined)
        problem(['faults', i, 'name'], `"${faultName}" already names faults.${first}: give each its own`);
      else seen.set(faultName, i);
    }
    const f = valid(fault, item);
    if (f?.kind === 'toxic' && f.until !== undefined && f.until <= f.at)
      problem(['faults', i, 'until'], `${seconds(f.until)} must come after at (${seconds(f.at)})`);
  });
}

/** Expectations can be judged before the timeout, and of releases the drill deploys. */
function expectationProblems(file: Record<string, unknown>, problem: Problem): void {
  const timeout = valid(drillFileSchema.shape.timeout, file.timeout);
  const target = fields(file.target);
  const involved = [
    target.release,
    target.previous,
    ...items(file.faults).map((f) => fields(f).kind === 'release' && fields(f).release),
  ].filter((r): r is string => typeof r === 'string');
  items(file.expectations).forEach((item, i) => {
    for (const key of ['within', 'during']) {
      const ms = valid(duration, fields(item)[key]);
      if (ms !== undefined && timeout !== undefined && ms >= timeout)
        problem(
          ['expectations', i, key],
          `${seconds(ms)} is not shorter than the drill's timeout (${seconds(timeout)}), which aborts it first`,
        );
    }
    const e = valid(expectation, item);
    if (e?.expect === 'release_after' && !involved.includes(e.release))
      problem(
        ['expectations', i, 'release'],
        `"${e.release}" is neither the target's release, its previous one nor a fault's: ` +
          `the drill never deploys it (${involved.join(', ')})`,
      );
  });
}

/** The services, releases and Toxiproxy proxies the drill names are the fleet's. */
function fleetProblems(file: Record<string, unknown>, fleet: FleetConfig, problem: Problem): void {
  /** Only process-driven services have a releases folder to look in. */
  const checkRelease = (service: string, release: unknown, at: (string | number)[]) => {
    const s = fleet.services[service];
    const name = valid(releaseName, release);
    if (s?.driver === 'process' && name !== undefined && !existsSync(join(s.releasesDir, name, RELEASE_FILE)))
      problem(at, `${service} has no release "${name}" (no ${join(s.releasesDir, name, RELEASE_FILE)})`);
  };
  const services = Object.keys(fleet.services);
  const target = fields(file.target);
  const service = valid(serviceName, target.service);
  if (service !== undefined && !fleet.services[service])
    problem(['target', 'service'], `"${service}" is not a service of the fleet (${services.join(', ')})`);
  for (const key of ['release', 'previous'])
    if (service !== undefined && target[key] !== undefined) checkRelease(service, target[key], ['target', key]);
  for (const [dependency, release] of Object.entries(fields(target.dependencies))) {
    const at = ['target', 'dependencies', dependency];
    if (valid(serviceName, dependency) !== undefined && !fleet.services[dependency])
      problem(at, `"${dependency}" is not a service of the fleet (${services.join(', ')})`);
    else checkRelease(dependency, release, at);
  }
  const proxies = (fleet.toxiproxy?.proxies ?? []).map((p) => p.name);
  items(file.faults).forEach((item, i) => {
    const f = valid(fault, item);
    if (f?.kind === 'toxic' && f.proxy !== undefined && !proxies.includes(f.proxy))
      problem(
        ['faults', i, 'proxy'],
        `"${f.proxy}" is not a proxy of the fleet's Toxiproxy (${proxies.join(', ') || 'it has none'})`,
      );
    if (f?.kind === 'release' && service !== undefined) checkRelease(service, f.release, ['faults', i, 'release']);
  });
}

/**
 * What the schema cannot see, read from the file as written so that a part the schema refuses does
 * not hide the problems of the others. With the fleet, also the releases and proxies it must have.
 */
function crossFieldProblems(raw: unknown, path: string, fleet: FleetConfig | undefined): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const problem: Problem = (at, message) => problems.push({ path: at, message });
  const file = fields(raw);
  nameAndScriptProblems(file, path, problem);
  faultProblems(file, problem);
  expectationProblems(file, problem);
  if (fleet) fleetProblems(file, fleet, problem);
  return problems;
}

/**
 * Reads and validates a drill file: every problem, of the schema and between fields, with its line
 * (InvalidDrillFile). With the fleet it runs on, also the releases and Toxiproxy proxies it names.
 */
export function loadDrill(path: string, fleet?: FleetConfig): Drill {
  const file = readYamlFile(drillFileSchema, path, 'InvalidDrillFile', (raw) => crossFieldProblems(raw, path, fleet));
  return { ...file, path: resolve(path), scriptPath: resolve(rootOf(path), file.load.script) };
}

/** `drills/<name>.yaml` for a drill name, or the path itself. */
export const drillPath = (nameOrPath: string, drillsDir: string): string =>
  /[/.]/.test(nameOrPath) ? resolve(nameOrPath) : resolve(drillsDir, `${nameOrPath}.yaml`);
