import { readdirSync, readFileSync } from 'node:fs';

/** Processes whose command line names this checkout: the sample fleet and anything else the tests started from here. */
function processesOfThisCheckout(): { pid: number; command: string }[] {
  const root = process.cwd();
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .flatMap((name) => {
      try {
        const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
        return command.includes(root) && !command.includes('vitest') ? [{ pid: Number(name), command }] : [];
      } catch {
        return [];
      }
    });
}

/** `npm test` must leave nothing running: a process left behind fails the run (and is stopped). */
export default function setup(): () => void {
  const before = new Set(processesOfThisCheckout().map((p) => p.pid));
  return () => {
    const left = processesOfThisCheckout().filter((p) => !before.has(p.pid));
    for (const { pid } of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    if (left.length > 0) {
      // A throw here is only printed by vitest: the exit code is what CI reads.
      process.exitCode = 1;
      console.error(
        `the tests left ${left.length} process(es) running:\n${left.map((p) => `  ${p.pid} ${p.command}`).join('\n')}`,
      );
    }
  };
}
