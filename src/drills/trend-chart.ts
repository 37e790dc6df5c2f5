import type { Scorecard } from './scorecard.js';
import { escapeHtml, niceCeiling, seconds, svgAttributes, textWidth } from './svg-chart.js';

const WIDTH = 960;
const LEFT = 72;
const RIGHT = 24;
const TOP = 28;
const PLOT = 220;
const SERIES = [
  { name: 'time to detect (MTTD)', of: (c: Scorecard) => c.timeToDetectMs, color: '#e08a00', shape: 'circle' },
  { name: 'time to recover (MTTR)', of: (c: Scorecard) => c.timeToRecoverMs, color: '#2f6fd6', shape: 'square' },
] as const;
export const OUTCOME_COLORS: Record<Scorecard['outcome'], string> = {
  passed: '#2f9e68',
  failed: '#d64545',
  aborted: '#8a94a6',
};

const at1 = (n: number) => n.toFixed(1);
const runDate = (card: Scorecard) => card.startedAt.slice(5, 16).replace('T', ' ');

/**
 * Detection and recovery times of a drill's runs, oldest first, one column per run: a line per
 * figure, and each run's outcome as a coloured box under it. Dates are shown as often as they fit.
 */
export function trendChart(cards: readonly Scorecard[]): string {
  const step = (WIDTH - LEFT - RIGHT) / Math.max(1, cards.length);
  const x = (i: number) => LEFT + step * (i + 0.5);
  const max = niceCeiling(Math.max(0, ...cards.flatMap((c) => SERIES.map((s) => s.of(c) ?? 0))), 1000);
  const y = (ms: number) => TOP + PLOT - (ms / max) * PLOT;
  const grid = [0, max / 2, max]
    .map(
      (v) =>
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${at1(y(v))}" y2="${at1(y(v))}" stroke="#e3e6ea"/>` +
        `<text x="${LEFT - 6}" y="${at1(y(v) + 4)}" text-anchor="end" fill="#666">${+(v / 1000).toFixed(1)} s</text>`,
    )
    .join('\n  ');
  const series = SERIES.map((s) => {
    const points = cards.flatMap((c, i) => {
      const ms = s.of(c);
      return ms === undefined ? [] : [{ i, ms, card: c }];
    });
    const path = points.map((p, k) => `${k === 0 ? 'M' : 'L'}${at1(x(p.i))},${at1(y(p.ms))}`).join(' ');
    const marks = points.map(({ i, ms, card }) => {
      const tip = `<title>${escapeHtml(`${card.runId} ${card.outcome}: ${s.name} ${seconds(ms)}`)}</title>`;
      return s.shape === 'circle'
        ? `<circle class="point" cx="${at1(x(i))}" cy="${at1(y(ms))}" r="4" fill="${s.color}">${tip}</circle>`
        : `<rect class="point" x="${at1(x(i) - 4)}" y="${at1(y(ms) - 4)}" width="8" height="8" fill="${s.color}">` +
            `${tip}</rect>`;
    });
    return [path && `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>`, ...marks].join('\n  ');
  }).join('\n  ');
  const outcomeTop = TOP + PLOT + 8;
  const boxWidth = Math.max(2, Math.min(24, step - 2));
  const outcomes = cards
    .map(
      (c, i) =>
        `<rect class="outcome" x="${at1(x(i) - boxWidth / 2)}" y="${outcomeTop}" width="${at1(boxWidth)}" ` +
        `height="12" fill="${OUTCOME_COLORS[c.outcome]}">` +
        `<title>${escapeHtml(`${c.runId}: ${c.outcome}`)}</title></rect>`,
    )
    .join('');
  // A date every `every` runs, so that neighbouring dates never overlap.
  const every = Math.ceil((textWidth('11-24 10:00') + 12) / step);
  const dates = cards
    .map((c, i) =>
      i % every === 0
        ? `<text x="${at1(x(i))}" y="${outcomeTop + 28}" text-anchor="middle" fill="#666">${runDate(c)}</text>`
        : '',
    )
    .join('');
  const legendTop = outcomeTop + 52;
  const legendItems = [
    ...SERIES.map((s) => ({ color: s.color, text: s.name })),
    ...Object.entries(OUTCOME_COLORS).map(([outcome, color]) => ({ color, text: outcome })),
  ];
  let legendX = LEFT;
  const legend = legendItems
    .map(({ color, text }) => {
      const item =
        `<rect x="${legendX}" y="${legendTop - 9}" width="10" height="10" fill="${color}"/>` +
        `<text x="${legendX + 14}" y="${legendTop}" fill="#444">${escapeHtml(text)}</text>`;
      legendX += 14 + textWidth(text) + 18;
      return item;
    })
    .join('');
  return `<svg ${svgAttributes('Detection and recovery times over runs', WIDTH, legendTop + 12)}>
  <text x="${LEFT}" y="${TOP - 10}" fill="#1d2330" font-weight="bold">time from the first fault</text>
  <rect x="${LEFT}" y="${TOP}" width="${WIDTH - LEFT - RIGHT}" height="${PLOT}" fill="#f7f8fa" stroke="#d9dde3"/>
  ${grid}
  ${series}
  ${outcomes}
  ${dates}
  ${legend}
</svg>`;
}
