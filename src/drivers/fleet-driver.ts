import { UnknownService, type ActionContext, type Instance, type TargetDriver } from './target-driver.js';

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

  async setDisabledTools(service: string, tools: readonly string[], action?: ActionContext): Promise<Instance[]> {
    return this.driverOf(service).setDisabledTools(service, tools, action);
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
