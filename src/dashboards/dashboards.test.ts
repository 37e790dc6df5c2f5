import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardQueries } from './dashboard-queries.js';
import { buildDashboards, DASHBOARDS_DIR } from './dashboards.js';
import { promqlMetricNames } from './promql-metric-names.js';

const REGENERATE = 'regenerate them with `npm run dashboards` and commit compose/grafana/dashboards/';

describe('the dashboards', () => {
  const dashboards = buildDashboards();

  it('are committed exactly as the code generates them', () => {
    const files = readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort(), `the files differ from the dashboards the code builds: ${REGENERATE}`).toEqual(
      dashboards.map((d) => `${d.uid}.json`).sort(),
    );
    for (const dashboard of dashboards) {
      const committed = JSON.parse(readFileSync(join(DASHBOARDS_DIR, `${dashboard.uid}.json`), 'utf8'));
      // Compared as data: a formatter may lay the committed file out differently.
      expect(committed, `${dashboard.uid}.json differs from what src/dashboards/ builds: ${REGENERATE}`).toEqual(
        JSON.parse(JSON.stringify(dashboard)),
      );
    }
  });

  it('give every panel at least one query, and every query at least one series name', () => {
    for (const dashboard of dashboards) {
      const graphs = (dashboard.panels ?? []).filter((p) => p.type !== 'row');
      expect(graphs.length).toBeGreaterThan(2);
      for (const panel of graphs) expect(panel, `${dashboard.uid}: ${panel.title}`).toHaveProperty('targets.0.expr');
      for (const { where, expr } of dashboardQueries(dashboard))
        expect(promqlMetricNames(expr), `${dashboard.uid}, ${where}: ${expr}`).not.toEqual([]);
    }
  });

  it('have distinct uids and panel ids', () => {
    expect(new Set(dashboards.map((d) => d.uid)).size).toBe(dashboards.length);
    for (const dashboard of dashboards) {
      const ids = (dashboard.panels ?? []).map((p) => p.id);
      expect(new Set(ids).size, dashboard.uid).toBe(ids.length);
    }
  });
});
