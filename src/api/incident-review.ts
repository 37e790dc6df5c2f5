import type { Incident } from '../../projections/incidents.js';
import type { TypedRecordedEvent } from '../events/catalogue.js';

const clock = (at: Date) => at.toISOString().slice(11, 19);

/** One timeline line per event, in the words an SRE would write. */
function describe(event: TypedRecordedEvent): string {
  const by = event.metadata.actor ? ` (by ${event.metadata.actor})` : '';
  switch (event.type) {
    case 'RollbackDecided': {
      const d = event.data;
      return (
        `Incident detected: rule ${d.rule} observed ${d.observed}${d.unit ? ` ${d.unit}` : ''} ` +
        `against a threshold of ${d.threshold}; ${d.mode.replace('_', ' ')} decided${by}`
      );
    }
    case 'RollbackRequested':
      return `Manual rollback requested by ${event.data.requestedBy}: ${event.data.reason}`;
    case 'RollbackApproved':
      return `Rollback approved by ${event.data.approvedBy}`;
    case 'RollbackRejected':
      return `Rollback rejected by ${event.data.rejectedBy}: ${event.data.reason}`;
    case 'RollbackStarted':
      return `Mitigation started: rolling back from ${event.data.fromRelease} to ${event.data.toRelease}`;
    case 'RollbackCompleted':
      return `Mitigation implemented: ${event.data.release} serves traffic again`;
    case 'RollbackFailed':
      return `Rollback attempt ${event.data.attempt} failed: ${event.data.reason}`;
    case 'RollbackEscalated':
      return `Escalated (${event.data.severity}): ${event.data.reason}`;
    case 'RollbackVerified':
      return event.data.passed
        ? 'Service restored: post-rollback verification passed'
        : 'Post-rollback verification FAILED';
    case 'TelemetryStale':
      return (
        `Incident detected: no telemetry from ${event.data.service} since ${event.data.silentSince} ` +
        `(more than ${event.data.staleAfterSeconds} s); no rollback on missing data alone${by}`
      );
    case 'TelemetryResumed':
      return `Telemetry resumed: samples from ${event.data.service} arrive again`;
    case 'FeatureDisabled':
      return `Feature disabled (${event.data.scope}${event.data.target ? ` ${event.data.target}` : ''})${by}`;
    default:
      return `${event.type}${by}`;
  }
}

const minutes = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`);

/**
 * The seeds' post-incident review template (runbook 004), filled from the incident's recorded
 * events; what only people know (impact, prevention, lessons) is left as prompts to answer.
 */
export function incidentReview(incident: Incident, events: readonly TypedRecordedEvent[]): string {
  const decision = events.find((e) => e.type === 'RollbackDecided' || e.type === 'RollbackRequested');
  const end = incident.resolvedAt ?? events.at(-1)?.recordedAt.getTime() ?? incident.openedAt;
  const started = events.find((e) => e.type === 'RollbackStarted');
  const sampleWindow = decision?.type === 'RollbackDecided' ? decision.data.window : undefined;
  const sampled = sampleWindow
    ? ` over ${sampleWindow.sampleCount} samples from ${sampleWindow.from} to ${sampleWindow.to}`
    : '';
  const rolledBack =
    started?.type === 'RollbackStarted'
      ? ` while running ${started.data.fromRelease}; Failsafe rolled it back to ${started.data.toRelease}`
      : '';
  const responders = [...new Set(events.map((e) => String(e.metadata.actor ?? '')).filter(Boolean))];
  const rootCause =
    decision?.type === 'RollbackDecided'
      ? `Rule \`${decision.data.rule}\` fired: observed ${decision.data.observed}` +
        `${decision.data.unit ? ` ${decision.data.unit}` : ''}, threshold ${decision.data.threshold}` +
        `${sampled}. ` +
        `Evidence events: ${decision.data.evidenceEventIds.join(', ')}. [Why did the release behave so? Fill in.]`
      : decision?.type === 'RollbackRequested'
        ? `Requested by ${decision.data.requestedBy}: ${decision.data.reason}. [What went wrong underneath? Fill in.]`
        : '[What actually went wrong?]';
  return [
    `# Incident Report: ${incident.service} — ${incident.rule.replaceAll('_', ' ')}`,
    '',
    `**Date:** ${new Date(incident.openedAt).toISOString().slice(0, 10)}`,
    `**Severity:** ${incident.severity}`,
    `**Duration:** ${minutes(end - incident.openedAt)}` +
      `${incident.status === 'resolved' ? '' : ` so far (${incident.status})`}`,
    `**Responder:** ${responders.join(', ') || '[Name]'}`,
    '',
    '## Summary',
    `${incident.service} ` +
      `${decision?.type === 'RollbackDecided' ? `breached rule ${decision.data.rule}` : 'was reported unhealthy'}` +
      `${rolledBack}` +
      `. Status: ${incident.status}. [Add the user impact in one sentence.]`,
    '',
    '## Timeline',
    ...events.map((e) => `- ${clock(e.recordedAt)} - ${describe(e)}`),
    '',
    '## Root Cause',
    rootCause,
    '',
    '## Impact',
    '[Who was affected? What was the user impact?]',
    '',
    '## Resolution',
    events
      .filter((e) => ['RollbackCompleted', 'RollbackVerified', 'FeatureDisabled', 'RollbackEscalated'].includes(e.type))
      .map((e) => `- ${describe(e)}`)
      .join('\n') || '[What did we do to fix it?]',
    '',
    '## Prevention',
    '- [ ] Action item 1',
    '- [ ] Action item 2',
    '',
    '## Lessons Learned',
    '[What did we learn? What went well? What could be improved?]',
    '',
    `_Filled by Failsafe from ${events.length} recorded events of incident ${incident.id}; ` +
      'replay them with `failsafe explain` or the query_events tool._',
  ].join('\n');
}
