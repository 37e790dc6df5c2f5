import type { LoadSummary } from './k6.js';
import { verdictWord, type Scorecard, type Verdict } from './scorecard.js';
import { escapeHtml, seconds } from './svg-chart.js';
import { timelineChart } from './timeline-chart.js';
import { trendChart } from './trend-chart.js';

const loadCells = (summary: LoadSummary) =>
  `<td>${summary.requests}</td><td>${summary.medianMs.toFixed(1)} ms</td><td>${summary.p95Ms.toFixed(1)} ms</td>` +
  `<td>${(summary.errorRate * 100).toFixed(1)} %</td>`;
const loadRow = (phase: string, summary: LoadSummary | undefined) =>
  `<tr><td>${phase}</td>${summary ? loadCells(summary) : '<td colspan="4">did not run</td>'}</tr>`;

const reportStyle = (verdictColor: string) =>
  [
    'body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#1d2330;padding:0 1em}',
    'h1{margin-bottom:.2em}.verdict{display:inline-block;padding:.2em .7em;border-radius:1em;color:#fff;' +
      `background:${verdictColor};font-weight:600}`,
    '.figures{display:flex;gap:1em;margin:1.5em 0}' +
      '.figure{flex:1;background:#f7f8fa;border-radius:8px;padding:.8em 1em}.figure b{display:block;font-size:1.6em}',
    'table{border-collapse:collapse;width:100%;margin:1em 0}' +
      'td,th{text-align:left;padding:.4em .6em;border-bottom:1px solid #e3e6ea}td:first-child{white-space:nowrap}',
    '.pass{color:#2f9e68;font-weight:600}.fail{color:#d64545;font-weight:600}small{color:#666}' +
      '.not-judged{color:#8a94a6;font-weight:600;white-space:nowrap}svg{display:block;max-width:100%;height:auto}',
  ].join('\n');

/** Expectations met out of those judged: an aborted run judged none. */
const met = (card: Scorecard) => {
  const judged = card.expectations.filter((e) => !e.notJudged);
  if (judged.length < card.expectations.length) return 'not judged';
  return `${judged.filter((e) => e.passed).length}/${judged.length} met`;
};
const OUTCOME_CLASSES: Record<Scorecard['outcome'], string> = { passed: 'pass', failed: 'fail', aborted: 'not-judged' };
const verdictClass = (v: Verdict) => (v.notJudged ? 'not-judged' : v.passed ? 'pass' : 'fail');

/** A self-contained HTML page (no script, no external file): verdict, figures, timeline chart, expectations, load. */
export function drillReportHtml(card: Scorecard): string {
  const verdictColor = card.outcome === 'passed' ? '#2f9e68' : card.outcome === 'failed' ? '#d64545' : '#8a94a6';
  const run =
    `service ${escapeHtml(card.service)} · run ${escapeHtml(card.runId)} · ` +
    `${escapeHtml(card.startedAt)} → ${escapeHtml(card.finishedAt)}`;
  const errorsDuring = card.load.during ? `${(card.load.during.errorRate * 100).toFixed(1)} %` : '—';
  const expectationRows = card.expectations
    .map(
      (e) =>
        `<tr><td class="${verdictClass(e)}">${verdictWord(e)}</td>` +
        `<td>${escapeHtml(e.expectation)}</td><td>${escapeHtml(e.detail)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drill ${escapeHtml(card.drill)} — ${card.outcome}</title>
<style>
${reportStyle(verdictColor)}
</style></head><body>
<h1>Drill ${escapeHtml(card.drill)} <span class="verdict">${card.outcome.toUpperCase()}</span></h1>
<p>${escapeHtml(card.description)}<br><small>${run}</small></p>
${card.abortReason ? `<p class="fail">Aborted: ${escapeHtml(card.abortReason)}</p>` : ''}
<div class="figures">
  <div class="figure">time to detect<b>${seconds(card.timeToDetectMs)}</b></div>
  <div class="figure">time to recover<b>${seconds(card.timeToRecoverMs)}</b></div>
  <div class="figure">expectations<b>${met(card)}</b></div>
  <div class="figure">errors during<b>${errorsDuring}</b></div>
</div>
<h2>Timeline</h2>
${timelineChart(card)}
<h2>Expectations</h2>
<table><tr><th></th><th>expectation</th><th>observed</th></tr>
${expectationRows}
</table>
<h2>Load (k6)</h2>
<table><tr><th>phase</th><th>requests</th><th>median</th><th>p95</th><th>errors</th></tr>
${loadRow('before the faults', card.load.before)}
${loadRow('during', card.load.during)}
${loadRow('after recovery', card.load.after)}
</table>
<h2>Steps</h2>
<table>${card.timeline
    .filter((t) => t.kind !== 'sample')
    .map((t) => `<tr><td>${seconds(t.at - Date.parse(card.startedAt))}</td><td>${escapeHtml(t.label)}</td></tr>`)
    .join('\n')}</table>
</body></html>
`;
}

/** Runs of one drill, oldest first, as a text table: is detection getting slower? */
export function trendTable(cards: readonly Scorecard[]): string {
  const rows = cards.map(
    (c) =>
      `${c.startedAt.slice(0, 16).replace('T', ' ')}  ${c.outcome.padEnd(7)}  ` +
      `detect ${seconds(c.timeToDetectMs).padStart(7)}  recover ${seconds(c.timeToRecoverMs).padStart(7)}  ` +
      `${met(c)}  ${c.runId}`,
  );
  return rows.join('\n');
}

/** Runs of one drill, oldest first, as a self-contained page: MTTD and MTTR over the runs, then every run. */
export function drillTrendHtml(drill: string, cards: readonly Scorecard[]): string {
  const rows = cards
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.startedAt)}</td><td class="${OUTCOME_CLASSES[c.outcome]}">` +
        `${c.outcome.toUpperCase()}</td><td>${seconds(c.timeToDetectMs)}</td><td>${seconds(c.timeToRecoverMs)}</td>` +
        `<td>${met(c)}</td><td>${escapeHtml(c.runId)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drill ${escapeHtml(drill)} — trend</title>
<style>
${reportStyle('#8a94a6')}
</style></head><body>
<h1>Drill ${escapeHtml(drill)}: ${cards.length} run(s)</h1>
<p><small>Time from the first fault to Failsafe's decision (detect) and to the service restored (recover).</small></p>
${trendChart(cards)}
<table><tr><th>started</th><th>outcome</th><th>detect</th><th>recover</th><th>expectations</th><th>run</th></tr>
${rows}
</table>
</body></html>
`;
}
