import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
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

/**
 * Parses YAML text against a schema; problems name the line and the field.
 * `kind` names the error (e.g. InvalidPolicyFile).
 */
export function parseYaml<S extends z.ZodType>(schema: S, text: string, source: string, kind: string): z.infer<S> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InvalidYamlFile(
      kind,
      source,
      doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  const parsed = schema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  throw new InvalidYamlFile(
    kind,
    source,
    parsed.error.issues.map((issue) => {
      // Point at the deepest node that exists: a missing field is reported at its parent.
      let path = issue.path.map(String);
      let node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined;
      while (!node?.range && path.length > 0) {
        path = path.slice(0, -1);
        node = (path.length ? doc.getIn(path, true) : doc.contents) as typeof node;
      }
      const line = node?.range ? lines.linePos(node.range[0]).line : 1;
      // A bad key of a record (a service name, a tool name) says what a key must be, not only that it is invalid.
      const message =
        issue.code === 'invalid_key' ? `the name ${issue.issues.map((i) => i.message).join('; ')}` : issue.message;
      return `line ${line}: ${issue.path.join('.') || '(top level)'}: ${message}`;
    }),
  );
}

export function readYamlFile<S extends z.ZodType>(schema: S, path: string, kind: string): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidYamlFile(kind, path, [`cannot be read (${(error as Error).message})`]);
  }
  return parseYaml(schema, text, path, kind);
}
