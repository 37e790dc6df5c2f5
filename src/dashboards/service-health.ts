import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { failsafeDashboard, graph, labelVariable, timeseries } from './panels.js';

const selected = '{service=~"$service"}';
const rate = (metric: string, matchers = '') =>
  `sum by (service) (rate(${metric}{service=~"$service"${matchers}}[$__rate_interval]))`;

/**
 * Health of each fleet service from its own /metrics (the names the seeds' runbooks query), with
 * the seeds' thresholds drawn: the signals the rollback policy and the alert rules judge.
 */
export const serviceHealthDashboard = () =>
  failsafeDashboard(
    'failsafe-service-health',
    'Failsafe / Service health',
    "Error rate, P95 latency, memory and CPU of each fleet service, against the seeds' thresholds.",
  )
    .withVariable(labelVariable('service', 'service', 'mcp_requests_total'))
    .withRow(new RowBuilder('Requests'))
    .withPanel(
      timeseries(
        'Error rate (HighErrorRate 5 %, CriticalErrorRate 15 %)',
        'percentunit',
        [
          {
            expr: `${rate('mcp_requests_total', ',status="error"')} / ${rate('mcp_requests_total')}`,
            legend: '{{service}}',
          },
        ],
        [0.05, 0.15],
      ),
    )
    .withPanel(
      timeseries(
        'P95 latency (HighLatency 1 s, CriticalLatency 5 s)',
        's',
        [
          {
            expr:
              'histogram_quantile(0.95, sum by (le, service) ' +
              `(rate(mcp_request_duration_seconds_bucket${selected}[$__rate_interval])))`,
            legend: '{{service}}',
          },
        ],
        [1, 5],
      ),
    )
    .withPanel(graph('Requests per second', 'reqps', rate('mcp_requests_total'), '{{service}}'))
    .withPanel(
      graph(
        'Tool calls failing, per second',
        'reqps',
        'sum by (service, tool) ' +
          `(rate(mcp_tool_requests_total{service=~"$service",status="error"}[$__rate_interval]))`,
        '{{service}} {{tool}}',
      ),
    )
    .withRow(new RowBuilder('Resources'))
    .withPanel(
      timeseries(
        'Memory used of its limit (HighMemoryUsage 90 %, CriticalMemoryUsage 95 %)',
        'percentunit',
        [
          {
            expr:
              `max by (service) (process_resident_memory_bytes${selected}` +
              ` / on (service, instance) process_memory_limit_bytes${selected})`,
            legend: '{{service}}',
          },
        ],
        [0.9, 0.95],
      ),
    )
    .withPanel(
      timeseries(
        'CPU, share of one core (HighCpuUsage 90 %, CriticalCpuUsage 95 %)',
        'percentunit',
        [
          {
            expr: `max by (service) (rate(process_cpu_seconds_total${selected}[$__rate_interval]))`,
            legend: '{{service}}',
          },
        ],
        [0.9, 0.95],
      ),
    );
