/**
 * The runnable examples of a markdown guide: fenced blocks whose info string is `sh example`, where
 * `$ ` lines are commands (a trailing `\` continues one on the next line), `(exit N)` is the status a
 * command must exit with (0 unless said) and every other non-blank line is a fragment its output must
 * contain, in the order written. docs/operations-guide.md states the convention for its readers.
 */

export interface GuideCommand {
  /** The line (1-based) of its `$ `. */
  readonly line: number;
  readonly text: string;
  readonly fragments: readonly string[];
  readonly exitCode: number;
}

export interface GuideExample {
  /** The line (1-based) of the block's first line inside the fence. */
  readonly line: number;
  readonly commands: readonly GuideCommand[];
}

/** A guide whose examples cannot be read as the convention says; the message names the file and line. */
export class MalformedExample extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}; see the convention at the top of the guide`);
    this.name = 'MalformedExample';
  }
}

/** The `sh example` blocks of `markdown` (read from `file`, which errors name). */
export function examplesOf(markdown: string, file: string): GuideExample[] {
  const lines = markdown.split('\n');
  const examples: GuideExample[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```sh example') continue;
    const commands: { line: number; text: string; fragments: string[]; exitCode: number }[] = [];
    const start = i + 2;
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) {
      const line = lines[i]!;
      if (line.startsWith('$ ')) {
        const command = { line: i + 1, text: line.slice(2), fragments: [], exitCode: 0 };
        while (command.text.endsWith('\\') && i + 1 < lines.length) command.text += `\n${lines[++i]}`;
        commands.push(command);
      } else if (line.trim() !== '') {
        const current = commands.at(-1);
        if (!current) throw new MalformedExample(file, i + 1, 'an output line before any `$ ` command');
        const exit = /^\(exit (\d+)\)$/.exec(line.trim());
        if (exit) current.exitCode = Number(exit[1]);
        else current.fragments.push(line.trim());
      }
    }
    if (i >= lines.length) throw new MalformedExample(file, start - 1, 'the example block is never closed');
    if (commands.length === 0) throw new MalformedExample(file, start - 1, 'an example block without a `$ ` command');
    examples.push({ line: start, commands });
  }
  return examples;
}

/**
 * What is wrong with a command's run, or undefined: the exit status (undefined when it never
 * finished) differs, or a fragment is missing from the output after the previous fragment.
 */
export function mismatchOf(
  command: GuideCommand,
  run: { readonly output: string; readonly status: number | undefined },
): string | undefined {
  if (run.status !== command.exitCode) return `exited with ${run.status ?? 'nothing'}, not ${command.exitCode}`;
  let from = 0;
  for (const fragment of command.fragments) {
    const at = run.output.indexOf(fragment, from);
    if (at < 0) return `"${fragment}" is not in its output (after the fragments before it)`;
    from = at + fragment.length;
  }
  return undefined;
}
