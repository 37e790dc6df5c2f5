import Database from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archivedHistory } from '../audit/archived-history.js';
import { collect } from './event-store.contract.js';
import { SqliteEventStore } from './sqlite-event-store.js';

const worker = fileURLToPath(new URL('./sqlite-append-worker.fixture.ts', import.meta.url));
const startWorker = (...args: string[]): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });

/** Lines the child finished writing (a line cut by the kill is not an acknowledgement). */
function completeLines(child: ChildProcess): { lines: string[]; stderr: () => string } {
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { lines, stderr: () => stderr };
}

describe('SQLite event store with real processes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-kill-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loses no acknowledged event and leaves no partial append when SIGKILLed at random moments', async () => {
    const path = join(dir, 'kill.db');
    const acknowledged: string[] = [];
    const kills = 12;
    for (let round = 0; round < kills; round += 1) {
      const child = startWorker('flood', path);
      const output = completeLines(child);
      const deadline = Date.now() + 20_000;
      while (!output.lines.includes('ready')) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`worker did not start: ${output.stderr()}`);
        await sleep(10);
      }
      await sleep(20 + Math.floor(Math.random() * 250));
      child.kill('SIGKILL');
      await exited(child);
      expect(child.signalCode).toBe('SIGKILL');
      for (const line of output.lines) if (line.startsWith('ack ')) acknowledged.push(...line.slice(4).split(','));
    }
    expect(acknowledged.length).toBeGreaterThan(kills * 3);

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    const store = SqliteEventStore.open({ path });
    const stored = await collect(store.readAll());
    await store.close();
    const storedIds = new Set(stored.map((e) => e.id));
    expect(acknowledged.filter((id) => !storedIds.has(id))).toEqual([]);
    const parts = new Map<string, number[]>();
    for (const e of stored)
      parts.set(String(e.data.batch), [...(parts.get(String(e.data.batch)) ?? []), Number(e.data.part)]);
    const partial = [...parts].filter(([, p]) => p.join() !== '0,1,2');
    expect(partial).toEqual([]);
  }, 120_000);

  it('keeps one stream gap-free while several processes append to it concurrently', async () => {
    const path = join(dir, 'contend.db');
    await SqliteEventStore.open({ path }).close();
    const processes = 3;
    const each = 60;
    const children = Array.from({ length: processes }, (_, w) => startWorker('contend', path, String(w), String(each)));
    const outputs = children.map(completeLines);
    const codes = await Promise.all(children.map(exited));
    expect(codes, outputs.map((o) => o.stderr()).join('\n')).toEqual(children.map(() => 0));
    const store = SqliteEventStore.open({ path });
    const stream = await collect(store.readStream('shared'));
    await store.close();
    expect(stream.map((e) => e.revision)).toEqual(Array.from({ length: processes * each }, (_, i) => BigInt(i)));
    for (let w = 0; w < processes; w += 1) {
      expect(stream.filter((e) => e.data.worker === w).map((e) => e.data.n)).toEqual(
        Array.from({ length: each }, (_, n) => n),
      );
    }
  }, 120_000);

  it('keeps every event exactly once when killed after archiving a trim and before deleting it', async () => {
    const path = join(dir, 'archive-kill.db');
    const child = startWorker('archive-then-die', path);
    const output = completeLines(child);
    const stuck = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited(child);
    clearTimeout(stuck);
    expect(child.signalCode, output.stderr()).toBe('SIGKILL');
    const acknowledged = output.lines.filter((line) => line.startsWith('ack ')).map((line) => line.slice(4));
    // The eleventh append trimmed the first sample: archived, then killed before its delete committed.
    expect(acknowledged).toHaveLength(10);
    const store = SqliteEventStore.open({ path });
    try {
      const history = archivedHistory(store, store.archive);
      const ids = async (source: AsyncIterable<{ id: string }>) => (await collect(source)).map((e) => e.id);
      expect(await ids(store.archive.cursor(0n).upTo(2n ** 63n))).toEqual([acknowledged[0]]);
      expect(await ids(store.readAll())).toEqual(acknowledged);
      expect(await ids(history.readAll())).toEqual(acknowledged);
      // The next append trims again and archives the same sample a second time, harmlessly.
      const more = Array.from({ length: 5 }, () => ({ id: uuidv7(), type: 'Sampled', data: {} }));
      for (const event of more) await store.append('health-k', [event], 'any');
      expect(await ids(history.readAll())).toEqual([...acknowledged, ...more.map((e) => e.id)]);
      expect((await ids(store.readAll())).length).toBe(10);
    } finally {
      await store.close();
    }
  }, 120_000);
});
