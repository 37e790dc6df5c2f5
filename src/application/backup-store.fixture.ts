import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { storeHistory } from '../audit/store-history.js';
import { TsxChild } from '../event-store/child-process.fixture.js';
import type { EventStore } from '../event-store/event-store.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const WORKER = new URL('../event-store/store-append-worker.fixture.ts', import.meta.url);

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI without blocking this process, so that a writer's output keeps being read meanwhile. */
export function failsafe(args: readonly string[], options: { cwd?: string; onStarted?: (pid: number) => void } = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, FAILSAFE_STORE: '', FAILSAFE_DATA_DIR: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, stderr: () => stderr, done };
}

/** A writer process appending Failsafe ClockTicked events to the store at `url`, trimmed by retention. */
export async function startTicker(url: string): Promise<TsxChild> {
  const writer = new TsxChild(WORKER, [url], { stdin: true });
  await writer.waitForLine((line) => line === 'ready');
  writer.send('ticks 300');
  return writer;
}

/** Event ids the writer was told were stored. */
export const acknowledged = (writer: TsxChild): Set<string> =>
  new Set(writer.lines.filter((l) => l.startsWith('ack ')).flatMap((l) => l.slice(4).split(',')));

/** Until the writer has acknowledged at least `count` events. */
export async function untilAcknowledged(writer: TsxChild, count: number): Promise<void> {
  while (acknowledged(writer).size < count) {
    if (!writer.running) throw new Error(`the writer stopped: ${writer.stderr}`);
    await sleep(20);
  }
}

/** A store's whole history (archive included) as what a restore must keep of each event. */
export async function historyOf(store: EventStore) {
  const events = [];
  for await (const e of storeHistory(store).readAll())
    events.push({ position: e.position, id: e.id, stream: e.stream, revision: e.revision, type: e.type });
  return events;
}

/**
 * The restored history is the live one's start: same events, order and positions, no gaps, and it
 * holds every event acknowledged before the backup began.
 */
export function expectConsistentPrefix(
  restored: Awaited<ReturnType<typeof historyOf>>,
  live: Awaited<ReturnType<typeof historyOf>>,
  acknowledgedBefore: ReadonlySet<string>,
): void {
  expect(restored.length).toBeGreaterThanOrEqual(acknowledgedBefore.size);
  expect(restored).toEqual(live.slice(0, restored.length));
  expect(restored.map((e) => e.position)).toEqual(restored.map((_, i) => BigInt(i + 1)));
  const ids = new Set(restored.map((e) => e.id));
  expect([...acknowledgedBefore].filter((id) => !ids.has(id))).toEqual([]);
}

/** Backs up through the CLI while `writer` appends, lets it append more, stops it; what it acknowledged before. */
export async function backUpWhileAppending(writer: TsxChild, storeArgs: string[], file: string): Promise<Set<string>> {
  const before = acknowledged(writer);
  const run = await failsafe(['store', 'backup', ...storeArgs, file]).done;
  expect(run.stderr).not.toMatch(/failsafe:/);
  expect(run.stdout).toMatch(/^backed up .* into .*\n {2}\d+ events? through position \d+; sha256 [0-9a-f]{64}\n$/);
  expect(run.code).toBe(0);
  // The writer really went on while the backup ran.
  expect(acknowledged(writer).size).toBeGreaterThan(before.size);
  await untilAcknowledged(writer, before.size + 150);
  await writer.kill();
  return before;
}

/** Restores through the CLI, which checks what it wrote against the backup. */
export async function restoreThroughCli(file: string, targetArgs: string[]): Promise<void> {
  const run = await failsafe(['store', 'restore', file, ...targetArgs]).done;
  expect(run.stderr).not.toMatch(/failsafe:/);
  expect(run.stdout).toMatch(/verified: count, last position and sha256 match the backup/);
  expect(run.code).toBe(0);
}

/** `failsafe audit verify` passes on the store the arguments name. */
export async function expectAuditOk(storeArgs: string[]): Promise<void> {
  const audit = await failsafe(['audit', 'verify', ...storeArgs]).done;
  expect(audit.stdout).toMatch(/Result: OK/);
  expect(audit.code).toBe(0);
}
