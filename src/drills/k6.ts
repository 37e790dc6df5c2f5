import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { toolsDir } from '../tools/tools-dir.js';
import type { K6Thresholds } from './load-thresholds.js';
import { freePort, ToolMissing } from './toxiproxy.js';

export const K6_VERSION = '1.8.1';

/** What a drill reads of a k6 run: the script's handleSummary writes it. */
export interface LoadSummary {
  readonly requests: number;
  readonly p95Ms: number;
  readonly medianMs: number;
  readonly errorRate: number;
  /** The drill's thresholds k6 found crossed (`metric expression`); absent from older summaries. */
  readonly thresholdsCrossed?: readonly string[];
}

export interface LoadRun {
  /** Resolves with the summary once k6 has finished (or was stopped early). */
  readonly done: Promise<LoadSummary>;
  /** Ends the run early, once however often it is called (k6 still writes its summary). */
  stop(): void;
}

/** k6's REST API body that stops the test as its own `k6 stop` does. */
const STOP = JSON.stringify({ data: { type: 'status', id: 'default', attributes: { stopped: true } } });

/**
 * Runs the real k6 on a script against a loopback target, bounded by `durationMs`.
 *
 * k6 is stopped through its REST API, never with a signal: a SIGINT that lands before k6 traps
 * signals, or after it stops trapping them (while it writes its summary), kills it without a
 * summary, and a second SIGINT aborts it without one. It runs in its own process group, so a
 * Ctrl-C in the terminal reaches Failsafe only, which then stops k6 once.
 */
export function runK6(
  script: string,
  options: {
    targetUrl: string;
    rate: number;
    vus: number;
    tools: Readonly<Record<string, number>>;
    durationMs: number;
    /** The drill file's, for this phase (loadThresholds); none by default. */
    thresholds?: K6Thresholds;
    binary?: string;
  },
): LoadRun {
  const binary = options.binary ?? join(toolsDir(), `k6-${K6_VERSION}`, 'k6');
  if (!existsSync(binary)) throw new ToolMissing(`k6 ${K6_VERSION}`, binary);
  const summaryDir = mkdtempSync(join(tmpdir(), 'failsafe-k6-'));
  const summaryPath = join(summaryDir, 'summary.json');
  let exited = false;
  const started = freePort().then((apiPort) => {
    const child = spawn(binary, ['run', '--quiet', '--no-usage-report', '--address', `127.0.0.1:${apiPort}`, script], {
      env: {
        ...process.env,
        TARGET_URL: options.targetUrl,
        RATE: String(options.rate),
        TOOLS: Object.entries(options.tools)
          .map(([tool, weight]) => `${tool}:${weight}`)
          .join(','),
        VUS: String(options.vus),
        DURATION: `${Math.max(1, Math.round(options.durationMs / 1000))}s`,
        SUMMARY_PATH: summaryPath,
        THRESHOLDS: JSON.stringify(options.thresholds ?? {}),
        K6_NO_USAGE_REPORT: 'true',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    child.once('exit', () => (exited = true));
    return { child, api: `http://127.0.0.1:${apiPort}/v1/status` };
  });
  const done = started.then(
    ({ child }) =>
      new Promise<LoadSummary>((resolve, reject) => {
        let stderr = '';
        child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
        child.once('error', reject);
        child.once('exit', (code, signal) => {
          // 0: done; 99: a threshold crossed; 103: stopped through the API (the summary is written each time).
          // Anything else is a failure of k6 or the script.
          try {
            if (existsSync(summaryPath)) resolve(JSON.parse(readFileSync(summaryPath, 'utf8')) as LoadSummary);
            else {
              const last = stderr.trim().split('\n').slice(-3).join(' | ');
              reject(new Error(`k6 exited with ${code ?? signal} without a summary: ${last}`));
            }
          } finally {
            rmSync(summaryDir, { recursive: true, force: true });
          }
        });
      }),
  );
  let stopRequested = false;
  const stop = async () => {
    const { api } = await started;
    // Until k6 has either taken the request or exited: its API may not listen yet.
    while (!exited) {
      const accepted = await fetch(api, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: STOP,
        signal: AbortSignal.timeout(2000),
      }).then(
        (response) => response.ok,
        () => false,
      );
      if (accepted) return;
      await sleep(100);
    }
  };
  return {
    done,
    stop: () => {
      if (stopRequested) return;
      stopRequested = true;
      void stop().catch(() => undefined);
    },
  };
}
