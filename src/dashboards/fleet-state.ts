import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { failsafeDashboard, graph, stat, table } from './panels.js';

/** What each service of the fleet runs and what Failsafe is doing about it. */
export const fleetStateDashboard = () =>
  failsafeDashboard(
    'failsafe-fleet-state',
    'Failsafe / Fleet state',
    "Each service's status and release as Failsafe's read models hold them, rollbacks under way, stale telemetry.",
  )
    .withRow(new RowBuilder('Now'))
    .withPanel(stat('Services', 'none', [{ expr: 'count(failsafe_service_status)' }]))
    .withPanel(stat('Healthy', 'none', [{ expr: 'count(failsafe_service_status{status="healthy"}) or vector(0)' }]))
    .withPanel(
      stat(
        'Rolling back or awaiting approval',
        'none',
        [{ expr: 'count(failsafe_service_status{status=~"rolling_back|awaiting_approval"}) or vector(0)' }],
        [1, 1],
      ),
    )
    .withPanel(
      stat('Escalated', 'none', [{ expr: 'count(failsafe_service_status{status="escalated"}) or vector(0)' }], [1, 1]),
    )
    .withPanel(
      table('Services: status and current release', 'none', [
        { expr: 'max by (service, status, release) (failsafe_service_status)' },
      ]),
    )
    .withRow(new RowBuilder('Over time'))
    .withPanel(graph('Services by status', 'none', 'count by (status) (failsafe_service_status)', '{{status}}'))
    .withPanel(
      graph(
        'Rollbacks triggered (per hour)',
        'none',
        'sum by (reason) (increase(mcp_rollbacks_triggered_total[1h]))',
        '{{reason}}',
      ),
    )
    .withPanel(
      graph('Pushing services with stale telemetry', 'none', 'sum(failsafe_telemetry_stale) or vector(0)', 'stale'),
    );
