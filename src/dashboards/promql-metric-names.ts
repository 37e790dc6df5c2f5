/** Words of PromQL that are not series names: operators, modifiers, and the special numbers. */
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Quoted strings of PromQL ("…", '…', `…`), escapes included. */
const STRINGS = /"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g;
/** Label lists of grouping and matching clauses: `by (le, service)`, `on (instance)`, `group_left (x)`. */
const LABEL_LISTS = /\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi;
/** A name or a number; `:` belongs to recording rule names. */
const TOKEN = /[A-Za-z_:][\w:]*|\d[\w.]*/g;

/**
 * The series names a PromQL expression selects: every bare name that is not a function, a keyword,
 * a label (inside `{…}` or a grouping list) or a number; plus `__name__="…"` matchers. Grafana's
 * variables (`$service`, `$__rate_interval`) sit inside matchers and ranges, which are dropped.
 */
export function promqlMetricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const [, name] of expr.matchAll(/__name__\s*=\s*"([^"]+)"/g)) names.add(name!);
  const bare = expr
    .replace(STRINGS, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(LABEL_LISTS, ' ');
  for (const match of bare.matchAll(TOKEN)) {
    const [token] = match;
    if (/^\d/.test(token) || KEYWORDS.has(token.toLowerCase())) continue;
    const after = bare.slice(match.index + token.length).trimStart();
    if (after.startsWith('(')) continue; // a function call (or an aggregation before its arguments)
    names.add(token);
  }
  return [...names].sort();
}
