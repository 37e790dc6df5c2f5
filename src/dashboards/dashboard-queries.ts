import type { Dashboard, Panel, RowPanel } from '@grafana/grafana-foundation-sdk/dashboard';

/** One PromQL expression of a dashboard, and where it is (for a message that points at it). */
export interface DashboardQuery {
  readonly where: string;
  readonly expr: string;
}

const exprsOf = (panel: Panel | RowPanel): DashboardQuery[] =>
  panel.type === 'row'
    ? ((panel as RowPanel).panels ?? []).flatMap(exprsOf)
    : ((panel as Panel).targets ?? []).map((target) => ({
        where: `panel "${panel.title}"`,
        expr: String((target as { expr?: unknown }).expr ?? ''),
      }));

/**
 * Every PromQL expression of a dashboard: its panels' targets (rows' nested panels included) and the
 * series its query variables read (`label_values(<series>, <label>)`).
 */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const variables = (dashboard.templating?.list ?? []).flatMap((variable) => {
    const query = typeof variable.query === 'string' ? variable.query : '';
    const series = /^label_values\((.+),\s*\w+\)$/.exec(query)?.[1];
    return variable.type === 'query' ? [{ where: `variable $${variable.name}`, expr: series ?? query }] : [];
  });
  return [...variables, ...(dashboard.panels ?? []).flatMap(exprsOf)];
}
