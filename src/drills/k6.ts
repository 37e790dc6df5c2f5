import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toolsDir } from '../tools/tools-dir.js';
import type { K6Thresholds } from './load-thresholds.js';
import { ToolMissing } from './toxiproxy.js';

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
  /** Ends the run early (k6 still writes its summary). */
  stop(): void;
}

/** Runs the real k6 on a script against a loopback target, bounded by `durationMs`. */
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
  const summaryPath = join(mkdtempSync(join(tmpdir(), 'failsafe-k6-')), 'summary.json');
  const child = spawn(binary, ['run', '--quiet', '--no-usage-report', script], {
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
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const done = new Promise<LoadSummary>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      // 0: done; 99: a threshold crossed (the summary is still written).
      // Anything else is a failure of k6 or the script.
      if (existsSync(summaryPath)) resolve(JSON.parse(readFileSync(summaryPath, 'utf8')) as LoadSummary);
      else
        reject(
          new Error(`k6 exited with ${code} without a summary: ${stderr.trim().split('\n').slice(-3).join(' | ')}`),
        );
    });
  });
  return { done, stop: () => void child.kill('SIGINT') };
}
