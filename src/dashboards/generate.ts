import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDashboards, DASHBOARDS_DIR, dashboardJson } from './dashboards.js';

// npm run dashboards: writes compose/grafana/dashboards/<uid>.json from the code in this folder
// (the npm script then formats them with biome).
mkdirSync(DASHBOARDS_DIR, { recursive: true });
for (const dashboard of buildDashboards()) {
  const file = join(DASHBOARDS_DIR, `${dashboard.uid}.json`);
  writeFileSync(file, dashboardJson(dashboard));
  console.log(`dashboards: wrote ${file}`);
}
