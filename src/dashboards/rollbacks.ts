import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { failsafeDashboard, graph, labelVariable, stat, timeseries } from './panels.js';

const DURATION = 'failsafe_rollback_duration_seconds';
const selected = '{service=~"$service"}';

/** Rollbacks: how many, why, how they ended and how long decision to outcome took (quick under 5 min). */
export const rollbacksDashboard = () =>
  failsafeDashboard(
    'failsafe-rollbacks',
    'Failsafe / Rollbacks',
    'Rollbacks decided or requested, their outcomes and their time from decision to verified or failed.',
  )
    .withVariable(labelVariable('service', 'service', `${DURATION}_count`))
    .withRow(new RowBuilder('Outcomes'))
    .withPanel(stat('Rollbacks (range)', 'none', [{ expr: `sum(increase(${DURATION}_count${selected}[$__range]))` }]))
    .withPanel(
      stat('Verified (range)', 'none', [
        { expr: `sum(increase(${DURATION}_count{service=~"$service",outcome="verified"}[$__range]))` },
      ]),
    )
    .withPanel(
      stat(
        'Failed, unverified or escalated (range)',
        'none',
        [{ expr: `sum(increase(${DURATION}_count{service=~"$service",outcome!="verified"}[$__range]))` }],
        [1, 1],
      ),
    )
    .withPanel(
      stat(
        'P95 decision to outcome (range)',
        's',
        [{ expr: `histogram_quantile(0.95, sum by (le) (increase(${DURATION}_bucket${selected}[$__range])))` }],
        [300, 900],
      ),
    )
    .withRow(new RowBuilder('Timings'))
    .withPanel(
      timeseries(
        'Decision to outcome, P50 and P95 by service',
        's',
        [
          {
            expr: `histogram_quantile(0.5, sum by (le, service) (rate(${DURATION}_bucket${selected}[1h])))`,
            legend: 'P50 {{service}}',
          },
          {
            expr: `histogram_quantile(0.95, sum by (le, service) (rate(${DURATION}_bucket${selected}[1h])))`,
            legend: 'P95 {{service}}',
          },
        ],
        [300, 900],
      ),
    )
    .withPanel(
      graph(
        'Mean decision to outcome, by outcome',
        's',
        `sum by (outcome) (rate(${DURATION}_sum${selected}[1h]))` +
          ` / sum by (outcome) (rate(${DURATION}_count${selected}[1h]))`,
        '{{outcome}}',
      ),
    )
    .withPanel(
      graph(
        'Outcomes (per hour)',
        'none',
        `sum by (outcome) (increase(${DURATION}_count${selected}[1h]))`,
        '{{outcome}}',
      ),
    )
    .withPanel(
      graph(
        'Triggered, by rule and mode (per hour)',
        'none',
        'sum by (reason, mode) (increase(mcp_rollbacks_triggered_total[1h]))',
        '{{reason}} ({{mode}})',
      ),
    );
