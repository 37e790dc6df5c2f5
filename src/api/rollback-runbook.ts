import { serviceStatus, type ServiceView } from '../../projections/service-state.js';
import type { RollbackPolicy } from '../policy/rollback-policy.js';

const ACTIONS = {
  automatic_rollback: 'automatic rollback',
  manual_rollback: 'manual rollback (needs approval)',
  disable_feature: 'disable the feature',
} as const;

/**
 * The seeds' rollback procedure (runbook 000: decision matrix, quick and standard rollback,
 * disabling a feature instead, post-rollback verification) written for one service as it is now.
 */
export function rollbackRunbook(view: ServiceView, policy: RollbackPolicy): string {
  const s = view.service;
  const target = view.lastKnownGood;
  const rules = Object.entries(policy.rules).map(
    ([name, r]) =>
      `| ${name} | ${r.when}${r.threshold !== undefined ? ` > ${r.threshold}` : ''}` +
      `${r.windowSeconds ? ` over ${r.windowSeconds} s` : ''}${r.forSeconds ? ` for ${r.forSeconds} s` : ''}` +
      ` | ${ACTIONS[r.action]} |`,
  );
  return [
    `# Rollback runbook: ${s}`,
    '',
    `Now: **${serviceStatus(view)}**, release ${view.currentRelease ?? '(none)'}; ` +
      `last known good ${target ?? '(none yet: there is nothing to roll back to)'}` +
      `${view.rollback ? `; rollback ${view.rollback.id} is ${view.rollback.status}` : ''}` +
      `${view.disabledTools.length ? `; disabled tools: ${view.disabledTools.join(', ')}` : ''}` +
      `${view.disabledAgents.length ? `; disabled agents: ${view.disabledAgents.join(', ')}` : ''}` +
      `${view.legacyMode ? '; in legacy mode' : ''}.`,
    '',
    '## 1. Decide (the decision matrix in force)',
    '| Rule | Fires when | Action |',
    '|---|---|---|',
    ...rules,
    'Automatic rules need nothing from you: Failsafe decides, rolls back and verifies. ' +
      'Check with the service_status tool.',
    '',
    '## 2. One tool misbehaving? Disable it instead of rolling back',
    `- MCP: disable_tool { service: "${s}", tool: "<tool>", reason: "..." } — ` +
      `REST: POST /api/v1/services/${s}/tools/<tool>/disable`,
    `- Re-enable when fixed: enable_tool { service: "${s}", tool: "<tool>" }`,
    `- One agent in trouble: disable_agent { service: "${s}", agent: "<agent>" } sends it back to its non-MCP path.`,
    `- The whole service: enter_legacy_mode { service: "${s}" } (leave_legacy_mode undoes it).`,
    '- The whole fleet: enter_fleet_legacy_mode (leave_fleet_legacy_mode undoes it).',
    '',
    '## 3. Manual rollback (two people)',
    `1. Request: request_rollback { service: "${s}", reason: "..." }${target ? ` — goes back to ${target}` : ''}` +
      ` (or \`failsafe rollback ${s} --reason ...\`).`,
    `2. A second person with the approver role approves: approve_rollback { service: "${s}", rollbackId: "<id>" }. ` +
      `The approval expires after ${policy.approval.validForSeconds} s.`,
    '3. Failsafe starts the previous release beside the current one, switches traffic once it is ready, ' +
      'and stops the bad one after its grace period (blue-green: no downtime).',
    '',
    '## 4. Post-rollback verification (recorded as RollbackVerified)',
    '1. Service status: the previous release answers on the stable address.',
    '2. Health check: /health is OK at every probe of the verification window (10 s, 3 probes).',
    "3. Tool availability: tools/list lists exactly the release's tools minus those disabled on purpose.",
    '4. Error rate check: below 5 % over the window, on at least 10 tool calls (probeTool calls if traffic is thin).',
    'If verification fails or the rollback fails three times, Failsafe escalates it (RollbackEscalated): ' +
      'page the on-call engineer and read `failsafe explain` for the decision and its evidence.',
    '',
    '## 5. Afterwards',
    '- Fill the post-incident review (the post_incident_review prompt) within 24 hours.',
    '- Update this policy if a threshold was wrong; ' +
      '`failsafe audit verify` shows what the new rules would have decided.',
  ].join('\n');
}
