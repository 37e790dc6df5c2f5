/**
 * The front door under load (issue 9's benchmark, issue 17's aims): k6 against Failsafe's /mcp (both
 * protocol eras) and /api/v1, beside a bare MCP SDK v2 server on Hono with one trivial tool, in the same run.
 * Failsafe runs with its rate limiter at the defaults (600 requests a minute and a burst of 100 per
 * token) and every k6 virtual user has a token of its own, so each meets the limit a real client does.
 * Throughput: 100 busy clients (closed model); latency: P95 at a fixed 200 requests/s from 40 clients
 * (open model). Rounds interleave the servers; medians are reported. Responses the limiter refused
 * (429) are counted and shown. `npm run bench:front-door`; `-- --quick` for a short run that prints
 * the QUICK line. Aims: Failsafe's 2026-07-28 /mcp at least 0.95 of the bare server's throughput;
 * P95 under 5 ms at 200 requests/s in both eras.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { hashToken, newToken } from '../src/auth/tokens.js';
import { K6_VERSION } from '../src/drills/k6.js';
import { toolsDir } from '../src/tools/tools-dir.js';
import { fmt, loadAverage, median, printTable, progress, reportQuick, type Row } from './bench-support.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The Failsafe checkout to serve: this one, or another given in FAILSAFE_ROOT (to compare before and after). */
const failsafeRoot = process.env.FAILSAFE_ROOT ?? root;
const k6 = join(toolsDir(), `k6-${K6_VERSION}`, 'k6');
const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const quick = flags.quick;
const ROUNDS = Number(process.env.ROUNDS ?? (quick ? 2 : 3));
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? (quick ? 3 : 8));
/** Busy clients for throughput: enough that each token stays near the default 10 requests/s a client may keep up. */
const BUSY_CLIENTS = 100;
const RATE = 200;
/** Clients sharing the fixed rate: 5 requests/s each, well inside a token's limit. */
const RATE_CLIENTS = 40;

/** Starts a server process and resolves with the URL it prints. */
function start(
  command: string[],
  env: NodeJS.ProcessEnv,
  pattern: RegExp,
  cwd = root,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(command[0]!, command.slice(1), {
    cwd,
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
  readonly requests: number;
  readonly rate: number;
  readonly p95Ms: number;
  readonly failed: number;
  readonly rateLimited: number;
  readonly dropped: number;
}

/** The run's files (config, serve's data, k6's summaries), removed when the benchmark exits. */
const scratch = mkdtempSync(join(tmpdir(), 'failsafe-bench-front-door-'));
process.once('exit', () => rmSync(scratch, { recursive: true, force: true }));

function k6Run(env: Record<string, string>): Promise<Figures> {
  const summary = join(mkdtempSync(join(scratch, 'k6-')), 'summary.json');
  return new Promise((resolve, reject) => {
    const child = spawn(k6, ['run', '--quiet', '--no-usage-report', join(root, 'loadtests', 'front-door.js')], {
      env: { ...process.env, DURATION: `${SECONDS}s`, ...env, SUMMARY_PATH: summary },
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

// The rate limits at their defaults, whatever this shell sets.
delete process.env.MCP_RATE_LIMIT_PER_MINUTE;
delete process.env.MCP_RATE_LIMIT_BURST;
const admin = newToken();
// One viewer token per virtual user, configured as an operator would: by SHA-256 in the config file.
const clients = Array.from({ length: BUSY_CLIENTS }, (_, i) => ({ name: `k6-client-${i + 1}`, token: newToken() }));
const config = join(scratch, 'failsafe.json');
const tokenEntries = clients.map(({ name, token }) => ({ name, role: 'viewer', sha256: hashToken(token) }));
writeFileSync(config, JSON.stringify({ auth: { tokens: tokenEntries } }));
const TOKENS = clients.map((c) => c.token).join(',');

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
    join(scratch, 'data'),
    '--config',
    config,
  ],
  // The sources as checked out (never a stale dist/).
  { FAILSAFE_ADMIN_TOKEN: admin, FAILSAFE_FROM_SOURCE: '1' },
  /listening on (http:\/\/\S+)/,
  failsafeRoot,
);
process.once('exit', () => failsafe.child.kill('SIGTERM'));
// One service, so that list_services has something to list.
const asAdmin = { method: 'POST', headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' } };
await fetch(`${failsafe.url}/api/v1/services`, { ...asAdmin, body: JSON.stringify({ service: 'demo' }) });
const deployment = JSON.stringify({ release: 'v1' });
await fetch(`${failsafe.url}/api/v1/services/demo/deployments`, { ...asAdmin, body: deployment });

const mcp = (url: string, era: '2026-07-28' | '2025-11-25', tool: string, args: string) => ({
  URL: `${url}/mcp`,
  KIND: era === '2026-07-28' ? 'mcp-2026' : 'mcp-2025',
  TOOL: tool,
  ARGS: args,
});
const targets = {
  'bare /mcp 2026-07-28': mcp(bare.url, '2026-07-28', 'echo', '{"text":"hi"}'),
  'bare /mcp 2025-11-25': mcp(bare.url, '2025-11-25', 'echo', '{"text":"hi"}'),
  'failsafe /mcp 2026-07-28': { ...mcp(failsafe.url, '2026-07-28', 'list_services', '{}'), TOKENS },
  'failsafe /mcp 2025-11-25': { ...mcp(failsafe.url, '2025-11-25', 'list_services', '{}'), TOKENS },
  'failsafe /api/v1/services': { URL: `${failsafe.url}/api/v1/services`, KIND: 'rest', TOKENS },
} as const;
type Target = keyof typeof targets;
/** The quick run measures only what its checks need. */
const QUICK_TARGETS: readonly Target[] = [
  'bare /mcp 2026-07-28',
  'bare /mcp 2025-11-25',
  'failsafe /mcp 2026-07-28',
  'failsafe /mcp 2025-11-25',
];
const measured = quick ? QUICK_TARGETS : (Object.keys(targets) as Target[]);
const percent = (share: number) => `${(share * 100).toFixed(2)} %`;
const closed: Partial<Record<Target, Figures[]>> = {};
const open: Partial<Record<Target, Figures[]>> = {};
try {
  // Freshly started servers run cold code: one unrecorded run each warms them (and their JIT) first.
  for (const name of measured.filter((t) => t.includes('/mcp'))) {
    progress(`warming up: ${name}`);
    await k6Run({ ...targets[name], MODE: 'closed', VUS: String(BUSY_CLIENTS), DURATION: '2s' });
  }
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const name of measured) {
      progress(
        `round ${round}/${ROUNDS}: ${name}, ${BUSY_CLIENTS} busy clients then ${RATE} requests/s, ${SECONDS} s each`,
      );
      const busy = await k6Run({ ...targets[name], MODE: 'closed', VUS: String(BUSY_CLIENTS) });
      const fixed = await k6Run({ ...targets[name], MODE: 'open', RATE: String(RATE), VUS: String(RATE_CLIENTS) });
      progress(
        `  ${fmt(busy.rate)} requests/s; P95 ${fmt(fixed.p95Ms, 1)} ms at ${fmt(fixed.rate)} requests/s; ` +
          `429: ${percent(busy.rateLimited)} / ${percent(fixed.rateLimited)}`,
      );
      (closed[name] ??= []).push(busy);
      (open[name] ??= []).push(fixed);
      if (busy.failed > 0 || fixed.failed > 0)
        console.warn(`  ! ${name}: ${percent(busy.failed)} / ${percent(fixed.failed)} of calls failed`);
      if (busy.rateLimited > 0 || fixed.rateLimited > 0)
        console.warn(`  ! ${name}: ${percent(busy.rateLimited)} / ${percent(fixed.rateLimited)} refused with 429`);
      if (fixed.dropped > 0) console.warn(`  ! ${name}: k6 dropped ${fixed.dropped} of the fixed-rate requests`);
    }
  }
} finally {
  bare.child.kill('SIGTERM');
  failsafe.child.kill('SIGTERM');
}

const throughput = (t: Target) => median(closed[t]!.map((f) => f.rate));
const p95 = (t: Target) => median(open[t]!.map((f) => f.p95Ms));
const ratio = throughput('failsafe /mcp 2026-07-28') / throughput('bare /mcp 2026-07-28');
if (quick) {
  console.log(
    `front door, quick: 2026-07-28 ratio ${fmt(ratio, 2)}; P95 at ${RATE} requests/s ` +
      `${fmt(p95('failsafe /mcp 2026-07-28'), 1)} / ${fmt(p95('failsafe /mcp 2025-11-25'), 1)} ms`,
  );
  // CI runs this beside other suites: absolute milliseconds there say more about the machine than
  // about Failsafe, so each figure is judged against the bare server's in the same run.
  // And each side's best round: a slow path is slow in every round, a hiccup of a shared CI machine in one.
  const bestP95 = (t: Target) => Math.min(...open[t]!.map((f) => f.p95Ms));
  const p95Ratio = (era: '2026-07-28' | '2025-11-25') => bestP95(`failsafe /mcp ${era}`) / bestP95(`bare /mcp ${era}`);
  reportQuick([
    { name: 'mcp 2026-07-28 requests/s vs bare SDK v2', value: ratio, aim: 0.95, higherIsBetter: true },
    { name: 'mcp 2026-07-28 P95 at 200 rps vs bare', value: p95Ratio('2026-07-28'), aim: 1.5, higherIsBetter: false },
    { name: 'mcp 2025-11-25 P95 at 200 rps vs bare', value: p95Ratio('2025-11-25'), aim: 1.5, higherIsBetter: false },
  ]);
}

const rows: Row[] = [];
for (const era of ['2026-07-28', '2025-11-25'] as const) {
  const ours = `failsafe /mcp ${era}` as Target;
  const base = `bare /mcp ${era}` as Target;
  rows.push({
    measure: `MCP ${era}: requests/s (${BUSY_CLIENTS} clients)`,
    ours: fmt(throughput(ours)),
    bare: fmt(throughput(base)),
    ratio: fmt(throughput(ours) / throughput(base), 2),
    aim: era === '2026-07-28' ? '>= 0.95' : '—',
  });
  rows.push({
    measure: `MCP ${era}: P95 at ${RATE} requests/s`,
    ours: `${fmt(p95(ours), 1)} ms`,
    bare: `${fmt(p95(base), 1)} ms`,
    ratio: fmt(p95(ours) / p95(base), 2),
    aim: '< 5 ms',
  });
}
const rest: Target = 'failsafe /api/v1/services';
rows.push({
  measure: 'REST /api/v1/services: requests/s',
  ours: fmt(throughput(rest)),
  bare: fmt(throughput('bare /mcp 2026-07-28')),
  ratio: fmt(throughput(rest) / throughput('bare /mcp 2026-07-28'), 2),
  aim: '—',
});
rows.push({
  measure: `REST /api/v1/services: P95 at ${RATE} requests/s`,
  ours: `${fmt(p95(rest), 1)} ms`,
  bare: '—',
  ratio: '—',
  aim: '< 5 ms',
});
const all = Object.values(closed).concat(Object.values(open)).flat();
const refused = all.reduce((sum, f) => sum + f.rateLimited * f.requests, 0);
const sent = all.reduce((sum, f) => sum + f.requests, 0);
console.log(
  `\nFront door under k6 ${K6_VERSION}: medians of ${ROUNDS} rounds, ${SECONDS} s per run, ` +
    `load average ${loadAverage()} (k6 and the servers share the machine's cores); Failsafe from ${failsafeRoot}; ` +
    `rate limits at their defaults, one token per client: ${fmt(refused)} of ${fmt(sent)} requests refused (429)\n`,
);
printTable(rows, 'bare SDK v2 server');
