import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, visit, type Alias } from 'yaml';
import type { z } from 'zod';

/** A YAML file Failsafe refuses; every problem is listed with its line. */
export class InvalidYamlFile extends Error {
  readonly code = 'INVALID_YAML_FILE';
  constructor(
    readonly kind: string,
    readonly path: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${kind}: ${path} has ${problems.length} problem(s); fix them and try again:\n` +
        `${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = kind;
  }
}

/** A problem the schema cannot see (between fields, or against files on disk), at a path of the document. */
export interface FieldProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/**
 * Parses YAML text against a schema, then `check` (problems the schema cannot see) on the same text:
 * every problem of both, in the order of the lines, each naming its line and field.
 * `kind` names the error (e.g. InvalidPolicyFile).
 */
export function parseYaml<S extends z.ZodType>(
  schema: S,
  text: string,
  source: string,
  kind: string,
  check: (raw: unknown) => readonly FieldProblem[] = () => [],
): z.infer<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InvalidYamlFile(
      kind,
      source,
      doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (error) {
    // An alias without its anchor, or aliases that expand past maxAliasCount (a "billion laughs" file).
    const aliases: Alias[] = [];
    visit(doc, { Alias: (_, alias) => void aliases.push(alias) });
    const culprit = aliases.find((a) => a.resolve(doc) === undefined) ?? aliases[0];
    const line = culprit?.range ? lines.linePos(culprit.range[0]).line : 1;
    throw new InvalidYamlFile(kind, source, [`line ${line}: ${(error as Error).message}; write the values out`]);
  }
  // Point at the deepest node that exists: a missing field is reported at its parent.
  const lineOf = (at: readonly PropertyKey[]) => {
    let path = at.map(String);
    let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
    while (!node?.range && path.length > 0) {
      path = path.slice(0, -1);
      node = (path.length ? doc.getIn(path, true) : doc.contents) as typeof node;
    }
    return node?.range ? lines.linePos(node.range[0]).line : 1;
  };
  const parsed = schema.safeParse(raw);
  const problems = [
    ...(parsed.error?.issues ?? []).map((issue) => ({
      path: issue.path,
      // A bad key of a record (a service name, a tool name) says what a key must be, not only that it is invalid.
      message:
        issue.code === 'invalid_key' ? `the name ${issue.issues.map((i) => i.message).join('; ')}` : issue.message,
    })),
    ...check(raw),
  ]
    .map((p) => ({ line: lineOf(p.path), text: `${p.path.join('.') || '(top level)'}: ${p.message}` }))
    .sort((a, b) => a.line - b.line);
  if (parsed.success && problems.length === 0) return parsed.data;
  throw new InvalidYamlFile(
    kind,
    source,
    problems.map((p) => `line ${p.line}: ${p.text}`),
  );
}

export function readYamlFile<S extends z.ZodType>(
  schema: S,
  path: string,
  kind: string,
  check?: (raw: unknown) => readonly FieldProblem[],
): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidYamlFile(kind, path, [`cannot be read (${(error as Error).message})`]);
  }
  return parseYaml(schema, text, path, kind, check);
}
