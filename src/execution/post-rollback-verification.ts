import type { Instance } from '../drivers/target-driver.js';
import type { EventData } from '../events/catalogue.js';
import { probeInstance } from '../probing/instance-probe.js';
import { systemClock, type Clock } from '../runtime/clock.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type VerificationCheck = EventData<'RollbackVerified'>['checks'][number];

/**
 * The seeds' post-rollback verification, for every instance: health answers, the MCP handshake
 * works and lists its tools, and the error rate over a short window is back under the threshold
 * (no traffic in the window counts as passing, and says so).
 */
export async function verifyInstances(instances: readonly Instance[], options: { windowMs: number; maxErrorRate: number; timeoutMs?: number; clock?: Clock }): Promise<VerificationCheck[]> {
  if (instances.length === 0) return [{ name: 'instances', passed: false, detail: 'no instance is running' }];
  const timeoutMs = options.timeoutMs ?? 5_000;
  const clock = options.clock ?? systemClock;
  const checks: VerificationCheck[] = [];
  for (const instance of instances) {
    const first = await probeInstance(instance, undefined, clock.now(), timeoutMs);
    await sleep(options.windowMs);
    const { sample } = await probeInstance(instance, first.scrape, clock.now(), timeoutMs);
    const id = instance.id;
    checks.push({ name: `health:${id}`, passed: sample.healthy, ...(!sample.healthy && { detail: '/health did not answer 200' }) });
    const tools = sample.mcp && !sample.mcp.error ? sample.mcp.toolCount : 0;
    checks.push({
      name: `tools:${id}`,
      passed: tools > 0,
      detail: sample.mcp?.error ? `MCP error: ${sample.mcp.error}` : `${tools} tools listed over ${sample.mcp?.protocolVersion ?? 'no'} MCP`,
    });
    const requests = sample.requests;
    const rate = requests && requests.total > 0 ? requests.errors / requests.total : undefined;
    checks.push({
      name: `error_rate:${id}`,
      passed: rate === undefined || rate <= options.maxErrorRate,
      detail: rate === undefined ? `no tool calls in ${options.windowMs} ms` : `${(rate * 100).toFixed(1)} % of ${requests!.total} calls failed (limit ${options.maxErrorRate * 100} %)`,
    });
  }
  return checks;
}
