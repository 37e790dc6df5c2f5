/** One running copy of a service's release. */
export interface Instance {
  readonly id: string;
  readonly service: string;
  readonly release: string;
  /** Where the instance itself answers (the prober's target); clients use the service's address. */
  readonly url: string;
  readonly startedAt: string;
}

/** What comes with an action: a key that is the same at every attempt at it, so a receiver can deduplicate. */
export interface ActionContext {
  readonly idempotencyKey: string;
  /** Aborts once the executor lost its lease on the work (another carries it out): no further attempt. */
  readonly signal?: AbortSignal;
}

/**
 * The seeds' gradual rollback as a service is asked to run: tools and agents disabled (each falls
 * back to its legacy, non-MCP implementation), or the whole service in legacy mode.
 */
export interface FeatureFlags {
  readonly tools: readonly string[];
  readonly agents: readonly string[];
  readonly legacyMode: boolean;
}

export const noFeatureFlags: FeatureFlags = { tools: [], agents: [], legacyMode: false };

/**
 * How Failsafe acts on a fleet. Every method is idempotent: deploying the release that already
 * runs, or disabling a tool already disabled, changes nothing, so an interrupted action can be
 * carried out again.
 */
export interface TargetDriver {
  /** Starts the release, waits until it is ready, switches traffic to it, stops the previous one. */
  deploy(service: string, release: string, action?: ActionContext): Promise<Instance[]>;
  /** Same as deploy, for a release that ran before (its snapshotted configuration is reused). */
  rollback(service: string, release: string, action?: ActionContext): Promise<Instance[]>;
  /**
   * Restarts the current release with these flags (the seeds' MCP_DISABLE_TOOLS, and
   * MCP_DISABLE_AGENTS and MCP_LEGACY_MODE for the process driver).
   */
  setFeatureFlags(service: string, flags: FeatureFlags, action?: ActionContext): Promise<Instance[]>;
  /** Sets how many instances run, waiting until they are all available (drivers that can: kubernetes). */
  scale?(service: string, replicas: number, action?: ActionContext): Promise<Instance[]>;
  instances(service: string): Promise<Instance[]>;
  /** Whether the release exists, asked before anything is recorded; undefined (or absent): cannot tell. */
  hasRelease?(service: string, release: string): Promise<boolean | undefined>;
  /** The tools the release declares it serves, when the driver can tell (post-rollback verification expects them). */
  expectedTools?(service: string, release: string): Promise<readonly string[] | undefined>;
  close(): Promise<void>;
}

export class ReleaseNotFound extends Error {
  readonly code = 'RELEASE_NOT_FOUND';
  constructor(
    readonly service: string,
    readonly release: string,
    where: string,
  ) {
    super(
      `ReleaseNotFound: ${service} has no release ${release} (looked for ${where}); ` +
        'list the releases folder or fix the name',
    );
    this.name = 'ReleaseNotFound';
  }
}

export class ReleaseNotReady extends Error {
  readonly code = 'RELEASE_NOT_READY';
  constructor(
    readonly service: string,
    readonly release: string,
    why: string,
  ) {
    super(`ReleaseNotReady: ${service} ${release} ${why}; the previous release keeps serving`);
    this.name = 'ReleaseNotReady';
  }
}

/** A name that would take a driver outside its own folders, or into a list it builds (MCP_DISABLE_TOOLS). */
export class UnsafeName extends Error {
  readonly code = 'UNSAFE_NAME';
  constructor(
    readonly service: string,
    what: string,
    readonly value: string,
    why: string,
  ) {
    super(`UnsafeName: ${service} ${what} ${JSON.stringify(value)} ${why}; use letters, digits, ".", "_" and "-" only`);
    this.name = 'UnsafeName';
  }
}

export class UnknownService extends Error {
  readonly code = 'UNKNOWN_SERVICE';
  constructor(
    readonly service: string,
    known: readonly string[],
  ) {
    super(`UnknownService: "${service}" is not configured (known: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownService';
  }
}

/** Scaling asked of a service whose driver cannot scale (process, webhook). */
export class CannotScale extends Error {
  readonly code = 'CANNOT_SCALE';
  constructor(readonly service: string) {
    super(`CannotScale: the driver of ${service} cannot scale; scale it where it runs, or use the kubernetes driver`);
    this.name = 'CannotScale';
  }
}
