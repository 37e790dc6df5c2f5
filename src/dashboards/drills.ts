import { RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { failsafeDashboard, graph, labelVariable, stat, table } from './panels.js';

const selected = '{drill=~"$drill"}';

/** Chaos drills: the last verdict of each, when the next is due, and the MTTD/MTTR trend. */
export const drillsDashboard = () =>
  failsafeDashboard(
    'failsafe-drills',
    'Failsafe / Drills',
    "Each drill's last verdict, how long ago it ran, when it is next due, and its MTTD and MTTR over time.",
  )
    .withVariable(labelVariable('drill', 'drill', 'failsafe_drill_next_due_timestamp_seconds'))
    .withRow(new RowBuilder('Now'))
    .withPanel(
      stat(
        'Drills whose last run failed',
        'none',
        [{ expr: `count(failsafe_drill_last_run_passed${selected} == 0) or vector(0)` }],
        [1, 1],
      ),
    )
    .withPanel(
      stat(
        'Drills overdue',
        'none',
        [{ expr: `count(failsafe_drill_next_due_timestamp_seconds${selected} < time()) or vector(0)` }],
        [1, 1],
      ),
    )
    .withPanel(stat('Worst MTTD (last runs)', 's', [{ expr: `max(failsafe_drill_mttd_seconds${selected})` }]))
    .withPanel(stat('Worst MTTR (last runs)', 's', [{ expr: `max(failsafe_drill_mttr_seconds${selected})` }]))
    .withPanel(
      table('Drills: last verdict, age of the last run, time until due', 'none', [
        { expr: `max by (drill) (failsafe_drill_last_run_passed${selected})`, legend: 'passed' },
        { expr: `time() - max by (drill) (failsafe_drill_last_run_timestamp_seconds${selected})`, legend: 'age' },
        { expr: `max by (drill) (failsafe_drill_next_due_timestamp_seconds${selected}) - time()`, legend: 'due in' },
      ]),
    )
    .withRow(new RowBuilder('Trend'))
    .withPanel(
      graph(
        'Time to detect (MTTD) of the last run, by drill',
        's',
        `max by (drill) (failsafe_drill_mttd_seconds${selected})`,
        '{{drill}}',
      ),
    )
    .withPanel(
      graph(
        'Time to recover (MTTR) of the last run, by drill',
        's',
        `max by (drill) (failsafe_drill_mttr_seconds${selected})`,
        '{{drill}}',
      ),
    )
    .withPanel(
      graph(
        'Last verdict over time (1 passed, 0 failed)',
        'none',
        `max by (drill) (failsafe_drill_last_run_passed${selected})`,
        '{{drill}}',
      ),
    );
