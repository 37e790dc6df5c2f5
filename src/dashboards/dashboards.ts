import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { fileURLToPath } from 'node:url';
import { drillsDashboard } from './drills.js';
import { eventStoreDashboard } from './event-store.js';
import { fleetStateDashboard } from './fleet-state.js';
import { rollbacksDashboard } from './rollbacks.js';
import { serviceHealthDashboard } from './service-health.js';

/** Where the generated JSON goes: compose mounts it where Grafana's file provider reads dashboards. */
export const DASHBOARDS_DIR = fileURLToPath(new URL('../../compose/grafana/dashboards/', import.meta.url));

/** Every dashboard, built: the generator writes each to `<uid>.json` in DASHBOARDS_DIR. */
export const buildDashboards = (): Dashboard[] =>
  [fleetStateDashboard, rollbacksDashboard, drillsDashboard, serviceHealthDashboard, eventStoreDashboard].map((d) => {
    const dashboard = d().build();
    // Grafana wants a unique id per panel (links and "view panel" use it); the SDK leaves them to us.
    for (const [i, panel] of (dashboard.panels ?? []).entries()) panel.id = i + 1;
    return dashboard;
  });

/** A dashboard as its file holds it. */
export const dashboardJson = (dashboard: Dashboard): string => `${JSON.stringify(dashboard, null, 2)}\n`;
