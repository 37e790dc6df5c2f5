import { toolCount } from './drill-mcp-client.js';

/** The checks a drill makes of its target through its proxy: what a client of the service sees. */
export interface TargetChecks {
  /** `/health` answers OK within 3 s. */
  healthy(): Promise<boolean>;
  /** How many tools `tools/list` lists (0 when the service does not answer). */
  tools(): Promise<number>;
}

export function targetChecks(baseUrl: string): TargetChecks {
  return {
    async healthy() {
      try {
        return (await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(3000) })).ok;
      } catch {
        return false;
      }
    },
    tools: () => toolCount(`${baseUrl}/mcp`),
  };
}
