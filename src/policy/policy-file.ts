import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { defaultRollbackPolicy, rollbackPolicySchema, type RollbackPolicy } from './rollback-policy.js';

/** A policy file Failsafe refuses to start with; every problem is listed with its line. */
export class InvalidPolicyFile extends Error {
  readonly code = 'INVALID_POLICY_FILE';
  constructor(readonly path: string, readonly problems: readonly string[]) {
    super(`InvalidPolicyFile: ${path} has ${problems.length} problem(s); fix them and start again:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'InvalidPolicyFile';
  }
}

/** Parses policy YAML; `source` names the file in messages. */
export function parsePolicy(text: string, source: string): RollbackPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InvalidPolicyFile(
      source,
      doc.errors.map((e) => `line ${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`),
    );
  }
  const parsed = rollbackPolicySchema.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  throw new InvalidPolicyFile(
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
      return `line ${line}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`;
    }),
  );
}

/** The policy in force: the file when given, else the seeds' defaults. */
export function loadPolicy(path: string | undefined): RollbackPolicy {
  if (!path) return defaultRollbackPolicy;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidPolicyFile(path, [`cannot be read (${(error as Error).message})`]);
  }
  return parsePolicy(text, path);
}
