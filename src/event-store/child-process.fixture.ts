import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * A TypeScript file run as a child process with tsx, for the tests that need real processes. Its
 * stdout is read as complete lines: a line cut short by a kill is not counted.
 */
export class TsxChild {
  readonly lines: string[] = [];
  private partial = '';
  private errors = '';
  private readonly process: ChildProcess;
  private readonly listeners = new Set<() => void>();
  private readonly exit: Promise<void>;
  private closed = false;

  constructor(file: URL, args: readonly string[] = [], options: { stdin?: boolean } = {}) {
    this.process = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(file), ...args], {
      stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    this.process.stdout!.on('data', (chunk: Buffer) => {
      const parts = (this.partial + chunk.toString()).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      for (const listener of this.listeners) listener();
    });
    this.process.stderr!.on('data', (chunk: Buffer) => (this.errors += chunk.toString()));
    // stdin of a killed child fails with EPIPE on the next write: the test sees the exit instead.
    this.process.stdin?.on('error', () => {});
    this.exit = new Promise((resolve) => {
      this.process.once('close', () => {
        this.closed = true;
        resolve();
        for (const listener of this.listeners) listener();
      });
    });
  }

  get stderr(): string {
    return this.errors;
  }

  get signal(): NodeJS.Signals | null {
    return this.process.signalCode;
  }

  get exitCode(): number | null {
    return this.process.exitCode;
  }

  /** Until the child has exited and its output is all read. */
  get running(): boolean {
    return !this.closed;
  }

  /** Resolves with the first line (from `from` on) that matches; rejects if the child ends first or time runs out. */
  waitForLine(matches: (line: string) => boolean, timeoutMs = 60_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const line = this.lines.slice(from).find(matches);
        if (line !== undefined) finish(() => resolve(line));
        else if (!this.running)
          finish(() => reject(new Error(`child ended (${this.exitCode ?? this.signal}) first: ${this.errors}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no matching line in ${timeoutMs} ms: ${this.errors}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  /** Closes the child's stdin (its cue to finish) and waits for it to exit. */
  async end(): Promise<void> {
    this.process.stdin?.end();
    await this.exited();
  }

  async kill(): Promise<void> {
    if (this.running) this.process.kill('SIGKILL');
    await this.exited();
  }

  async exited(): Promise<void> {
    await this.exit;
  }
}
