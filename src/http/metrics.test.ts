import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServeConfig } from '../config/serve-config.js';
import { startControlPlane, STORE_FILE } from '../control-plane.js';
import { SEEDED, scrapeCaughtUp, seedOperationsStore } from './operations-history.fixture.js';

/** The lines of a scrape for the drill gauges and the rollback histogram. */
const operationsLines = async (url: string) =>
  (await scrapeCaughtUp(url)).split('\n').filter((line) => /^failsafe_(drill_|rollback_duration_seconds)/.test(line));

describe('the drill and rollback metrics of serve', () => {
  let dataDir: string;
  let firstScrape: string[];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'failsafe-metrics-'));
    await seedOperationsStore(join(dataDir, STORE_FILE));
    const plane = await startControlPlane(loadServeConfig({ dataDir, port: '0' }, {}), () => {});
    try {
      firstScrape = await operationsLines(plane.url);
    } finally {
      await plane.stop();
    }
  }, 30_000);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("show each drill's last verdict, MTTD, MTTR and next due time from the recorded history", () => {
    const drill = `{drill="${SEEDED.drill}"}`;
    expect(firstScrape).toEqual(
      expect.arrayContaining([
        `failsafe_drill_last_run_timestamp_seconds${drill} ${SEEDED.drillFinishedAt / 1000}`,
        `failsafe_drill_last_run_passed${drill} 1`,
        `failsafe_drill_mttd_seconds${drill} ${SEEDED.mttdMs / 1000}`,
        `failsafe_drill_mttr_seconds${drill} ${SEEDED.mttrMs / 1000}`,
        `failsafe_drill_next_due_timestamp_seconds${drill} ${SEEDED.nextDue / 1000}`,
      ]),
    );
  });

  it('time each rollback from its decision to its verification', () => {
    const labels = `service="${SEEDED.service}",outcome="verified"`;
    expect(firstScrape).toEqual(
      expect.arrayContaining([
        `failsafe_rollback_duration_seconds_bucket{le="60",${labels}} 0`,
        `failsafe_rollback_duration_seconds_bucket{le="120",${labels}} 1`,
        `failsafe_rollback_duration_seconds_sum{${labels}} ${SEEDED.rollbackSeconds}`,
        `failsafe_rollback_duration_seconds_count{${labels}} 1`,
      ]),
    );
  });

  it('show the same values after a restart, read from the checkpoints and the history', async () => {
    const plane = await startControlPlane(loadServeConfig({ dataDir, port: '0' }, {}), () => {});
    try {
      expect(await operationsLines(plane.url)).toEqual(firstScrape);
    } finally {
      await plane.stop();
    }
  }, 30_000);
});
