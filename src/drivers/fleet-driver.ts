import { UnknownService, type FeatureFlags, type Instance, type TargetDriver } from './target-driver.js';

/** One driver for the whole fleet: each service is handed to the driver configured for it. */
export class FleetDriver implements TargetDriver {
  constructor(private readonly byService: ReadonlyMap<string, TargetDriver>) {}

  private driverOf(service: string): TargetDriver {
    const driver = this.byService.get(service);
    if (!driver) throw new UnknownService(service, [...this.byService.keys()]);
    return driver;
  }

  async deploy(service: string, release: string): Promise<Instance[]> {
    return this.driverOf(service).deploy(service, release);
  }

  async rollback(service: string, release: string): Promise<Instance[]> {
    return this.driverOf(service).rollback(service, release);
  }

  async setFeatureFlags(service: string, flags: FeatureFlags): Promise<Instance[]> {
    return this.driverOf(service).setFeatureFlags(service, flags);
  }

  /** Undefined when the service's driver cannot tell (a webhook receiver), or the service is not in the fleet. */
  async hasRelease(service: string, release: string): Promise<boolean | undefined> {
    return this.byService.get(service)?.hasRelease?.(service, release);
  }

  async instances(service: string): Promise<Instance[]> {
    return this.driverOf(service).instances(service);
  }

  async close(): Promise<void> {
    for (const driver of new Set(this.byService.values())) await driver.close();
  }
}
