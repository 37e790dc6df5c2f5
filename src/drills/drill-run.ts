import type { EventStore } from '../event-store/event-store.js';
import { encodeEvent, type DomainEvent } from '../events/catalogue.js';
import type { Clock } from '../runtime/clock.js';
import type { Drill } from './drill-file.js';
import { faultPort, type FaultPort } from './drill-faults.js';
import { DrillLoads } from './drill-load.js';
import { approveThroughMcp, type McpApprover } from './drill-mcp-client.js';
import { nothingSeen, type DrillSeen, type Noticed } from './drill-observations.js';
import { DrillTarget } from './drill-target.js';
import type { Observations, TimelineEntry, Verdict } from './scorecard.js';
import type { ToxiproxyControl } from './toxiproxy.js';
import { drillStream } from '../domain/streams.js';

export interface DrillRunnerOptions {
  readonly store: EventStore;
  readonly toxiproxy: ToxiproxyControl;
  /** The service's stable address (`http://127.0.0.1:<port>`); the drill puts Toxiproxy in front of it. */
  readonly targetAddress: string;
  readonly log: (line: string) => void;
  /** Ctrl-C: the drill stops where it is, and still cleans up. A string reason names the interruption. */
  readonly signal?: AbortSignal | undefined;
  readonly trigger?: 'manual' | 'schedule';
  readonly scheduledFor?: string | undefined;
  /** A run asked for through the API (DrillRequested) carries its id; the runner claims it (once). */
  readonly runId?: string | undefined;
  readonly requested?: boolean | undefined;
  readonly clock?: Clock;
  /** Who approves manual rollbacks for a drill with `approve: mcp`. */
  readonly approver?: McpApprover | undefined;
}

/** Why the drill cannot go on; it still cleans up. */
export class DrillAborted extends Error {
  readonly code = 'DRILL_ABORTED';
  constructor(reason: string) {
    super(reason);
    this.name = 'DrillAborted';
  }
}

/** One drill run: its adapters, and what it has recorded and seen so far. The phases work on it. */
export class DrillRun {
  readonly runId: string;
  readonly service: string;
  readonly actor: string;
  readonly started: number;
  readonly target: DrillTarget;
  readonly faults: readonly FaultPort[];
  readonly loads: DrillLoads;
  readonly timeline: TimelineEntry[] = [];
  readonly proxyName: string;
  readonly migrationId: string;
  /** The drill's Toxiproxy in front of the service, once prepared. */
  proxyUrl = '';
  seen: DrillSeen = nothingSeen;
  observations: Observations | undefined;
  verdicts: Verdict[] = [];
  readonly approvals: Promise<void>[] = [];

  constructor(
    readonly drill: Drill,
    readonly options: DrillRunnerOptions,
    runId: string,
    readonly now: () => number,
  ) {
    this.runId = runId;
    this.service = drill.target.service;
    this.actor = `drill:${runId}`;
    this.started = now();
    this.proxyName = `drill-${drill.drill}`;
    this.migrationId = `drill-${runId}`;
    this.target = new DrillTarget(options.store, this.service, this.actor, () => new Date(now()));
    const { proxyName, migrationId, target } = this;
    const context = { drill, runId, toxiproxy: options.toxiproxy, target, proxyName, migrationId };
    this.faults = drill.faults.map((fault) => faultPort(fault, context));
    this.loads = new DrillLoads(drill, (line) => this.say(line));
  }

  say(line: string): void {
    this.options.log(`[${((this.now() - this.started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  }

  async record(event: DomainEvent): Promise<void> {
    const encoded = encodeEvent(event, { actor: this.actor, occurredAt: new Date(this.now()) });
    await this.options.store.append(drillStream(this.runId), [encoded], 'any');
  }

  async step(name: string, status: 'started' | 'passed' | 'failed' | 'skipped', detail?: string): Promise<void> {
    this.timeline.push({ at: this.now(), kind: 'step', label: `${name} ${status}${detail ? `: ${detail}` : ''}` });
    this.say(`${name}: ${status}${detail ? ` — ${detail}` : ''}`);
    const data = { runId: this.runId, step: name, status, ...(detail && { detail: detail.slice(0, 4000) }) };
    await this.record({ type: 'DrillStepRecorded', data });
  }

  /** Why the drill must stop now (a signal, its timeout); undefined while it may go on. */
  interruption({ timeout = true } = {}): string | undefined {
    const { signal } = this.options;
    if (signal?.aborted) return typeof signal.reason === 'string' ? signal.reason : 'interrupted (Ctrl-C)';
    if (timeout && this.now() - this.started > this.drill.timeout)
      return `the drill ran past its timeout of ${this.drill.timeout / 1000} s`;
    return undefined;
  }

  checkAbort(options: { timeout?: boolean } = {}): void {
    const reason = this.interruption(options);
    if (reason) throw new DrillAborted(reason);
  }

  /** Takes what an event was worth telling into the timeline, the log and (a manual rollback) the approver. */
  notice(noticed: Noticed | undefined): void {
    if (noticed?.manual && this.drill.approve === 'mcp') this.approve(noticed.manual);
    if (noticed?.timeline) this.timeline.push(noticed.timeline);
    if (noticed?.line) this.say(noticed.line);
  }

  private approve(rollbackId: string): void {
    const { approver } = this.options;
    if (!approver) {
      this.say(
        `a manual rollback (${rollbackId}) needs approval and this run has no approver: ` +
          "pass Failsafe's MCP URL and an approver token",
      );
      return;
    }
    const approval = approveThroughMcp(approver, this.service, rollbackId).then(
      (how) => {
        this.timeline.push({ at: this.now(), kind: 'step', label: `rollback ${rollbackId} ${how}` });
        this.say(`rollback ${rollbackId} ${how}`);
      },
      (error: Error) => this.say(`approval of ${rollbackId} failed: ${error.message}`),
    );
    this.approvals.push(approval);
  }
}
