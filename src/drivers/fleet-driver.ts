import {
  CannotScale,
  UnknownService,
  type ActionContext,
  type FeatureFlags,
  type Instance,
  type TargetDriver,
} from './target-driver.js';

/** One driver for the whole fleet: each service is handed to the driver configured for it. */
export class FleetDriver implements TargetDriver {
  constructor(private readonly byService: ReadonlyMap<string, TargetDriver>) {}

  private driverOf(service: string): TargetDriver {
    const driver = this.byService.get(service);
    if (!driver) throw new UnknownService(service, [...this.byService.keys()]);
    return driver;
  }

  async deploy(service: string, release: string, action?: ActionContext): Promise<Instance[]> {
    return this.driverOf(service).deploy(service, release, action);
  }

  async rollback(service: string, release: string, action?: ActionContext): Promise<Instance[]> {
    return this.driverOf(service).rollback(service, release, action);
  }

  async setFeatureFlags(service: string, flags: FeatureFlags, action?: ActionContext): Promise<Instance[]> {
    return this.driverOf(service).setFeatureFlags(service, flags, action);
  }

  async scale(service: string, replicas: number, action?: ActionContext): Promise<Instance[]> {
    const driver = this.driverOf(service);
    if (!driver.scale) throw new CannotScale(service);
    return driver.scale(service, replicas, action);
  }

  /** Undefined when the service's driver cannot tell (a webhook receiver), or the service is not in the fleet. */
  async hasRelease(service: string, release: string): Promise<boolean | undefined> {
    return this.byService.get(service)?.hasRelease?.(service, release);
  }

  async instances(service: string): Promise<Instance[]> {
    return this.driverOf(service).instances(service);
  }

  async expectedTools(service: string, release: string): Promise<readonly string[] | undefined> {
    return this.driverOf(service).expectedTools?.(service, release);
  }

  async close(): Promise<void> {
    for (const driver of new Set(this.byService.values())) await driver.close();
  }
}
