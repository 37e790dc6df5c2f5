import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSampleHistory } from '../application/copy-store.fixture.js';
import { storeHistory } from '../audit/store-history.js';
import { collect, events } from '../event-store/event-store.contract.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';

const bin = fileURLToPath(new URL('../../bin/failsafe.js', import.meta.url));
const failsafe = (...args: string[]) => {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
};

async function idsOf(path: string): Promise<string[]> {
  const store = SqliteEventStore.open({ path });
  try {
    return (await collect(storeHistory(store).readAll())).map((e) => e.id);
  } finally {
    await store.close();
  }
}

async function headOf(path: string): Promise<bigint> {
  if (!existsSync(path)) return 0n;
  const store = SqliteEventStore.open({ path });
  try {
    return await store.headPosition();
  } finally {
    await store.close();
  }
}

describe('failsafe store copy', () => {
  let dir: string;
  let source: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-urls-copy-cli-'));
    source = join(dir, 'source.db');
    await writeSampleHistory(source);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints its help with an example', () => {
    const { code, stdout } = failsafe('store', 'copy', '--help');
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: failsafe store copy [options]');
    expect(stdout).toMatch(/Example.*\n\s+failsafe store copy --from sqlite:\S+ \\\n\s+--to postgres:\/\//);
  });

  it('resumes a copy SIGKILLed mid-way: the whole history once, in order, verified', async () => {
    const target = join(dir, 'killed.db');
    const expected = await idsOf(source);
    const args = ['store', 'copy', '--from', `sqlite:${source}`, '--to', `sqlite:${target}`, '--batch-size', '1'];
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const deadline = performance.now() + 60_000;
      while ((await headOf(target)) < 300n) {
        expect(performance.now(), `no progress: ${stderr}`).toBeLessThan(deadline);
        await sleep(20);
      }
    } finally {
      child.kill('SIGKILL');
    }
    await exited;
    const partial = (await idsOf(target)).length;
    expect(partial).toBeGreaterThanOrEqual(300);
    expect(partial).toBeLessThan(expected.length);
    expect(await idsOf(target)).toEqual(expected.slice(0, partial));

    const resumed = failsafe(...args.slice(0, -2));
    expect(resumed.stderr).toMatch(/store copy: sqlite:.*source\.db → sqlite:.*killed\.db/);
    expect(resumed.stderr).toMatch(/store copy: [\d,]+ events copied \([\d,]+\/s\), 100\.0 %/);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(
      `copied ${expected.length} events in 13 streams to sqlite:${target} ` +
        `(${expected.length - partial} by this run, ${partial} already there)`,
    );
    expect(resumed.stdout).toMatch(/verified: count, order and content match; sha256 [0-9a-f]{64}/);
    expect(await idsOf(target)).toEqual(expected);
  });

  it('refuses a target that is not the start of the source, and bad or missing stores', async () => {
    const other = join(dir, 'other.db');
    const store = SqliteEventStore.open({ path: other });
    await store.append('svc', events(1), 'no_stream');
    await store.close();
    const refused = failsafe('store', 'copy', '--from', `sqlite:${source}`, '--to', `sqlite:${other}`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^failsafe: StoreCopyRefused: the target is not empty and is not the start/m);

    const cases: [string[], RegExp][] = [
      [['--from', 'data/failsafe.db', '--to', `sqlite:${other}`], /InvalidStoreUrl: "data\/failsafe.db" has no scheme/],
      [
        ['--from', `sqlite:${source}`, '--to', 'mysql://db/f'],
        /InvalidStoreUrl: "mysql:\/\/db\/f" has an unknown scheme/,
      ],
      [
        ['--from', `sqlite:${join(dir, 'typo.db')}`, '--to', `sqlite:${other}`],
        /StoreUnavailable: .*typo\.db .*no such file/,
      ],
      [['--from', `sqlite:${source}`, '--to', `sqlite:${source}`], /StoreCopyRefused: --from and --to both name/],
      [['--from', `sqlite:${source}`, '--to', 'postgres://u:s3cret@[bad/f'], /"postgres:\/\/u:\*\*\*@\[bad\/f" is not/],
    ];
    for (const [flags, message] of cases) {
      const result = failsafe('store', 'copy', ...flags);
      expect(result.code, flags.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toContain('s3cret');
    }
    expect(existsSync(join(dir, 'typo.db'))).toBe(false);
    expect(failsafe('store', 'copy', '--from', `sqlite:${source}`).stderr).toMatch(/required option '--to <url>'/);
  });
});
