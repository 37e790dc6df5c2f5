import { z } from 'zod';

/**
 * The `app` section of a sample release: how this release of the sample MCP server misbehaves.
 * Each bad release fails one way the runbooks describe.
 */
export const sampleReleaseSchema = z.strictObject({
  /** Fraction of tool calls that fail. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Added to every tool call. */
  addedLatencyMs: z.number().int().min(0).max(120_000).default(0),
  /** Memory retained per second, and the limit its use is reported against. */
  memoryGrowthMbPerSecond: z.number().min(0).max(500).default(0),
  memoryLimitMb: z.number().int().positive().default(512),
  /** A tools/list that breaks the protocol (an input schema that is not an object). */
  protocolBreak: z.enum(['none', 'invalid_tool_schema']).default('none'),
  crashAtStart: z.boolean().default(false),
  /**
   * A tool whose downstream (refund's payment provider, say) fails every call: its circuit breaker
   * opens after three failures and stays open, each trial call failing again, while the tool
   * answers from its fallback (the request queued). Its calls do not fail; the feature does nothing.
   */
  failingDownstream: z.string().optional(),
  /**
   * Where the release reads inventory: `primary`, through SAMPLE_DEPENDENCY_URL (the link drills put
   * faults on), or `replica`, at SAMPLE_DEPENDENCY_REPLICA_URL (another path, which v1.0.0 uses).
   */
  dependency: z.enum(['primary', 'replica']).default('primary'),
});

export type SampleRelease = z.infer<typeof sampleReleaseSchema>;
