import type { LoadSummary } from './k6.js';
import type { Scorecard, TimelineEntry } from './scorecard.js';

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

const COLORS: Record<TimelineEntry['kind'], string> = {
  step: '#8a94a6',
  fault: '#d64545',
  heal: '#2f9e68',
  decision: '#e08a00',
  recovery: '#2f6fd6',
  sample: '#555',
};

/** The timeline as an SVG: error rate of the health samples as a line, events as labelled markers. */
function timelineChart(card: Scorecard): string {
  const width = 960;
  const height = 320;
  const left = 50;
  const top = 20;
  const plotHeight = 170;
  const start = Date.parse(card.startedAt);
  const end = Math.max(Date.parse(card.finishedAt), start + 1000);
  const x = (at: number) => left + ((at - start) / (end - start)) * (width - left - 20);
  const y = (rate: number) => top + plotHeight - rate * plotHeight;
  const samples = card.timeline.filter((t) => t.kind === 'sample' && t.errorRate !== undefined);
  const line = samples
    .map((s, i) => `${i === 0 ? 'M' : 'L'}${x(s.at).toFixed(1)},${y(s.errorRate!).toFixed(1)}`)
    .join(' ');
  const marks = card.timeline.filter((t) => t.kind !== 'sample' && t.kind !== 'step');
  const ticks = Array.from({ length: 6 }, (_, i) => start + ((end - start) * i) / 5);
  const middle = top + plotHeight / 2;
  const yLabels = [0, 0.5, 1]
    .map((r) => `<text x="${left - 6}" y="${y(r) + 4}" text-anchor="end" fill="#666">${r * 100}%</text>`)
    .join('');
  const xLabels = ticks
    .map(
      (t) =>
        `<text x="${x(t)}" y="${top + plotHeight + 16}" text-anchor="middle" fill="#666">${seconds(t - start)}</text>`,
    )
    .join('');
  const sampleTitle = (s: TimelineEntry) =>
    `${seconds(s.at - start)}: ${s.label}, errors ${((s.errorRate ?? 0) * 100).toFixed(1)} %` +
    (s.p95Ms !== undefined ? `, p95 ${s.p95Ms.toFixed(0)} ms` : '');
  const dots = samples
    .map(
      (s) =>
        `<circle cx="${x(s.at).toFixed(1)}" cy="${y(s.errorRate!).toFixed(1)}" r="2" fill="${COLORS.sample}">` +
        `<title>${escapeHtml(sampleTitle(s))}</title></circle>`,
    )
    .join('\n  ');
  const markers = marks
    .map((m, i) => {
      const at = x(m.at).toFixed(1);
      const color = COLORS[m.kind];
      return (
        `<line x1="${at}" x2="${at}" y1="${top}" y2="${top + plotHeight}" stroke="${color}" stroke-width="2" ` +
        `stroke-dasharray="${m.kind === 'heal' ? '4 3' : ''}"/>\n  ` +
        `<text x="${at}" y="${top + plotHeight + 34 + (i % 4) * 14}" fill="${color}" text-anchor="middle">` +
        `${escapeHtml(m.label.slice(0, 60))}</text>`
      );
    })
    .join('\n  ');
  const svgAttributes =
    'role="img" aria-label="Timeline of the drill" xmlns="http://www.w3.org/2000/svg" ' +
    'font-family="system-ui, sans-serif" font-size="11"';
  return `<svg viewBox="0 0 ${width} ${height}" ${svgAttributes}>
  <rect x="${left}" y="${top}" width="${width - left - 20}" height="${plotHeight}" fill="#f7f8fa" stroke="#d9dde3"/>
  ${yLabels}
  <text x="12" y="${middle}" transform="rotate(-90 12 ${middle})" text-anchor="middle" fill="#666">error rate</text>
  ${xLabels}
  ${line ? `<path d="${line}" fill="none" stroke="${COLORS.sample}" stroke-width="1.5"/>` : ''}
  ${dots}
  ${markers}
</svg>`;
}

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
      'td,th{text-align:left;padding:.4em .6em;border-bottom:1px solid #e3e6ea}',
    '.pass{color:#2f9e68;font-weight:600}.fail{color:#d64545;font-weight:600}small{color:#666}',
  ].join('\n');

/** A self-contained HTML page (no script, no external file): verdict, figures, timeline chart, expectations, load. */
export function drillReportHtml(card: Scorecard): string {
  const verdictColor = card.outcome === 'passed' ? '#2f9e68' : card.outcome === 'failed' ? '#d64545' : '#8a94a6';
  const run =
    `service ${escapeHtml(card.service)} · run ${escapeHtml(card.runId)} · ` +
    `${escapeHtml(card.startedAt)} → ${escapeHtml(card.finishedAt)}`;
  const met = `${card.expectations.filter((e) => e.passed).length} / ${card.expectations.length}`;
  const errorsDuring = card.load.during ? `${(card.load.during.errorRate * 100).toFixed(1)} %` : '—';
  const expectationRows = card.expectations
    .map(
      (e) =>
        `<tr><td class="${e.passed ? 'pass' : 'fail'}">${e.passed ? 'PASS' : 'FAIL'}</td>` +
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
  <div class="figure">expectations met<b>${met}</b></div>
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
      `${c.expectations.filter((e) => e.passed).length}/${c.expectations.length} met  ${c.runId}`,
  );
  return rows.join('\n');
}
