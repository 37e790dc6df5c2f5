/** What the report's SVG charts share: escaping, text sizes, label placement without overlap, scales. */

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export const seconds = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);

/** Charts are drawn in a monospace font, so that a label's width is known before a browser lays it out. */
export const FONT_SIZE = 11;
const CHAR_WIDTH = FONT_SIZE * 0.62;
export const textWidth = (text: string): number => Math.ceil(text.length * CHAR_WIDTH);
export const svgAttributes = (label: string, width: number, height: number): string =>
  `viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeHtml(label)}" ` +
  `xmlns="http://www.w3.org/2000/svg" font-family="'DejaVu Sans Mono', ui-monospace, monospace" ` +
  `font-size="${FONT_SIZE}"`;

export interface PlacedLabel {
  readonly x: number;
  readonly lane: number;
  readonly width: number;
}

/**
 * Places labels, each wanted at `x` (its left edge), between `min` and `max` on as few lanes as
 * possible: a label goes on the first lane where it clears the previous one by `gap`, so none overlap
 * and none leave the chart. Labels keep their order.
 */
export function placeLabels(
  wanted: readonly { readonly x: number; readonly text: string }[],
  min: number,
  max: number,
  gap = 8,
): PlacedLabel[] {
  const laneEnds: number[] = [];
  return wanted.map(({ x, text }) => {
    const width = Math.min(textWidth(text), max - min);
    const left = Math.max(min, Math.min(x, max - width));
    let lane = laneEnds.findIndex((end) => end + gap <= left);
    if (lane === -1) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = left + width;
    return { x: left, lane, width };
  });
}

/** A round upper bound for an axis (1, 2 or 5 times a power of ten) at or above `value`. */
export function niceCeiling(value: number, floor: number): number {
  const target = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 5, 10].map((m) => m * power).find((bound) => bound >= target)!;
}

export const milliseconds = (ms: number): string =>
  ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${+ms.toFixed(0)} ms`;
