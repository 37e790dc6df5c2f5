import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

/** Debian's Chromium, installed by scripts/provision.sh. */
export const CHROMIUM = '/usr/bin/chromium';
export const chromiumMissing = !existsSync(CHROMIUM);
if (chromiumMissing && process.env.CI === 'true')
  throw new Error(`the report's browser tests need Chromium at ${CHROMIUM}: run scripts/provision.sh`);

export interface Box {
  readonly left: number;
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
}

/** What a browser laid out of a page's SVG charts, in page coordinates. */
export interface RenderedPage {
  readonly viewport: { readonly width: number; readonly height: number };
  readonly page: { readonly width: number; readonly height: number };
  readonly charts: readonly {
    readonly label: string;
    readonly box: Box;
    /** Plotted data: the elements of class `point`, drawn (non-zero size, visible). */
    readonly points: readonly Box[];
    readonly texts: readonly { readonly text: string; readonly box: Box }[];
  }[];
}

/** Runs in the page (as source: the project's types have no DOM). */
const GEOMETRY = `(() => {
  const boxOf = (element) => {
    const r = element.getBoundingClientRect();
    return { left: r.left + scrollX, top: r.top + scrollY, right: r.right + scrollX, bottom: r.bottom + scrollY };
  };
  const drawn = (element) => {
    const r = element.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(element).visibility !== 'hidden';
  };
  return {
    viewport: { width: innerWidth, height: innerHeight },
    page: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight },
    charts: [...document.querySelectorAll('svg')].map((svg) => ({
      label: svg.getAttribute('aria-label') ?? '',
      box: boxOf(svg),
      points: [...svg.querySelectorAll('.point')].filter(drawn).map(boxOf),
      texts: [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent ?? '', box: boxOf(t) })),
    })),
  };
})()`;

/** Opens the page in headless Chromium (1000 px wide, a laptop's window) and reads its charts' geometry. */
export async function renderInChromium(html: string, screenshotPath?: string): Promise<RenderedPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    await page.setContent(html, { waitUntil: 'load' });
    if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true });
    return await page.evaluate<RenderedPage>(GEOMETRY);
  } finally {
    await browser.close();
  }
}

const inside = (inner: Box, outer: Box) =>
  inner.left >= outer.left - 0.5 &&
  inner.right <= outer.right + 0.5 &&
  inner.top >= outer.top - 0.5 &&
  inner.bottom <= outer.bottom + 0.5;
const overlap = (a: Box, b: Box) =>
  Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
  Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;

/** Every problem a reader would see: points or labels outside their chart or the page, labels over each other. */
export function layoutProblems(rendered: RenderedPage): string[] {
  const pageBox = { left: 0, top: 0, right: rendered.viewport.width, bottom: rendered.page.height };
  const problems: string[] = [];
  if (rendered.page.width > rendered.viewport.width)
    problems.push(`the page scrolls sideways (${rendered.page.width} px)`);
  for (const chart of rendered.charts) {
    if (!inside(chart.box, pageBox)) problems.push(`${chart.label} leaves the page`);
    for (const [i, point] of chart.points.entries())
      if (!inside(point, chart.box)) problems.push(`${chart.label}: point ${i} lies outside the chart`);
    for (const [i, a] of chart.texts.entries()) {
      if (!inside(a.box, chart.box)) problems.push(`${chart.label}: "${a.text}" lies outside the chart`);
      for (const b of chart.texts.slice(i + 1))
        if (overlap(a.box, b.box)) problems.push(`${chart.label}: "${a.text}" overlaps "${b.text}"`);
    }
  }
  return problems;
}
