import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { InvalidYamlFile, readYamlFile } from '../config/yaml-file.js';
import { identifier, releaseName, serviceName } from '../events/common-schemas.js';
import { cronExpression } from './cron.js';

/** "30s", "2m", "500ms" or a number of seconds, as milliseconds. */
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
  });

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
    proxy: z.string().min(1).optional(),
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
  z.strictObject({
    expect: z.literal('no_rollback'),
    during: duration.describe('how long after the first fault no rollback may start'),
  }),
  z.strictObject({ expect: z.literal('release_after'), release: releaseName }),
  z.strictObject({ expect: z.literal('healthy_after') }),
  z.strictObject({ expect: z.literal('tools_after'), atLeast: z.number().int().nonnegative() }),
  z.strictObject({
    expect: z.literal('load_after'),
    p95BelowMs: z.number().positive(),
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

/** Reads and validates a drill file; problems name the file and the line (InvalidDrillFile). */
export function loadDrill(path: string): Drill {
  const file = readYamlFile(drillFileSchema, path, 'InvalidDrillFile');
  const problems: string[] = [];
  if (file.drill !== basename(path).replace(/\.ya?ml$/, ''))
    problems.push(`drill: "${file.drill}" must match the file name (${basename(path)})`);
  const scriptPath = resolve(dirname(resolve(path)), '..', file.load.script);
  if (!existsSync(scriptPath))
    problems.push(`load.script: ${file.load.script} does not exist (looked for ${scriptPath})`);
  const names = file.faults.map((f) => f.name);
  for (const dup of new Set(names.filter((n, i) => names.indexOf(n) !== i)))
    problems.push(`faults: the name "${dup}" is used twice`);
  for (const f of file.faults) {
    if (f.kind === 'toxic' && f.until !== undefined && f.until <= f.at)
      problems.push(`faults.${f.name}: until must come after at`);
  }
  if (problems.length > 0) throw new InvalidYamlFile('InvalidDrillFile', path, problems);
  return { ...file, path: resolve(path), scriptPath };
}

/** `drills/<name>.yaml` for a drill name, or the path itself. */
export const drillPath = (nameOrPath: string, drillsDir: string): string =>
  /[/.]/.test(nameOrPath) ? resolve(nameOrPath) : resolve(drillsDir, `${nameOrPath}.yaml`);
