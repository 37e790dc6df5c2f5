import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { TelemetryConsumerStatus } from '../kafka/telemetry-consumer.js';
import type { EventFeedReport, EventFeedState } from '../kafka/event-feed-relay.js';
import type { DrillHistoryState } from '../../projections/drill-history.js';
import type { DrillSchedulesState } from '../../projections/drill-schedules.js';
import type { RollbackTimingsState } from '../../projections/rollback-timings.js';
import { serviceStatus, type ServicesState } from '../../projections/service-state.js';
import { drillGauges, type DrillGauges } from './drill-gauges.js';

/** Latency buckets from 1 ms to 10 s: a control plane answers fast or something is wrong. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Rollback durations from 1 s to an hour, with the seeds' marks: quick under 5 minutes, standard under 15. */
const ROLLBACK_BUCKETS = [1, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600];

/** The drill gauges: name, help, and which value of a drill's DrillGauges each one shows. */
const DRILL_GAUGES: readonly [string, string, keyof Omit<DrillGauges, 'drill'>][] = [
  ['failsafe_drill_last_run_timestamp_seconds', 'When the last run of the drill with a verdict finished', 'lastRunAt'],
  [
    'failsafe_drill_last_run_passed',
    'Whether the last run of the drill with a verdict passed (1) or failed (0)',
    'lastRunPassed',
  ],
  [
    'failsafe_drill_next_due_timestamp_seconds',
    'When the next scheduled run of the drill is due (past: overdue)',
    'nextDueAt',
  ],
  [
    'failsafe_drill_mttd_seconds',
    'Time to detect the fault, in the last run of the drill with a verdict',
    'mttdSeconds',
  ],
  [
    'failsafe_drill_mttr_seconds',
    'Time to recover from the fault, in the last run of the drill with a verdict',
    'mttrSeconds',
  ],
];

/**
 * Failsafe's own metrics, under the names the seeds' runbooks query (`mcp_requests_total`,
 * `mcp_request_duration_seconds`, `mcp_tool_requests_total`, `mcp_rollbacks_triggered_total`),
 * plus the HTTP API, event-store append latency and projection lag. One registry per process.
 */
export class FailsafeMetrics {
  readonly registry = new Registry();
  readonly mcpRequests = new Counter({
    name: 'mcp_requests_total',
    help: 'MCP requests received, by JSON-RPC method and HTTP status',
    labelNames: ['method', 'status'],
    registers: [this.registry],
  });
  readonly mcpDuration = new Histogram({
    name: 'mcp_request_duration_seconds',
    help: 'Time to answer an MCP request, by JSON-RPC method',
    labelNames: ['method'],
    buckets: BUCKETS,
    registers: [this.registry],
  });
  readonly toolRequests = new Counter({
    name: 'mcp_tool_requests_total',
    help: 'MCP tool calls, by tool and outcome',
    labelNames: ['tool_name', 'status'],
    registers: [this.registry],
  });
  readonly rollbacksTriggered = new Counter({
    name: 'mcp_rollbacks_triggered_total',
    help: 'Rollbacks decided or requested since this process started, by reason (the rule, or manual_request)',
    labelNames: ['reason', 'mode'],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'failsafe_http_requests_total',
    help: 'HTTP requests, by route and status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'failsafe_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route',
    labelNames: ['route', 'method'],
    buckets: BUCKETS,
    registers: [this.registry],
  });
  readonly appendDuration = new Histogram({
    name: 'failsafe_event_store_append_duration_seconds',
    help: 'Time to append to the event store (durable), by outcome',
    labelNames: ['outcome'],
    buckets: BUCKETS,
    registers: [this.registry],
  });

  readonly kafkaTelemetryMessages = new Counter({
    name: 'failsafe_kafka_telemetry_messages_total',
    help: 'Telemetry messages consumed from Kafka, by topic and outcome (recorded, duplicate, dead_lettered)',
    labelNames: ['topic', 'outcome'],
    registers: [this.registry],
  });

  readonly feedPublished = new Counter({
    name: 'failsafe_kafka_feed_published_total',
    help: 'Events the Kafka event feed published and the broker acknowledged (republished ones included)',
    registers: [this.registry],
  });

  constructor(projectionLag: () => Promise<Record<string, number>>) {
    collectDefaultMetrics({ register: this.registry });
    // prom-client names these gauges like counters, which promtool (and Prometheus' conventions) reject.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'])
      this.registry.removeSingleMetric(name);
    new Gauge({
      name: 'failsafe_projection_lag_events',
      help: 'Events recorded in the store that a read model has not applied yet',
      labelNames: ['projection'],
      registers: [this.registry],
      async collect() {
        for (const [projection, lag] of Object.entries(await projectionLag())) this.set({ projection }, lag);
      },
    });
  }

  /** The telemetry consumer's lag per partition it holds, read at each scrape. */
  watchTelemetryConsumer(status: () => TelemetryConsumerStatus): void {
    new Gauge({
      name: 'failsafe_kafka_consumer_lag_messages',
      help: 'Telemetry messages in Kafka not yet recorded, per topic and partition (as of the last batch)',
      labelNames: ['topic', 'partition'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { topic, partition, lag } of status().lag) this.set({ topic, partition: String(partition) }, lag);
      },
    });
  }

  /** The Kafka event feed's position, lag and state, read at each scrape: registered when the feed runs. */
  watchEventFeed(report: () => Promise<EventFeedReport>): void {
    const registers = [this.registry];
    new Gauge({
      name: 'failsafe_kafka_feed_position',
      help: 'Global position in $all of the last event the broker acknowledged (the relay checkpoint)',
      registers,
      async collect() {
        this.set(Number((await report()).position));
      },
    });
    new Gauge({
      name: 'failsafe_kafka_feed_lag_events',
      help: "Events in the store the Kafka event feed has not published yet (the store's end minus its position)",
      registers,
      async collect() {
        this.set((await report()).lagEvents);
      },
    });
    const states: EventFeedState[] = ['following', 'publishing', 'waiting_for_broker', 'stopped'];
    new Gauge({
      name: 'failsafe_kafka_feed_state',
      help: 'The Kafka event feed relay state: 1 for the current one',
      labelNames: ['state'],
      registers,
      async collect() {
        const { state } = await report();
        for (const each of states) this.set({ state: each }, each === state ? 1 : 0);
      },
    });
  }

  /** `failsafe_service_status{service,status,release}`: 1 for each service's status word and current release. */
  watchServices(read: () => ServicesState): void {
    new Gauge({
      name: 'failsafe_service_status',
      help: "Each registered service's status (as `failsafe services` says it) and current release: always 1",
      labelNames: ['service', 'status', 'release'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const view of Object.values(read().services))
          this.set({ service: view.service, status: serviceStatus(view), release: view.currentRelease ?? '' }, 1);
      },
    });
  }

  /**
   * The `failsafe_drill_*` gauges, read from the drill read models at each scrape: a restarted
   * Failsafe shows the same values once its read models have caught up.
   */
  watchDrills(read: () => { history: DrillHistoryState; schedules: DrillSchedulesState }): void {
    for (const [name, help, key] of DRILL_GAUGES)
      new Gauge({
        name,
        help,
        labelNames: ['drill'],
        registers: [this.registry],
        collect() {
          this.reset();
          const { history, schedules } = read();
          for (const drill of drillGauges(history, schedules)) {
            const value = drill[key];
            if (value !== undefined) this.set({ drill: drill.drill }, Number(value));
          }
        },
      });
  }

  /**
   * `failsafe_rollback_duration_seconds{service,outcome}`, from decision to outcome, rebuilt at each
   * scrape from the rollback-timings read model: the whole history, whenever this process started.
   */
  watchRollbacks(read: () => RollbackTimingsState): void {
    new Histogram({
      name: 'failsafe_rollback_duration_seconds',
      help: 'Time from a rollback decision (or manual request) to its outcome, by service and outcome',
      labelNames: ['service', 'outcome'],
      buckets: ROLLBACK_BUCKETS,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { service, outcome, seconds } of read().finished) this.observe({ service, outcome }, seconds);
      },
    });
  }

  observeAppend = (seconds: number, outcome: string): void => {
    this.appendDuration.observe({ outcome }, seconds);
  };

  /** `failsafe_telemetry_stale{service}`: 1 while a pushing service's telemetry is recorded as stale, else 0. */
  watchTelemetry(staleness: () => Record<string, boolean>): void {
    new Gauge({
      name: 'failsafe_telemetry_stale',
      help: 'Whether a service that pushes its telemetry has sent nothing for too long (1) or not (0)',
      labelNames: ['service'],
      registers: [this.registry],
      collect() {
        for (const [service, stale] of Object.entries(staleness())) this.set({ service }, stale ? 1 : 0);
      },
    });
  }
}
