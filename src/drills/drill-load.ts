import type { Drill } from './drill-file.js';
import { runK6, type LoadRun, type LoadSummary } from './k6.js';
import { loadThresholds } from './load-thresholds.js';

export type LoadPhase = 'before' | 'during' | 'after';

/** The k6 runs of one drill: each stopped once at most, and none started once the drill is stopping. */
export class DrillLoads {
  readonly summaries: { before?: LoadSummary; during?: LoadSummary; after?: LoadSummary } = {};
  private readonly running = new Set<LoadRun>();
  /** Every run's end, stopped or not: the drill waits for them all before it reports. */
  private readonly ends: Promise<unknown>[] = [];
  private stopping = false;

  constructor(
    private readonly drill: Drill,
    private readonly say: (line: string) => void,
    private readonly start: typeof runK6 = runK6,
  ) {}

  /** Runs the drill's load against `targetUrl` for one phase; resolves with its summary. */
  run(phase: LoadPhase, durationMs: number, targetUrl: string): Promise<LoadSummary> {
    const { load, scriptPath } = this.drill;
    const thresholds = loadThresholds(this.drill, phase);
    const options = { targetUrl, rate: load.rate, vus: load.vus, tools: load.tools, durationMs, thresholds };
    const run = this.start(scriptPath, options);
    this.running.add(run);
    this.ends.push(run.done.catch(() => undefined));
    if (this.stopping) this.stop(run);
    return run.done.then(
      (summary) => {
        this.running.delete(run);
        this.summaries[phase] = summary;
        this.say(
          `load ${phase}: ${summary.requests} requests, p95 ${summary.p95Ms.toFixed(0)} ms, ` +
            `errors ${(summary.errorRate * 100).toFixed(1)} %`,
        );
        return summary;
      },
      (error: unknown) => {
        this.running.delete(run);
        throw error;
      },
    );
  }

  private stop(run: LoadRun): void {
    this.running.delete(run);
    run.stop();
  }

  /** Ends the runs under way (each once: k6 still writes its summary). */
  stopRunning(): void {
    for (const run of [...this.running]) this.stop(run);
  }

  /** Ends the runs under way and every run started from now on: the drill is stopping. */
  stopAll(): void {
    this.stopping = true;
    this.stopRunning();
  }

  /** Once every k6 process of the drill has exited. */
  async ended(): Promise<void> {
    await Promise.all(this.ends);
  }
}
