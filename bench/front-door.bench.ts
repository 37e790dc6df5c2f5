/**
 * The front door under load (issue 9's benchmark): k6 against Failsafe's /mcp (both protocol eras)
 * and /api/v1, beside a bare MCP SDK v2 server on Hono with one trivial tool, in the same run.
 * Throughput: 20 busy clients (closed model); latency: P95 at a fixed 200 requests/s (open
 * model). Rounds interleave the servers; medians are reported. `npm run bench:front-door`.
 * Aims: Failsafe at least 0.8 of the bare server's throughput; P95 under 50 ms at 200 requests/s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newToken } from '../src/auth/tokens.js';
import { K6_VERSION } from '../src/drills/k6.js';
import { toolsDir } from '../src/tools/tools-dir.js';
import { fmt, loadAverage, median, printTable, progress, type Row } from './bench-support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const k6 = join(toolsDir(), `k6-${K6_VERSION}`, 'k6');
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 8);

/** Starts a server process and resolves with the URL it prints. */
function start(
  command: string[],
  env: NodeJS.ProcessEnv,
  pattern: RegExp,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command[0]!, command.slice(1), {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = pattern.exec(out);
      if (match) resolve({ url: match[1]!, child });
    });
    child.once('exit', (code) => reject(new Error(`${command.join(' ')} exited with ${code}: ${out}`)));
  });
}

interface Figures {
  readonly rate: number;
  readonly p95Ms: number;
  readonly failed: number;
}

function k6Run(env: Record<string, string>): Promise<Figures> {
  const summary = join(mkdtempSync(join(tmpdir(), 'failsafe-bench-k6-')), 'summary.json');
  return new Promise((resolve, reject) => {
    const child = spawn(k6, ['run', '--quiet', '--no-usage-report', join(root, 'loadtests', 'front-door.js')], {
      env: { ...process.env, ...env, SUMMARY_PATH: summary, DURATION: `${SECONDS}s` },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.once('exit', () => {
      try {
        resolve(JSON.parse(readFileSync(summary, 'utf8')) as Figures);
      } catch (error) {
        reject(error);
      }
    });
  });
}

const token = newToken();
progress('starting the bare MCP SDK v2 server and `failsafe serve` (each in its own process)');
const bare = await start(
  [process.execPath, '--import', 'tsx', 'bench/bare-mcp-server.ts', '0'],
  {},
  /listening (http:\/\/\S+)/,
);
// Whatever happens next, no server outlives the benchmark.
process.once('exit', () => bare.child.kill('SIGTERM'));
const failsafe = await start(
  [
    process.execPath,
    'bin/failsafe.js',
    'serve',
    '--port',
    '0',
    '--data-dir',
    mkdtempSync(join(tmpdir(), 'failsafe-bench-')),
  ],
  { FAILSAFE_ADMIN_TOKEN: token, MCP_RATE_LIMIT_PER_MINUTE: '1000000', MCP_RATE_LIMIT_BURST: '1000000' },
  /listening on (http:\/\/\S+)/,
);
process.once('exit', () => failsafe.child.kill('SIGTERM'));
// One service, so that list_services has something to list.
const asAdmin = { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } };
await fetch(`${failsafe.url}/api/v1/services`, { ...asAdmin, body: JSON.stringify({ service: 'demo' }) });
const deployment = JSON.stringify({ release: 'v1' });
await fetch(`${failsafe.url}/api/v1/services/demo/deployments`, { ...asAdmin, body: deployment });

const targets = {
  'bare /mcp 2026-07-28': { URL: `${bare.url}/mcp`, KIND: 'mcp-2026', TOOL: 'echo', ARGS: '{"text":"hi"}' },
  'bare /mcp 2025-11-25': { URL: `${bare.url}/mcp`, KIND: 'mcp-2025', TOOL: 'echo', ARGS: '{"text":"hi"}' },
  'failsafe /mcp 2026-07-28': {
    URL: `${failsafe.url}/mcp`,
    KIND: 'mcp-2026',
    TOOL: 'list_services',
    ARGS: '{}',
    TOKEN: token,
  },
  'failsafe /mcp 2025-11-25': {
    URL: `${failsafe.url}/mcp`,
    KIND: 'mcp-2025',
    TOOL: 'list_services',
    ARGS: '{}',
    TOKEN: token,
  },
  'failsafe /api/v1/services': { URL: `${failsafe.url}/api/v1/services`, KIND: 'rest', TOKEN: token },
} as const;
type Target = keyof typeof targets;
const closed: Record<string, number[]> = {};
const open: Record<string, Figures[]> = {};
try {
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const [name, env] of Object.entries(targets)) {
      progress(`round ${round}/${ROUNDS}: ${name}, 20 busy clients then 200 requests/s, ${SECONDS} s each`);
      const busy = await k6Run({ ...env, MODE: 'closed', VUS: '20' });
      const fixed = await k6Run({ ...env, MODE: 'open', RATE: '200' });
      (closed[name] ??= []).push(busy.rate);
      (open[name] ??= []).push(fixed);
      if (busy.failed > 0 || fixed.failed > 0)
        console.warn(
          `  ! ${name}: ${(busy.failed * 100).toFixed(2)} % / ${(fixed.failed * 100).toFixed(2)} % of calls failed`,
        );
    }
  }
} finally {
  bare.child.kill('SIGTERM');
  failsafe.child.kill('SIGTERM');
}

const throughput = (t: Target) => median(closed[t]!);
const p95 = (t: Target) => median(open[t]!.map((f) => f.p95Ms));
const rows: Row[] = [];
for (const era of ['2026-07-28', '2025-11-25'] as const) {
  const ours = `failsafe /mcp ${era}` as Target;
  const base = `bare /mcp ${era}` as Target;
  rows.push({
    measure: `MCP ${era}: requests/s (20 clients)`,
    ours: fmt(throughput(ours)),
    bare: fmt(throughput(base)),
    ratio: fmt(throughput(ours) / throughput(base), 2),
    aim: '>= 0.80',
  });
  rows.push({
    measure: `MCP ${era}: P95 at 200 requests/s`,
    ours: `${fmt(p95(ours), 1)} ms`,
    bare: `${fmt(p95(base), 1)} ms`,
    ratio: fmt(p95(ours) / p95(base), 2),
    aim: '< 50 ms',
  });
}
const rest: Target = 'failsafe /api/v1/services';
rows.push({
  measure: 'REST /api/v1/services: requests/s',
  ours: fmt(throughput(rest)),
  bare: fmt(throughput('bare /mcp 2026-07-28')),
  ratio: fmt(throughput(rest) / throughput('bare /mcp 2026-07-28'), 2),
  aim: '>= 0.80',
});
rows.push({
  measure: 'REST /api/v1/services: P95 at 200 requests/s',
  ours: `${fmt(p95(rest), 1)} ms`,
  bare: '—',
  ratio: '—',
  aim: '< 50 ms',
});
console.log(
  `\nFront door under k6 ${K6_VERSION}: medians of ${ROUNDS} rounds, ${SECONDS} s per run, ` +
    `load average ${loadAverage()} (k6 and the servers share the machine's cores)\n`,
);
printTable(rows, 'bare SDK v2 server');
