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
}

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
  /** Restarts the current release with these tools disabled (the seeds' MCP_DISABLE_TOOLS). */
  setDisabledTools(service: string, tools: readonly string[], action?: ActionContext): Promise<Instance[]>;
  instances(service: string): Promise<Instance[]>;
  /** The tools the release declares it serves, when the driver can tell (post-rollback verification expects them). */
  expectedTools?(service: string, release: string): Promise<readonly string[] | undefined>;
  close(): Promise<void>;
}

export class ReleaseNotFound extends Error {
  readonly code = 'RELEASE_NOT_FOUND';
  constructor(readonly service: string, readonly release: string, where: string) {
    super(`ReleaseNotFound: ${service} has no release ${release} (looked for ${where}); list the releases folder or fix the name`);
    this.name = 'ReleaseNotFound';
  }
}

export class ReleaseNotReady extends Error {
  readonly code = 'RELEASE_NOT_READY';
  constructor(readonly service: string, readonly release: string, why: string) {
    super(`ReleaseNotReady: ${service} ${release} ${why}; the previous release keeps serving`);
    this.name = 'ReleaseNotReady';
  }
}

export class UnknownService extends Error {
  readonly code = 'UNKNOWN_SERVICE';
  constructor(readonly service: string, known: readonly string[]) {
    super(`UnknownService: "${service}" is not configured (known: ${known.join(', ') || 'none'})`);
    this.name = 'UnknownService';
  }
}
