import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { drillReportHtml, drillTrendHtml } from './drill-report.js';
import type { Scorecard } from './scorecard.js';

/** Scorecards live beside the store: `<data>/drills/<runId>/scorecard.json` and `report.html`. */
export const scorecardDir = (dataDir: string, runId: string) => join(dataDir, 'drills', runId);

export function saveScorecard(dataDir: string, card: Scorecard): { json: string; html: string } {
  const dir = scorecardDir(dataDir, card.runId);
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'scorecard.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, `${JSON.stringify(card, null, 2)}\n`);
  writeFileSync(html, drillReportHtml(card));
  return { json, html };
}

/** A drill's trend page, rewritten from its runs: `<data>/drills/trend-<drill>.html`. */
export function saveTrend(dataDir: string, drill: string, cards: readonly Scorecard[]): string {
  mkdirSync(join(dataDir, 'drills'), { recursive: true });
  const html = join(dataDir, 'drills', `trend-${drill}.html`);
  writeFileSync(html, drillTrendHtml(drill, cards));
  return html;
}

export class ScorecardNotFound extends Error {
  readonly code = 'SCORECARD_NOT_FOUND';
  constructor(runId: string, dataDir: string) {
    super(
      `ScorecardNotFound: no scorecard for run "${runId}" under ${join(dataDir, 'drills')}; ` +
        '`failsafe drill list` shows the runs',
    );
    this.name = 'ScorecardNotFound';
  }
}

export function loadScorecard(dataDir: string, runId: string): Scorecard {
  try {
    return JSON.parse(readFileSync(join(scorecardDir(dataDir, runId), 'scorecard.json'), 'utf8')) as Scorecard;
  } catch {
    throw new ScorecardNotFound(runId, dataDir);
  }
}

/** Every saved scorecard, oldest first. */
export function allScorecards(dataDir: string): Scorecard[] {
  let runs: string[];
  try {
    runs = readdirSync(join(dataDir, 'drills'));
  } catch {
    return [];
  }
  return runs
    .flatMap((runId) => {
      try {
        return [loadScorecard(dataDir, runId)];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
