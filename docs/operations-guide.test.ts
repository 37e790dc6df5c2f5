/**
 * Runs every example of docs/operations-guide.md against a real `failsafe serve` and its sample fleet,
 * so that the guide cannot rot.
 *
 * The convention (also at the top of the guide; add sections to the guide, never to this file):
 * - An example is a fenced block whose info string is `sh example`. Other blocks are not run.
 * - A line starting with `$ ` is a command; a command line ending in `\` goes on on the next line.
 *   All commands of the file run in order in ONE bash session (variables set by one are seen by the
 *   next, and later examples may depend on earlier ones), from the repository's root, with stdin
 *   closed, stderr merged into stdout, and `set -o pipefail`.
 * - Any other non-blank line is a fragment that must appear in that command's output, the fragments
 *   in the order they are written. `(exit N)` says the command must exit with N; otherwise it must
 *   exit 0.
 * - The session's environment: `failsafe` on PATH (this checkout's bin/failsafe.js); FAILSAFE_URL (the
 *   server); FAILSAFE_TOKEN (alice, operator); APPROVER_TOKEN (bob, approver); AUDITOR_TOKEN (audrey,
 *   auditor); FAILSAFE_DATA_DIR, FAILSAFE_FLEET and FAILSAFE_DRILLS (serve's data folder, fleet file
 *   and drills folder); SERVICE=sample and SERVICE_URL (its address). The fleet is
 *   drills/sample-fleet/drill-fleet.yaml on free ports (sample calls inventory through Toxiproxy),
 *   probed every second, under the seeds' default policy; nothing is deployed before the first example.
 * - The drills folder holds one drill, high-error-rate, shortened (see SHORT_DRILL) so that its run
 *   fits this file's time budget.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken, newToken } from '../src/auth/tokens.js';
import { missingDrillTools, writeDrillFleet } from '../src/drills/drill.fixture.js';
import { ProcessDriver } from '../src/drivers/process-driver.js';
import { examplesOf, mismatchOf } from './guide-examples.js';
import { type ServeProcess, startServeProcess } from '../src/testing/serve-process.js';

const repo = fileURLToPath(new URL('../', import.meta.url));
const guidePath = join(repo, 'docs', 'operations-guide.md');

/** The high-error-rate drill with shorter phases: the shipped one's load alone lasts 75 s. */
const SHORT_DRILL = readFileSync(join(repo, 'drills', 'high-error-rate.yaml'), 'utf8')
  .replace('before: 5s', 'before: 2s')
  .replace('during: 60s', 'during: 20s')
  .replace('after: 10s', 'after: 3s')
  .replace('within: 30s', 'within: 20s')
  .replace('within: 60s', 'within: 30s');

/** One bash process: commands run one after the other, each ending with a marker line carrying its status. */
class ShellSession {
  private readonly child: ChildProcess;
  private output = '';
  private waiter: (() => void) | undefined;
  private exited = false;
  private readonly marker = `__failsafe_guide_${newToken().replace(/\W/g, '')}`;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.child = spawn('bash', ['--noprofile', '--norc'], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const take = (chunk: Buffer) => {
      this.output += chunk.toString();
      this.waiter?.();
    };
    this.child.once('exit', () => {
      this.exited = true;
      this.waiter?.();
    });
    // A write to a shell that a timeout stopped fails; the exit above already says so.
    this.child.stdin!.on('error', () => undefined);
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.child.stdin!.write('exec 2>&1\nset -o pipefail\n');
  }

  /** Runs one command; its output and exit status, or undefined output after `timeoutMs`. */
  async run(command: string, timeoutMs: number): Promise<{ output: string; status: number | undefined }> {
    if (this.exited) return { output: '(the shell was stopped by an earlier timeout)', status: undefined };
    this.output = '';
    const ends = new RegExp(`\\n?${this.marker} (\\d+)\\n`);
    this.child.stdin!.write(`{\n${command}\n} </dev/null\nprintf '\\n%s %d\\n' ${this.marker} $?\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const done = ends.exec(this.output);
      if (done) return { output: this.output.slice(0, done.index), status: Number(done[1]) };
      if (this.exited) return { output: `${this.output}\n(the shell exited)`, status: undefined };
      if (Date.now() > deadline) {
        this.stop();
        return { output: `${this.output}\n(timed out after ${timeoutMs / 1000} s)`, status: undefined };
      }
      await Promise.race([new Promise<void>((resolve) => (this.waiter = resolve)), sleep(500)]);
    }
  }

  stop(): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const examples = examplesOf(readFileSync(guidePath, 'utf8'), guidePath);
const missing = missingDrillTools();

describe.skipIf(missing.length > 0)('docs/operations-guide.md: every example, run against a real serve', () => {
  let dir: string;
  let serve: ServeProcess | undefined;
  let shell: ShellSession | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-guide-'));
    const fleet = join(dir, 'fleet.yaml');
    const ports = await writeDrillFleet(fleet);
    const drills = join(dir, 'drills');
    mkdirSync(drills);
    writeFileSync(join(drills, 'high-error-rate.yaml'), SHORT_DRILL);
    // A drill's k6 script is a file of its drills folder's parent.
    mkdirSync(join(dir, 'loadtests'));
    writeFileSync(
      join(dir, 'loadtests', 'mcp-tool-calls.js'),
      readFileSync(join(repo, 'loadtests', 'mcp-tool-calls.js')),
    );
    const tokens = { admin: newToken(), alice: newToken(), bob: newToken(), audrey: newToken() };
    const config = join(dir, 'failsafe.yaml');
    const entry = (name: 'alice' | 'bob' | 'audrey', role: string) =>
      `    - { name: ${name}, role: ${role}, sha256: ${hashToken(tokens[name])} }\n`;
    writeFileSync(
      config,
      `auth:\n  tokens:\n${entry('alice', 'operator')}${entry('bob', 'approver')}${entry('audrey', 'auditor')}`,
    );
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'failsafe'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(repo, 'bin', 'failsafe.js')}" "$@"\n`,
    );
    chmodSync(join(bin, 'failsafe'), 0o755);

    const dataDir = join(dir, 'data');
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      XDG_CONFIG_HOME: dir,
      FAILSAFE_DATA_DIR: dataDir,
      FAILSAFE_FLEET: fleet,
      FAILSAFE_DRILLS: drills,
    };
    serve = await startServeProcess({
      dataDir,
      args: ['--config', config, '--drills', drills, '--tick-seconds', '1'],
      env: { ...env, FAILSAFE_ADMIN_TOKEN: tokens.admin },
      timeoutMs: 40_000,
    });
    shell = new ShellSession(repo, {
      ...env,
      FAILSAFE_URL: serve.url,
      FAILSAFE_TOKEN: tokens.alice,
      APPROVER_TOKEN: tokens.bob,
      AUDITOR_TOKEN: tokens.audrey,
      SERVICE: 'sample',
      SERVICE_URL: `http://127.0.0.1:${ports.service}`,
    });
  }, 60_000);

  afterAll(async () => {
    shell?.stop();
    await serve?.stop();
    // The fleet outlives Failsafe by design (the next one adopts it): stop it for good here.
    if (dir) await ProcessDriver.stopAllRecorded(join(dir, 'data', 'fleet'));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has examples', () => {
    expect(examples.length).toBeGreaterThan(10);
  });

  for (const example of examples) {
    it(`the example at line ${example.line}: ${example.commands[0]!.text.split('\n')[0]}`, async () => {
      for (const command of example.commands) {
        const run = await shell!.run(command.text, 60_000);
        const mismatch = mismatchOf(command, run);
        if (mismatch)
          throw new Error(
            `${guidePath}:${command.line}: \`${command.text}\` ${mismatch}\n--- output ---\n${run.output}\n` +
              `--- serve (its last lines) ---\n${serve!.output().slice(-2000)}`,
          );
      }
    }, 120_000);
  }
});
