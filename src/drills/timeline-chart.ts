import type { Scorecard, TimelineEntry } from './scorecard.js';
import { escapeHtml, milliseconds, niceCeiling, placeLabels, seconds, svgAttributes, textWidth } from './svg-chart.js';

type MarkerKind = Exclude<TimelineEntry['kind'], 'sample' | 'step'>;
const MARKER_COLORS: Record<MarkerKind, string> = {
  fault: '#d64545',
  heal: '#2f9e68',
  decision: '#e08a00',
  rollback: '#9c36b5',
  recovery: '#2f6fd6',
};
const RELEASE_COLORS = ['#495057', '#c2255c', '#0c8599', '#5f3dc4', '#5c940d', '#a61e4d', '#1864ab'];
const HEALTH_COLORS = { healthy: '#8ce99a', unhealthy: '#e03131' };

const WIDTH = 960;
const LEFT = 112;
const RIGHT = 16;
const PANEL = 120;
const LANE = 16;
const STRIP_ROW = 15;

interface Frame {
  readonly x: (at: number) => number;
  readonly start: number;
  readonly releases: readonly string[];
  readonly colorOf: (release: string | undefined) => string;
}

const releaseOf = (s: TimelineEntry) => s.release ?? 'unknown';
const at1 = (n: number) => n.toFixed(1);

/** One panel: a value of the samples over time, a line per instance, a dot per sample, coloured by release. */
function panel(
  frame: Frame,
  samples: readonly TimelineEntry[],
  top: number,
  title: string,
  value: (s: TimelineEntry) => number | undefined,
  ticks: readonly { readonly value: number; readonly label: string }[],
): string {
  const max = ticks.at(-1)!.value;
  const y = (v: number) => top + PANEL - (Math.min(v, max) / max) * PANEL;
  const grid = ticks
    .map(
      (t) =>
        `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${at1(y(t.value))}" y2="${at1(y(t.value))}" stroke="#e3e6ea"/>` +
        `<text x="${LEFT - 6}" y="${at1(y(t.value) + 4)}" text-anchor="end" fill="#666">${t.label}</text>`,
    )
    .join('\n  ');
  const byInstance = new Map<string, TimelineEntry[]>();
  for (const s of samples) {
    const key = `${s.instance ?? ''} ${releaseOf(s)}`;
    const series = byInstance.get(key);
    if (series) series.push(s);
    else byInstance.set(key, [s]);
  }
  const lines = [...byInstance.values()].map((series) => {
    // A probe without the figure (no calls since the previous one) breaks the line.
    let d = '';
    let pen = 'M';
    for (const s of series) {
      const v = value(s);
      if (v === undefined) pen = 'M';
      else {
        d += `${pen}${at1(frame.x(s.at))},${at1(y(v))} `;
        pen = 'L';
      }
    }
    const color = frame.colorOf(series[0]!.release);
    return d ? `<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="1.2" stroke-opacity="0.7"/>` : '';
  });
  const dots = samples.flatMap((s) => {
    const v = value(s);
    if (v === undefined) return [];
    const tip = `${seconds(s.at - frame.start)} ${s.label}: ${sampleFigures(s)}`;
    return [
      `<circle class="point" cx="${at1(frame.x(s.at))}" cy="${at1(y(v))}" r="2.5" fill="${frame.colorOf(s.release)}">` +
        `<title>${escapeHtml(tip)}</title></circle>`,
    ];
  });
  return [
    `<text x="${LEFT}" y="${top - 7}" fill="#1d2330" font-weight="bold">${escapeHtml(title)}</text>`,
    `<rect x="${LEFT}" y="${top}" width="${WIDTH - LEFT - RIGHT}" height="${PANEL}" fill="#f7f8fa" stroke="#d9dde3"/>`,
    grid,
    ...lines,
    ...dots,
  ].join('\n  ');
}

const sampleFigures = (s: TimelineEntry) =>
  `errors ${s.errorRate === undefined ? '—' : `${(s.errorRate * 100).toFixed(1)} %`}, ` +
  `P95 ${s.p95Ms === undefined ? '—' : milliseconds(s.p95Ms)}${s.healthy === false ? ', /health failed' : ''}`;

/** A row per release: a mark per probe, green when /health answered, red when it did not. */
function healthStrip(frame: Frame, samples: readonly TimelineEntry[], top: number): string {
  return frame.releases
    .map((release, row) => {
      const y = top + row * STRIP_ROW;
      const name = release.length > 15 ? `${release.slice(0, 14)}…` : release;
      const marks = samples
        .filter((s) => releaseOf(s) === release)
        .map(
          (s) =>
            `<rect x="${at1(frame.x(s.at) - 1.5)}" y="${y}" width="3" height="9" ` +
            `fill="${s.healthy === false ? HEALTH_COLORS.unhealthy : HEALTH_COLORS.healthy}"/>`,
        )
        .join('');
      return (
        `<text x="${LEFT - 6}" y="${y + 8}" text-anchor="end" fill="${frame.colorOf(release)}">` +
        `${escapeHtml(name)}</text>${marks}`
      );
    })
    .join('\n  ');
}

/** Items in a row, wrapping onto the next row when the chart's width runs out. */
function legend(items: readonly { readonly swatch: string; readonly text: string }[], top: number) {
  let x = LEFT;
  let y = top;
  const parts = items.map(({ swatch, text }) => {
    const width = 18 + textWidth(text);
    if (x + width > WIDTH - RIGHT && x > LEFT) {
      x = LEFT;
      y += LANE;
    }
    const part =
      `<g transform="translate(${x} ${y})">${swatch}` + `<text x="18" y="4" fill="#444">${escapeHtml(text)}</text></g>`;
    x += width + 16;
    return part;
  });
  return { svg: parts.join('\n  '), bottom: y + 10 };
}

/**
 * The run as an SVG: error rate and P95 of every health sample over time (a line per instance, a
 * colour per release), /health per probe, and the fault, heal, decision, rollback and recovery
 * markers, their labels on lanes below so that none overlap or leave the chart.
 */
export function timelineChart(card: Scorecard): string {
  const start = Date.parse(card.startedAt);
  const end = Math.max(Date.parse(card.finishedAt), start + 1000);
  const samples = card.timeline.filter((t) => t.kind === 'sample');
  const releases = [...new Set(samples.map(releaseOf))];
  const frame: Frame = {
    start,
    releases,
    x: (at) => LEFT + ((Math.min(Math.max(at, start), end) - start) / (end - start)) * (WIDTH - LEFT - RIGHT),
    colorOf: (release) => RELEASE_COLORS[releases.indexOf(release ?? 'unknown') % RELEASE_COLORS.length]!,
  };
  const p95Max = niceCeiling(Math.max(0, ...samples.map((s) => s.p95Ms ?? 0)), 10);
  const errorTicks = [0, 0.5, 1].map((r) => ({ value: r, label: `${r * 100} %` }));
  const p95Ticks = [0, p95Max / 2, p95Max].map((v) => ({ value: v, label: milliseconds(v) }));
  const errorTop = 24;
  const p95Top = errorTop + PANEL + 36;
  const stripTop = p95Top + PANEL + 12;
  const axisY = stripTop + Math.max(1, releases.length) * STRIP_ROW + 14;
  const ticks = Array.from({ length: 6 }, (_, i) => start + ((end - start) * i) / 5)
    .map((t, i) => {
      const anchor = i === 0 ? 'start' : i === 5 ? 'end' : 'middle';
      const x = at1(frame.x(t));
      return `<text x="${x}" y="${axisY}" text-anchor="${anchor}" fill="#666">${seconds(t - start)}</text>`;
    })
    .join('');
  const marks = card.timeline.filter((t): t is TimelineEntry & { kind: MarkerKind } => t.kind in MARKER_COLORS);
  const markText = (m: TimelineEntry) => {
    const text = `${seconds(m.at - start)} ${m.kind}: ${m.label}`;
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  };
  const placed = placeLabels(
    marks.map((m) => ({ x: frame.x(m.at) + 3, text: markText(m) })),
    4,
    WIDTH - RIGHT,
  );
  const lanesTop = axisY + 22;
  const markers = marks.map((m, i) => {
    const x = at1(frame.x(m.at));
    const color = MARKER_COLORS[m.kind];
    const label = placed[i]!;
    return (
      `<line class="marker" x1="${x}" x2="${x}" y1="${errorTop}" y2="${axisY - 12}" stroke="${color}" ` +
      `stroke-width="1.5"${m.kind === 'heal' ? ' stroke-dasharray="4 3"' : ''}/>` +
      `<text class="marker-label" x="${label.x}" y="${lanesTop + label.lane * LANE}" fill="${color}">` +
      `${escapeHtml(markText(m))}</text>`
    );
  });
  const lanes = Math.max(0, ...placed.map((p) => p.lane + 1));
  const swatchLine = (color: string) => `<line x1="0" x2="14" y1="0" y2="0" stroke="${color}" stroke-width="3"/>`;
  const swatchBox = (color: string) => `<rect x="3" y="-5" width="8" height="9" fill="${color}"/>`;
  const kinds = [...new Set(marks.map((m) => m.kind))];
  const key = legend(
    [
      ...releases.map((r) => ({ swatch: swatchLine(frame.colorOf(r)), text: `release ${r}` })),
      { swatch: swatchBox(HEALTH_COLORS.healthy), text: '/health OK' },
      { swatch: swatchBox(HEALTH_COLORS.unhealthy), text: '/health failed' },
      ...kinds.map((k) => ({ swatch: swatchLine(MARKER_COLORS[k]), text: k })),
    ],
    lanesTop + lanes * LANE + 10,
  );
  const plotted = samples.some((s) => s.errorRate !== undefined || s.p95Ms !== undefined);
  const empty = plotted
    ? ''
    : `<text x="${LEFT + 12}" y="${errorTop + PANEL / 2}" fill="#d64545">no health sample of this run carries ` +
      'an error rate or a P95</text>';
  return `<svg ${svgAttributes('Timeline of the drill', WIDTH, key.bottom + 8)}>
  ${panel(frame, samples, errorTop, 'error rate per probe', (s) => s.errorRate, errorTicks)}
  ${panel(frame, samples, p95Top, 'P95 latency per probe', (s) => s.p95Ms, p95Ticks)}
  ${healthStrip(frame, samples, stripTop)}
  ${ticks}
  ${markers.join('\n  ')}
  ${key.svg}
  ${empty}
</svg>`;
}
