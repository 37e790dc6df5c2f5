import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolsDir } from '../tools/tools-dir.js';
import { K6_VERSION, runK6 } from './k6.js';

const binary = join(toolsDir(), `k6-${K6_VERSION}`, 'k6');
if (!existsSync(binary) && process.env.CI === 'true')
  throw new Error(`the k6 tests need the real k6 at ${binary}; run scripts/provision.sh`);
const script = fileURLToPath(new URL('../../loadtests/mcp-tool-calls.js', import.meta.url));

/** An MCP endpoint stand-in: every tool call succeeds at once. */
let server: Server;
let targetUrl = '';
beforeAll(async () => {
  server = createServer((_request, response) => {
    response.setHeader('Content-Type', 'application/json');
    response.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: '3' }] } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  targetUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const load = (durationMs: number) => runK6(script, { targetUrl, rate: 20, vus: 5, tools: { add: 1 }, durationMs });
const summaryDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith('failsafe-k6-'));
/** The k6 processes this test process started, with their process group. */
const k6Children = () =>
  readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .flatMap((pid) => {
      try {
        // pid (comm) state ppid pgrp …
        const fields = /\) \S+ (\d+) (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))!;
        return Number(fields[1]) === process.pid && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'k6'
          ? [{ pid: Number(pid), pgrp: Number(fields[2]) }]
          : [];
      } catch {
        return [];
      }
    });
const ownGroup = () => Number(/\) \S+ \d+ (\d+)/.exec(readFileSync('/proc/self/stat', 'utf8'))![1]);

describe.skipIf(!existsSync(binary))('k6, the real one', () => {
  it('runs in a process group of its own, so that a Ctrl-C in the terminal does not reach it', async () => {
    const run = load(3000);
    for (let i = 0; i < 50 && k6Children().length === 0; i += 1) await sleep(100);
    const children = k6Children();
    expect(children).toHaveLength(1);
    expect(children[0]!.pgrp).not.toBe(ownGroup());
    run.stop();
    await run.done;
  }, 30_000);

  it('still writes its summary when stopped while it starts, however often stop is called', async () => {
    const before = summaryDirs();
    const run = load(30_000);
    run.stop();
    run.stop();
    const summary = await run.done;
    expect(summary.requests).toBeGreaterThanOrEqual(0);
    expect(summary.errorRate).toBe(0);
    // Its summary folder goes with it.
    expect(summaryDirs().filter((dir) => !before.includes(dir))).toEqual([]);
  }, 30_000);

  it('gives its summary when stopped mid-run, and when stopped just as it ends by itself', async () => {
    const running = load(20_000);
    await sleep(3000);
    running.stop();
    expect((await running.done).requests).toBeGreaterThan(10);
    // The stop that lands while k6 writes its summary (a signal there killed it without one).
    const ending = load(1000);
    const timers = [900, 1000, 1100, 1200, 1400].map((ms) => setTimeout(() => ending.stop(), ms));
    expect((await ending.done).requests).toBeGreaterThan(0);
    for (const timer of timers) clearTimeout(timer);
  }, 30_000);
});
