import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel queries the Prometheus data source chosen in the dashboard's `datasource` variable. */
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

/** One PromQL query of a panel, and how its series are named in the legend. */
export interface Query {
  readonly expr: string;
  readonly legend?: string;
}

/** Warning and critical marks (the seeds' thresholds), drawn on the panel in amber and red. */
export type Marks = readonly [warning: number, critical: number];

const targets = (queries: readonly Query[]) =>
  queries.map((q, i) =>
    new DataqueryBuilder()
      .expr(q.expr)
      .legendFormat(q.legend ?? '__auto')
      .refId(String.fromCharCode(65 + i)),
  );

const thresholds = (marks: Marks | undefined) =>
  new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'green' },
    ...(marks
      ? [
          { value: marks[0], color: 'orange' },
          { value: marks[1], color: 'red' },
        ]
      : []),
  ]);

/** A line graph over time; with marks, the warning and critical lines are drawn on it. */
export function timeseries(title: string, unit: string, queries: readonly Query[], marks?: Marks) {
  const panel = new TimeseriesBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .min(0)
    .height(8)
    .span(12)
    .targets(targets(queries))
    .thresholds(thresholds(marks));
  return marks
    ? panel.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line))
    : panel;
}

/** A line graph of one query, without marks. */
export const graph = (title: string, unit: string, expr: string, legend: string) =>
  timeseries(title, unit, [{ expr, legend }]);

/** One number (the last value of each series), coloured by the marks. */
export function stat(title: string, unit: string, queries: readonly Query[], marks?: Marks) {
  return new StatBuilder()
    .title(title)
    .datasource(DATASOURCE)
    .unit(unit)
    .height(5)
    .span(6)
    .targets(targets(queries))
    .thresholds(thresholds(marks))
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** The current value of each series, one row each, labels as columns (instant queries). */
export function table(title: string, unit: string, queries: readonly Query[]) {
  return (
    new TableBuilder()
      .title(title)
      .datasource(DATASOURCE)
      .unit(unit)
      .height(8)
      .span(24)
      .targets(targets(queries).map((t) => t.instant().format(PromQueryFormat.Table)))
      // One row per series across the queries, instead of one table per query to pick from.
      .withTransformation({ id: 'merge', options: {} })
  );
}

/** A dashboard with the shared settings: tagged `failsafe`, the data source variable, refreshed every 30 s. */
export function failsafeDashboard(uid: string, title: string, description: string) {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['failsafe'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('utc')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
}

/**
 * A variable listing the values of `label` on `metric` (all selected by default). "All" means
 * `.+`: series without the label (Failsafe's own, for a fleet label) stay out.
 */
export const labelVariable = (name: string, label: string, metric: string) =>
  new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query(`label_values(${metric}, ${label})`)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .current({ text: 'All', value: '$__all' });
