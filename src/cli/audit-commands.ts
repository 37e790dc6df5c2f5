import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError } from 'commander';
import { serviceStatus } from '../../projections/service-state.js';
import { explainDecision } from '../audit/explain-decision.js';
import { replayAt } from '../audit/replay-at.js';
import { verifyAndRecord } from '../audit/incremental-verification.js';
import type { RecordedEvent } from '../event-store/event-store.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';
import { loadPolicy } from '../policy/policy-file.js';
import { systemClock } from '../runtime/clock.js';
import { storeHistory } from '../audit/store-history.js';
import {
  action,
  positiveInteger,
  say,
  storeLocation,
  withSnapshots,
  withStore,
  withStoreOptions,
} from './cli-support.js';

const parseTime = (value: string): Date => {
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new InvalidArgumentError('use an ISO-8601 time, e.g. 2026-11-24T10:00:00Z');
  return time;
};

const iso = (ms: number) => new Date(ms).toISOString();
const asJson = (event: TypedRecordedEvent) => recordedEventToJson(event as unknown as RecordedEvent);
const summary = (event: TypedRecordedEvent) =>
  `${event.position}  ${event.stream}@${event.revision}  ${event.metadata.occurredAt}  ${event.type}  ` +
  `${JSON.stringify(event.data)}  (actor ${event.metadata.actor})`;

export const replayCommand = (): Command =>
  withStoreOptions(new Command('replay'))
    .description('show the state as it was at a past instant, rebuilt from the event history')
    .requiredOption('--at <time>', 'the instant, ISO-8601 (e.g. 2026-11-24T10:00:00Z)', parseTime)
    .option('--json', 'print the read models as JSON')
    .option('--from-zero', 'fold the whole history, neither reading nor saving snapshots')
    .action(
      action(async (flags: { at: Date; json?: boolean; fromZero?: boolean; dataDir?: string }) => {
        const state = await withStore(flags, (store) =>
          flags.fromZero
            ? replayAt(storeHistory(store), flags.at)
            : withSnapshots(flags, (snapshots) => replayAt(storeHistory(store), flags.at, { snapshots })),
        );
        if (flags.json) return say(JSON.stringify(state, null, 2));
        say(`State at ${state.at} (${state.eventsApplied} events)`);
        say('Services');
        const services = Object.values(state.services.services);
        if (services.length === 0) say('  none');
        for (const s of services) {
          const rollback = s.rollback ? `  rollback ${s.rollback.id} (${s.rollback.mode}, ${s.rollback.status})` : '';
          const disabled = [
            ...s.disabledTools.map((t) => `tool ${t}`),
            ...s.disabledAgents.map((a) => `agent ${a}`),
            ...(s.legacyMode ? ['legacy mode'] : []),
          ];
          say(
            `  ${s.service}  release ${s.currentRelease ?? '-'}  last known good ${s.lastKnownGood ?? '-'}  ` +
              `${serviceStatus(s)}${rollback}${disabled.length ? `  disabled: ${disabled.join(', ')}` : ''}`,
          );
        }
        const open = Object.values(state.incidents.incidents).filter((i) => i.status !== 'resolved');
        say(`Open incidents${open.length ? '' : ': none'}`);
        for (const i of open)
          say(`  ${i.id}  ${i.severity}  ${i.service}  ${i.rule}  opened ${iso(i.openedAt)}  ${i.status}`);
        const migrations = Object.values(state.migrations.migrations);
        say(`Migrations${migrations.length ? '' : ': none'}`);
        for (const m of migrations)
          say(
            `  ${m.migrationId}  ${m.service}  stage ${m.stage}  progress ${(m.progress * 100).toFixed(0)} %  ` +
              `error rate ${(m.errorRate * 100).toFixed(1)} %  ${m.status}`,
          );
        say(`Drill runs: ${Object.keys(state.drills.runs).length}`);
      }),
    );

export const explainCommand = (): Command =>
  withStoreOptions(new Command('explain'))
    .description('explain a rollback decision: its rule and figures, the evidence and the chain of causes')
    .argument('<decision-id>', 'the rollback id (rb-...) or the id of its RollbackDecided event')
    .option('--json', 'print the explanation as JSON')
    .action(
      action(async (id: string, flags: { json?: boolean; dataDir?: string }) => {
        const explanation = await withStore(flags, (store) => explainDecision(storeHistory(store), id));
        const { decision, evidence, missingEvidence, causation, lifecycle } = explanation;
        if (flags.json) {
          return say(
            JSON.stringify(
              {
                decision: asJson(decision),
                evidence: evidence.map(asJson),
                missingEvidence,
                causation: causation.map(asJson),
                lifecycle: lifecycle.map(asJson),
              },
              null,
              2,
            ),
          );
        }
        const d = decision.data;
        say(
          `Rollback ${d.rollbackId} of ${d.service}: ${d.mode}, ` +
            `decided ${decision.metadata.occurredAt} by ${decision.metadata.actor}`,
        );
        say(`  rule ${d.rule}: observed ${d.observed} against threshold ${d.threshold}${d.unit ? ` (${d.unit})` : ''}`);
        if (d.window) say(`  window ${d.window.from} → ${d.window.to}, ${d.window.sampleCount} samples`);
        if (d.targetRelease) say(`  target release ${d.targetRelease}`);
        if (d.feature) say(`  disable ${d.feature.scope} ${d.feature.target ?? ''}`);
        if (d.migration) say(`  revert migration ${d.migration.migrationId} to ${d.migration.toStage}`);
        say(
          `Evidence (${evidence.length} events` +
            `${missingEvidence.length ? `, ${missingEvidence.length} no longer stored` : ''})`,
        );
        for (const event of evidence) say(`  ${summary(event)}`);
        say('Caused by');
        for (const event of causation) say(`  ← ${summary(event)}`);
        say(`Afterwards${lifecycle.length ? '' : ': nothing recorded yet'}`);
        for (const event of lifecycle) say(`  ${summary(event)}`);
      }),
    );

interface VerifyFlags {
  policy?: string;
  fromStart?: boolean;
  threads?: number;
  json?: boolean;
  dataDir?: string;
}

export const auditCommand = (): Command =>
  new Command('audit').description('check the recorded history against the rollback policy').addCommand(
    withStoreOptions(new Command('verify'))
      .description(
        're-run the policy over the history: is each recorded decision reproduced, is any missing? Exit 1 if not. ' +
          'Goes on from the last recorded verification with the same policy, and records how far it got',
      )
      .option('--policy <file>', "policy to verify against (env FAILSAFE_POLICY, default the seeds' values)")
      .option('--from-start', 'verify the whole history, whatever was verified before')
      .option(
        '--threads <n>',
        'threads a full run folds the history in, split by service (default 2 on a machine with 2 cores or more, ' +
          'else 1); an incremental run, or one of up to 250,000 events, uses one',
        positiveInteger('threads'),
      )
      .option('--json', 'print the report as JSON')
      .action(
        action(async (flags: VerifyFlags) => {
          const policyPath = flags.policy ?? process.env.FAILSAFE_POLICY;
          const policy = loadPolicy(policyPath);
          const options = {
            fromStart: flags.fromStart ?? false,
            threads: flags.threads ?? Math.min(2, availableParallelism()),
            location: storeLocation(flags),
          };
          const run = await withStore(flags, (store) =>
            withSnapshots(flags, (snapshots) => verifyAndRecord(store, policy, snapshots, systemClock, options)),
          );
          const { report } = run;
          if (flags.json) say(JSON.stringify({ ...report, mode: run.mode, why: run.why }, null, 2));
          else {
            say(
              `Verified ${report.eventsReplayed} events through position ${report.throughPosition} ` +
                `with ${policyPath ?? 'the built-in policy'}, ${report.eventsThisRun} in this run`,
            );
            say(`  ${run.why}`);
            say(`Recorded policy decisions: ${report.recorded.length}`);
            for (const r of report.recorded)
              say(
                `  ${r.reproduced ? '✓ reproduced    ' : '✗ NOT reproduced'}  ` +
                  `${r.rollbackId}  ${r.service}  ${r.rule}  (position ${r.position})`,
              );
            say(`Decisions the policy would have made that are missing: ${report.missing.length || 'none'}`);
            for (const m of report.missing)
              say(
                `  ✗ ${m.rollbackId}  ${m.service}  ${m.rule}  ` +
                  `after event ${m.tippingEventId} (position ${m.tippingPosition})`,
              );
            say(`Recorded telemetry decisions: ${report.telemetry.length || 'none'}`);
            for (const t of report.telemetry)
              say(
                `  ${t.reproduced ? '✓ reproduced    ' : '✗ NOT reproduced'}  ` +
                  `${t.type}  ${t.service}  ${t.eventId}  (position ${t.position})`,
              );
            say(report.ok ? 'Result: OK' : 'Result: FAILED');
          }
          if (!report.ok) process.exitCode = 1;
        }),
      ),
  );
