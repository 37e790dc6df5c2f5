import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsDir } from '../tools/tools-dir.js';
import { loadDrill, type Drill } from './drill-file.js';
import { K6_VERSION, runK6 } from './k6.js';
import { loadThresholds } from './load-thresholds.js';

const script = fileURLToPath(new URL('../../loadtests/mcp-tool-calls.js', import.meta.url));
const k6 = join(toolsDir(), `k6-${K6_VERSION}`, 'k6');
const missing = !existsSync(k6);
if (missing && process.env.CI === 'true') throw new Error(`k6 is missing (${k6}); run scripts/provision.sh`);

/** A drill file with these lines added, as loadDrill reads it. */
const scratch = mkdtempSync(join(tmpdir(), 'failsafe-thresholds-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const drill = (lines: string[]): Drill => {
  const root = mkdtempSync(join(scratch, 'd-'));
  mkdirSync(join(root, 'drills'));
  mkdirSync(join(root, 'loadtests'));
  writeFileSync(join(root, 'loadtests', 'load.js'), '');
  const path = join(root, 'drills', 'load.yaml');
  writeFileSync(
    path,
    [
      'drill: load',
      'description: x',
      'target: { service: s, release: v1 }',
      'faults: [{ name: f, kind: release, release: v2 }]',
      ...lines,
    ].join('\n'),
  );
  return loadDrill(path);
};

describe('the load thresholds of a drill file', () => {
  it('hold the baseline to the steady state, the load after to load_after, and the faults to nothing', () => {
    const d = drill([
      'load: { script: loadtests/load.js }',
      'steadyState: { maxErrorRate: 0.02 }',
      'expectations: [{ expect: load_after, p95BelowMs: 1500, errorRateBelow: 0.05 }]',
    ]);
    expect(loadThresholds(d, 'before')).toEqual({ mcp_call_failed: ['rate<=0.02'] });
    expect(loadThresholds(d, 'during')).toEqual({});
    expect(loadThresholds(d, 'after')).toEqual({ http_req_duration: ['p(95)<1500'], mcp_call_failed: ['rate<0.05'] });
    expect(loadThresholds({ ...d, expectations: [{ expect: 'healthy_after' }] }, 'after')).toEqual({});
  });

  describe.skipIf(missing)('applied by the real k6 to a service on loopback', () => {
    /** Answers every MCP call after 30 ms, with an MCP error while `failing`. */
    let failing = false;
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((request, response) => {
        request.resume();
        request.on('end', async () => {
          await sleep(30);
          response.setHeader('Content-Type', 'application/json');
          response.end(
            failing
              ? '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"down"}}'
              : '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}',
          );
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const load = (d: Drill, phase: 'before' | 'during' | 'after') =>
      runK6(script, {
        targetUrl: url,
        rate: 10,
        vus: 5,
        tools: d.load.tools,
        durationMs: 2000,
        thresholds: loadThresholds(d, phase),
      }).done;

    it("crosses the file's P95 after the faults, not a looser one; a tool weighing 1e9 costs nothing", async () => {
      failing = false;
      const d = drill([
        'load: { script: loadtests/load.js, tools: { add: 1000000000, echo: 1 } }',
        'expectations:',
        '  - { expect: load_after, p95BelowMs: 5, errorRateBelow: 0.5 }',
        '  - { expect: load_after, p95BelowMs: 5000, errorRateBelow: 0.5 }',
      ]);
      const summary = await load(d, 'after');
      expect(summary.requests).toBeGreaterThan(0);
      expect(summary.p95Ms).toBeGreaterThanOrEqual(30);
      expect(summary.thresholdsCrossed).toEqual(['http_req_duration p(95)<5']);
    }, 60_000);

    it("crosses the file's steady-state error rate before the faults, and nothing during them", async () => {
      failing = true;
      const d = drill([
        'load: { script: loadtests/load.js }',
        'steadyState: { maxErrorRate: 0.25 }',
        'expectations: [{ expect: healthy_after }]',
      ]);
      const before = await load(d, 'before');
      expect(before.errorRate).toBe(1);
      expect(before.thresholdsCrossed).toEqual(['mcp_call_failed rate<=0.25']);
      expect((await load(d, 'during')).thresholdsCrossed).toEqual([]);
    }, 60_000);
  });
});
