import type { Expectation } from './drill-file.js';
import type { LoadSummary } from './k6.js';

/** What the runner saw happen, in milliseconds since the epoch. */
export interface Observations {
  /** The first fault's injection: the origin of "within". */
  readonly faultAt: number;
  readonly decided?: { readonly at: number; readonly mode: string; readonly rule: string } | undefined;
  readonly rollbackStarted?: number | undefined;
  readonly completed?: number | undefined;
  readonly disabledTools: readonly { readonly tool: string; readonly at: number }[];
  /** When the drill's migration was taken back a stage. */
  readonly migrationReverted?: number | undefined;
  /** The first incident raised without a rollback once the faults began (stale telemetry), and when it resolved. */
  readonly incident?:
    | { readonly at: number; readonly rule: string; readonly resolvedAt?: number | undefined }
    | undefined;
  readonly releaseAfter?: string | undefined;
  readonly healthyAfter: boolean;
  readonly toolsAfter: number;
  readonly load: {
    readonly before?: LoadSummary | undefined;
    readonly during?: LoadSummary | undefined;
    readonly after?: LoadSummary | undefined;
  };
}

export interface Verdict {
  /** A short name, e.g. `rollback_decided within 30 s`. */
  readonly expectation: string;
  readonly passed: boolean;
  /** What was observed, in words: says why when it failed (or why it was not judged). */
  readonly detail: string;
  /** The run ended before it could judge this expectation (it was aborted): neither met nor missed. */
  readonly notJudged?: true | undefined;
}

/** How a verdict reads in a report or a terminal. */
export const verdictWord = (verdict: Verdict): string =>
  verdict.notJudged ? 'NOT JUDGED' : verdict.passed ? 'PASS' : 'FAIL';

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Judges one expectation against what happened. Pure. */
export function judge(expectation: Expectation, seen: Observations): Verdict {
  const since = (at: number | undefined) => (at === undefined ? undefined : at - seen.faultAt);
  switch (expectation.expect) {
    case 'rollback_decided': {
      const name = `rollback_decided (${expectation.mode}) within ${s(expectation.within)}`;
      const after = since(seen.decided?.at);
      if (after === undefined) return { expectation: name, passed: false, detail: 'no rollback was decided' };
      if (seen.decided!.mode !== expectation.mode)
        return {
          expectation: name,
          passed: false,
          detail: `a ${seen.decided!.mode} rollback was decided (rule ${seen.decided!.rule}), not ${expectation.mode}`,
        };
      return {
        expectation: name,
        passed: after <= expectation.within,
        detail: `decided after ${s(after)} by rule ${seen.decided!.rule}`,
      };
    }
    case 'rollback_completed': {
      const name = `rollback_completed within ${s(expectation.within)}`;
      const after = since(seen.completed);
      if (after === undefined)
        return {
          expectation: name,
          passed: false,
          detail: seen.rollbackStarted ? 'the rollback started but did not complete' : 'no rollback completed',
        };
      return { expectation: name, passed: after <= expectation.within, detail: `completed after ${s(after)}` };
    }
    case 'tool_disabled': {
      const name = `tool_disabled ${expectation.tool} within ${s(expectation.within)}`;
      const found = seen.disabledTools.find((d) => d.tool === expectation.tool);
      if (!found)
        return {
          expectation: name,
          passed: false,
          detail: seen.disabledTools.length
            ? `other tools were disabled: ${seen.disabledTools.map((d) => d.tool).join(', ')}`
            : 'no tool was disabled',
        };
      const after = found.at - seen.faultAt;
      return { expectation: name, passed: after <= expectation.within, detail: `disabled after ${s(after)}` };
    }
    case 'migration_reverted': {
      const name = `migration_reverted within ${s(expectation.within)}`;
      const after = since(seen.migrationReverted);
      if (after === undefined)
        return {
          expectation: name,
          passed: false,
          detail: seen.decided
            ? `a ${seen.decided.mode} rollback was decided but the migration was not reverted`
            : 'nothing reverted the migration',
        };
      return { expectation: name, passed: after <= expectation.within, detail: `reverted after ${s(after)}` };
    }
    case 'incident_opened': {
      const name = `incident_opened (${expectation.rule}) within ${s(expectation.within)}`;
      const incident = seen.incident;
      if (!incident) return { expectation: name, passed: false, detail: 'no incident was opened' };
      const after = incident.at - seen.faultAt;
      if (incident.rule !== expectation.rule)
        return { expectation: name, passed: false, detail: `an incident of rule ${incident.rule} was opened` };
      return { expectation: name, passed: after <= expectation.within, detail: `opened after ${s(after)}` };
    }
    case 'incident_resolved': {
      const name = `incident_resolved within ${s(expectation.within)}`;
      const incident = seen.incident;
      if (incident?.resolvedAt === undefined)
        return {
          expectation: name,
          passed: false,
          detail: incident ? `the ${incident.rule} incident is still open` : 'no incident was opened',
        };
      const after = incident.resolvedAt - seen.faultAt;
      return {
        expectation: name,
        passed: after <= expectation.within,
        detail: `${incident.rule} resolved after ${s(after)}`,
      };
    }
    case 'no_rollback': {
      const name = `no rollback during ${s(expectation.during)}`;
      const started = since(seen.rollbackStarted);
      if (started !== undefined && started <= expectation.during)
        return { expectation: name, passed: false, detail: `a rollback started after ${s(started)}` };
      // A manual rollback awaiting approval never starts here, and is a false positive all the same.
      const decided = seen.decided?.mode === 'disable_feature' ? undefined : since(seen.decided?.at);
      if (decided !== undefined && decided <= expectation.during)
        return {
          expectation: name,
          passed: false,
          detail: `a ${seen.decided!.mode} rollback was decided after ${s(decided)} (rule ${seen.decided!.rule})`,
        };
      return { expectation: name, passed: true, detail: 'no rollback decided or started' };
    }
    case 'release_after':
      return {
        expectation: `release_after ${expectation.release}`,
        passed: seen.releaseAfter === expectation.release,
        detail: `the service runs ${seen.releaseAfter ?? 'nothing'}`,
      };
    case 'healthy_after':
      return {
        expectation: 'healthy_after',
        passed: seen.healthyAfter,
        detail: seen.healthyAfter ? '/health answered OK' : '/health did not answer OK',
      };
    case 'tools_after':
      return {
        expectation: `tools_after >= ${expectation.atLeast}`,
        passed: seen.toolsAfter >= expectation.atLeast,
        detail: `tools/list listed ${seen.toolsAfter} tools`,
      };
    case 'load_after': {
      const name =
        `load_after p95 < ${expectation.p95BelowMs} ms, ` +
        `errors < ${(expectation.errorRateBelow * 100).toFixed(1)} %`;
      const after = seen.load.after;
      if (!after || after.requests === 0)
        return { expectation: name, passed: false, detail: 'no load ran after the recovery' };
      const detail =
        `p95 ${after.p95Ms.toFixed(0)} ms, errors ${(after.errorRate * 100).toFixed(1)} % ` +
        `over ${after.requests} requests`;
      return {
        expectation: name,
        passed: after.p95Ms < expectation.p95BelowMs && after.errorRate < expectation.errorRateBelow,
        detail,
      };
    }
  }
}

/** An aborted run's expectation: named as `judge` names it, with the reason it was not judged. */
export function notJudged(expectation: Expectation, abortReason: string): Verdict {
  const nothingSeen: Observations = { faultAt: 0, disabledTools: [], healthyAfter: false, toolsAfter: 0, load: {} };
  return {
    expectation: judge(expectation, nothingSeen).expectation,
    passed: false,
    detail: `not judged: the run was aborted (${abortReason})`,
    notJudged: true,
  };
}

export interface TimelineEntry {
  readonly at: number;
  readonly kind: 'step' | 'fault' | 'heal' | 'decision' | 'rollback' | 'recovery' | 'sample';
  readonly label: string;
  /** For health samples: the error rate (0..1) and P95 in ms of the interval since the instance's previous probe. */
  readonly errorRate?: number | undefined;
  readonly p95Ms?: number | undefined;
  /** For health samples: which instance of which release, and whether its /health answered. */
  readonly instance?: string | undefined;
  readonly release?: string | undefined;
  readonly healthy?: boolean | undefined;
}

export interface Scorecard {
  readonly runId: string;
  readonly drill: string;
  readonly description: string;
  readonly service: string;
  readonly outcome: 'passed' | 'failed' | 'aborted';
  /** Why it was aborted, when it was. */
  readonly abortReason?: string | undefined;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly timeToDetectMs?: number | undefined;
  readonly timeToRecoverMs?: number | undefined;
  readonly load: Observations['load'];
  readonly expectations: readonly Verdict[];
  readonly timeline: readonly TimelineEntry[];
}

/**
 * Detection is the first decision (or disabled tool, or incident raised); recovery, the rollback's
 * completion (or that tool disabled, or the incident resolved).
 */
export function detectionAndRecovery(seen: Observations): { timeToDetectMs?: number; timeToRecoverMs?: number } {
  const detected = Math.min(
    seen.decided?.at ?? Infinity,
    seen.disabledTools[0]?.at ?? Infinity,
    seen.incident?.at ?? Infinity,
  );
  const recovered =
    seen.completed ??
    seen.migrationReverted ??
    (seen.decided?.mode === 'disable_feature' ? seen.disabledTools[0]?.at : undefined) ??
    seen.incident?.resolvedAt;
  return {
    ...(Number.isFinite(detected) && { timeToDetectMs: detected - seen.faultAt }),
    ...(recovered !== undefined && { timeToRecoverMs: recovered - seen.faultAt }),
  };
}
