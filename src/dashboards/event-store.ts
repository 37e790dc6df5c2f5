import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { failsafeDashboard, graph, timeseries } from './panels.js';

const APPEND = 'failsafe_event_store_append_duration_seconds';

/** The event store and what reads it: append latency, read model lag, Kafka lag. */
export const eventStoreDashboard = () =>
  failsafeDashboard(
    'failsafe-event-store',
    'Failsafe / Event store',
    'Append latency and rate of the event store, how far each read model lags, and Kafka consumer and feed lag.',
  )
    .withRow(new RowBuilder('Appends'))
    .withPanel(
      timeseries('Append latency, P50 / P95 / P99', 's', [
        {
          expr: `histogram_quantile(0.5, sum by (le) (rate(${APPEND}_bucket{outcome="ok"}[$__rate_interval])))`,
          legend: 'P50',
        },
        {
          expr: `histogram_quantile(0.95, sum by (le) (rate(${APPEND}_bucket{outcome="ok"}[$__rate_interval])))`,
          legend: 'P95',
        },
        {
          expr: `histogram_quantile(0.99, sum by (le) (rate(${APPEND}_bucket{outcome="ok"}[$__rate_interval])))`,
          legend: 'P99',
        },
      ]),
    )
    .withPanel(
      graph(
        'Appends per second, by outcome',
        'ops',
        `sum by (outcome) (rate(${APPEND}_count[$__rate_interval]))`,
        '{{outcome}}',
      ),
    )
    .withRow(new RowBuilder('Lag'))
    .withPanel(
      graph(
        'Read model lag (events)',
        'none',
        'max by (projection) (failsafe_projection_lag_events)',
        '{{projection}}',
      ),
    )
    .withPanel(
      graph(
        'Kafka telemetry consumer lag (messages)',
        'none',
        'sum by (topic) (failsafe_kafka_consumer_lag_messages)',
        '{{topic}}',
      ),
    )
    .withPanel(graph('Kafka event feed lag (events)', 'none', 'max(failsafe_kafka_feed_lag_events)', 'feed'))
    .withPanel(
      graph(
        'Kafka telemetry messages per second, by outcome',
        'ops',
        'sum by (outcome) (rate(failsafe_kafka_telemetry_messages_total[$__rate_interval]))',
        '{{outcome}}',
      ),
    );
