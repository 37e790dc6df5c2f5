import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hashToken } from '../src/auth/tokens.js';
import { loadFleetConfig } from '../src/config/fleet-config.js';
import { loadServeConfig } from '../src/config/serve-config.js';
import { K6_VERSION } from '../src/drills/k6.js';
import { dockerStages, entrypointEnv, imageEnv, readByServe } from '../src/testing/container-env.js';
import { EVENTSTORE_IMAGE } from '../src/testing/test-servers.js';
import { toolsDir } from '../src/tools/tools-dir.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const here = join(root, 'compose');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  network_mode?: string;
  networks?: Record<string, { aliases?: string[] } | null>;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  secrets?: { source: string }[];
  volumes?: string[];
}
interface Composed {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { file: string }>;
}

/** A tool the native provisioning installs; missing, every run (in CI too) says how to get it. */
function tool(command: string, args: string[], cwd = root): string {
  try {
    return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error(`${command} is missing: run scripts/provision.sh`);
    throw error;
  }
}

/** The `name=value` lines of a shell script, with their line numbers. */
function assignments(text: string): Map<string, { value: string; line: number }> {
  const found = new Map<string, { value: string; line: number }>();
  text.split('\n').forEach((line, i) => {
    const match = /^([A-Z][A-Z0-9_]*)=(\S*)$/.exec(line);
    if (match) found.set(match[1]!, { value: match[2]!, line: i + 1 });
  });
  return found;
}

/** The compose file's line that names an image, for a message that says where to change it. */
const imageLine = (image: string) =>
  read('compose/compose.yaml')
    .split('\n')
    .findIndex((line) => line.includes(`image: ${image}`)) + 1;

describe('the compose stack (compose/compose.yaml, validated by docker-compose, never run here)', () => {
  let dir: string;
  let composed: Composed;
  let secretsDir: string;

  beforeAll(() => {
    // A copy of compose/ with the example secrets and .env: the real ones never enter the repository.
    dir = mkdtempSync(join(tmpdir(), 'failsafe-compose-'));
    const copy = join(dir, 'compose');
    const realSecret = (path: string) =>
      path === '.env' || (path.startsWith('secrets/') && !/\.(example|gitignore)$/.test(path));
    cpSync(here, copy, { recursive: true, filter: (source) => !realSecret(relative(here, source)) });
    secretsDir = join(copy, 'secrets');
    for (const example of readdirSync(secretsDir).filter((f) => f.endsWith('.example')))
      cpSync(join(secretsDir, example), join(secretsDir, example.replace(/\.example$/, '')));
    cpSync(join(copy, '.env.example'), join(copy, '.env'));
    const output = tool('docker-compose', ['-f', join(copy, 'compose.yaml'), 'config'], copy);
    composed = parse(output) as Composed;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says to copy .env.example when .env is missing, rather than running with blanks', () => {
    rmSync(join(dir, 'compose', '.env'));
    let message = '';
    try {
      execFileSync('docker-compose', ['-f', join(dir, 'compose', 'compose.yaml'), 'config'], {
        cwd: join(dir, 'compose'),
        stdio: 'pipe',
      });
    } catch (error) {
      message = String((error as { stderr: Buffer }).stderr);
    }
    expect(message).toMatch(/copy \.env\.example to \.env/);
  });

  it('runs Failsafe, KurrentDB, Kafka, Toxiproxy, Prometheus, Alertmanager and Grafana, each health-checked', () => {
    expect(Object.keys(composed.services).sort()).toEqual(
      ['alertmanager', 'failsafe', 'grafana', 'kafka', 'kurrentdb', 'prometheus', 'toxiproxy'].sort(),
    );
    for (const [name, service] of Object.entries(composed.services)) {
      const test = service.healthcheck?.test ?? [];
      expect(test[0], `${name} has no health check`).toBe('CMD');
      expect(test.length, `${name}'s health check runs nothing`).toBeGreaterThan(1);
    }
    expect(composed.services.failsafe!.healthcheck!.test.join(' ')).toContain('/ready');
  });

  it('starts each service once what it depends on is healthy', () => {
    const dependencies = Object.entries(composed.services).flatMap(([name, s]) =>
      Object.entries(s.depends_on ?? {}).map(([on, { condition }]) => ({ name, on, condition })),
    );
    expect(dependencies.map(({ name, on }) => `${name}→${on}`).sort()).toEqual(
      [
        'failsafe→toxiproxy',
        'failsafe→kurrentdb',
        'failsafe→kafka',
        'alertmanager→failsafe',
        'prometheus→failsafe',
        'prometheus→alertmanager',
        'grafana→prometheus',
      ].sort(),
    );
    for (const { name, on, condition } of dependencies) expect(condition, `${name}→${on}`).toBe('service_healthy');
  });

  it('keeps every stateful service data in a named volume', () => {
    const named = (s: Service) => (s.volumes ?? []).map((v) => v.split(':')[0]!).filter((v) => !v.startsWith('/'));
    for (const name of ['failsafe', 'kurrentdb', 'kafka', 'prometheus', 'alertmanager', 'grafana']) {
      expect(named(composed.services[name]!).length, `${name} keeps its data in no named volume`).toBeGreaterThan(0);
      for (const volume of named(composed.services[name]!)) expect(composed.volumes).toHaveProperty(volume);
    }
  });

  it('gives each secret only to who needs it, from a file with a committed example that git ignores', () => {
    const given = (name: string) => (composed.services[name]!.secrets ?? []).map((s) => s.source).sort();
    expect(given('failsafe')).toEqual(['admin_token', 'alertmanager_webhook_token']);
    expect(given('alertmanager')).toEqual(['alertmanager_webhook_token']);
    expect(given('grafana')).toEqual(['grafana_admin_password']);
    expect(composed.services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD__FILE).toBe(
      '/run/secrets/grafana_admin_password',
    );
    for (const [name, { file }] of Object.entries(composed.secrets)) {
      expect(file).toBe(join(secretsDir, name));
      expect(existsSync(join(here, 'secrets', `${name}.example`)), `compose/secrets/${name}.example`).toBe(true);
      // check-ignore exits 0 when the path is ignored.
      execFileSync('git', ['check-ignore', '-q', `compose/secrets/${name}`], { cwd: root });
    }
  });

  /**
   * What `serve` sees in the container: the Dockerfile's ENV, compose's environment, and what the
   * entrypoint adds from the secrets it finds (here: those named, copied from the examples).
   */
  function containerEnv(secrets: string[], extra: Record<string, string> = {}) {
    const only = mkdtempSync(join(dir, 'secrets-'));
    for (const name of secrets) cpSync(join(secretsDir, name), join(only, name));
    const fromEntrypoint = entrypointEnv(only, join(only, 'failsafe.yaml'), extra);
    return { ...imageEnv(), ...composed.services.failsafe!.environment, ...fromEntrypoint };
  }
  const secret = (name: string) => readFileSync(join(secretsDir, name), 'utf8').trim();

  it('configures Failsafe only through the variables `serve` reads, and they load', () => {
    const given = containerEnv(['admin_token']);
    const { config, unread } = readByServe(given);
    expect(toolsDir(given)).toBe('/opt/failsafe/tools');
    expect(unread, 'variables Failsafe never reads').toEqual([]);

    expect(config.adminToken).toBe(secret('admin_token'));
    expect(config.store).toEqual({ kind: 'eventstore', url: 'kurrentdb://kurrentdb:2113?tls=false' });
    expect(config.kafka?.brokers).toEqual(['kafka:9092']);
    expect(config.port).toBe(8080);
    // Alertmanager calls http://failsafe:8080: Failsafe must accept that Host header.
    expect(config.allowedHosts).toContain('failsafe');
  });

  it("accepts Alertmanager's webhook token as a config-file token of role alertmanager, by its SHA-256", () => {
    const env = containerEnv(['admin_token', 'alertmanager_webhook_token']);
    expect(readFileSync(env.FAILSAFE_CONFIG!, 'utf8')).not.toContain(secret('alertmanager_webhook_token'));
    expect(loadServeConfig({}, env).tokens).toEqual([
      { name: 'alertmanager', role: 'alertmanager', sha256: hashToken(secret('alertmanager_webhook_token')) },
    ]);
    // A config file of the operator's own would lose its tokens: the entrypoint refuses to replace it.
    expect(() => containerEnv(['alertmanager_webhook_token'], { FAILSAFE_CONFIG: '/etc/failsafe.yaml' })).toThrow(
      /add the alertmanager token to \/etc\/failsafe\.yaml/,
    );
  });

  it('mounts only files the repository has', () => {
    const mounts = Object.values(composed.services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0]!)
      .filter((from) => from.startsWith('/'));
    expect(mounts.length).toBeGreaterThan(3);
    for (const from of mounts) {
      const path = relative(dir, from);
      expect(existsSync(join(root, path)), `compose.yaml mounts ${path}, which does not exist`).toBe(true);
    }
  });

  it('runs the sample fleet inside Failsafe, in the network namespace Toxiproxy and Prometheus share', () => {
    const { failsafe, prometheus, toxiproxy } = composed.services;
    expect(failsafe!.network_mode).toBe('service:toxiproxy');
    expect(prometheus!.network_mode).toBe('service:toxiproxy');
    expect(toxiproxy!.networks?.default?.aliases?.sort()).toEqual(['failsafe', 'prometheus']);
    const fleetFile = failsafe!.environment!.FAILSAFE_FLEET!.replace(/^\/app\//, root);
    const fleet = loadFleetConfig(fleetFile);
    expect(failsafe!.environment!.FAILSAFE_TOXIPROXY_URL).toBe(`http://${fleet.toxiproxy!.api}`);

    // Prometheus scrapes each fleet service at its stable loopback address, labelled with its name.
    const scrape = parse(read('compose/prometheus/prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels?: { service?: string } }[] }[];
    };
    const fleetJob = scrape.scrape_configs.find((c) => c.job_name === 'fleet')!;
    const targets = Object.fromEntries(fleetJob.static_configs.map((c) => [c.labels?.service, c.targets]));
    expect(targets).toEqual(
      Object.fromEntries(
        Object.entries(fleet.services).map(([name, s]) => [name, [`127.0.0.1:${'port' in s ? s.port : ''}`]]),
      ),
    );
    const failsafeJob = scrape.scrape_configs.find((c) => c.job_name === 'failsafe')!;
    expect(failsafeJob.static_configs[0]!.targets).toEqual([`127.0.0.1:${failsafe!.environment!.MCP_HTTP_PORT}`]);
  });

  it('runs every service at the version the native provisioning runs (KurrentDB and Grafana: pinned)', () => {
    const provision = assignments(read('scripts/provision.sh'));
    const version = (output: string) => /version (\d+\.\d+\.\d+)/.exec(output)?.[1];
    const native: Record<string, string> = {
      kafka: `apache/kafka:${provision.get('KAFKA_VERSION')?.value}`,
      toxiproxy: `ghcr.io/shopify/toxiproxy:${provision.get('TOXIPROXY_VERSION')?.value}`,
      prometheus: `prom/prometheus:v${version(tool('prometheus', ['--version']))}`,
      alertmanager: `prom/alertmanager:v${version(tool('prometheus-alertmanager', ['--version']))}`,
      kurrentdb: EVENTSTORE_IMAGE,
    };
    for (const [name, image] of Object.entries(native)) {
      const actual = composed.services[name]!.image!;
      expect(actual, `change line ${imageLine(actual)} of compose/compose.yaml to image: ${image}`).toBe(image);
    }
    expect(composed.services.grafana!.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);

    const k6 = dockerArg('K6_VERSION');
    expect(k6.value, `change line ${k6.line} of compose/Dockerfile to ARG K6_VERSION=${K6_VERSION}`).toBe(
      provision.get('K6_VERSION')?.value,
    );
    expect(K6_VERSION).toBe(provision.get('K6_VERSION')?.value);
    // Node runs natively too: the image's major version is the one the tests run on.
    const node = dockerArg('NODE_IMAGE');
    const major = process.versions.node.split('.')[0];
    expect(node.value, `change line ${node.line} of compose/Dockerfile to Node ${major}`).toMatch(
      new RegExp(`^node:${major}\\.`),
    );
  });

  it('has a Prometheus configuration promtool accepts, with the alert rules and Alertmanager', () => {
    const output = tool('promtool', ['check', 'config', join(here, 'prometheus', 'prometheus.yml')]);
    expect(output).toMatch(/is valid prometheus config file syntax/);
    const config = parse(read('compose/prometheus/prometheus.yml')) as {
      rule_files: string[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
  });

  it("provisions Grafana's Prometheus data source and the generated dashboards' folder", () => {
    const grafana = composed.services.grafana!;
    const mounted = (from: string) =>
      grafana.volumes!.find((v) => v.startsWith(join(dir, 'compose', from)))?.split(':')[1];
    const datasources = parse(read('compose/grafana/provisioning/datasources/prometheus.yaml')) as {
      datasources: { type: string; url: string }[];
    };
    expect(datasources.datasources).toMatchObject([{ type: 'prometheus', url: 'http://prometheus:9090' }]);
    expect(composed.services.prometheus!.healthcheck!.test.join(' ')).toContain(':9090/');
    const providers = parse(read('compose/grafana/provisioning/dashboards/failsafe.yaml')) as {
      providers: { type: string; options: { path: string } }[];
    };
    expect(providers.providers).toMatchObject([{ type: 'file', options: { path: '/var/lib/grafana/dashboards' } }]);
    expect(mounted('grafana/dashboards')).toBe('/var/lib/grafana/dashboards');
    expect(mounted('grafana/provisioning')).toBe('/etc/grafana/provisioning');
  });

  it('builds Failsafe in stages, runs it as a non-root user on production dependencies, checks /ready', () => {
    const stages = dockerStages();
    const runtime = stages.at(-1)!;
    const ops = (op: string) => runtime.instructions.filter((i) => i.op === op).map((i) => i.args);
    expect(stages.map((s) => s.from.split(/\s+AS\s+/i)[1])).toEqual(['build', 'k6', 'runtime']);
    // The same Node for compiling and running, so the build's output fits the runtime.
    expect(stages[0]!.from.split(/\s+/)[0]).toBe(runtime.from.split(/\s+/)[0]);
    expect(stages[0]!.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args))).toBe(true);
    expect(ops('RUN').some((run) => /npm ci --omit=dev/.test(run))).toBe(true);
    expect(ops('COPY').some((copy) => copy.startsWith('--from=build /app/dist'))).toBe(true);
    const user = ops('USER').at(-1);
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user!.split(':')[0]);
    expect(ops('HEALTHCHECK').join(' ')).toMatch(/\/ready/);
    expect(ops('EXPOSE')).toEqual([composed.services.failsafe!.environment!.MCP_HTTP_PORT]);
    expect(composed.services.failsafe!.build).toEqual({ context: dir, dockerfile: 'compose/Dockerfile' });

    // Every file COPY takes from the build context exists and is not left out by .dockerignore.
    const ignored = read('.dockerignore')
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(root, source)), `COPY ${source}: no such file in the repository`).toBe(true);
      const by = ignored.find((pattern) => source === pattern || source.startsWith(`${pattern}/`));
      expect(by, `COPY ${source} is excluded by .dockerignore`).toBeUndefined();
    }
  });

  it("checks Failsafe's health alike in the image and in compose: healthy only when /ready says 200", async () => {
    const healthcheck = dockerStages()
      .at(-1)!
      .instructions.find((i) => i.op === 'HEALTHCHECK')!.args;
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD ') + 4)) as string[];
    expect(composed.services.failsafe!.healthcheck!.test).toEqual(['CMD', ...command]);

    // The command itself, run by this machine's Node against an HTTP server answering /ready.
    let status = 200;
    const server = createServer((req, res) => res.writeHead(req.url === '/ready' ? status : 404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const env = { ...process.env, MCP_HTTP_PORT: String((server.address() as AddressInfo).port) };
    const exitCode = () =>
      promisify(execFile)(command[0]!, command.slice(1), { env }).then(
        () => 0,
        (error: { code: number }) => error.code,
      );
    try {
      expect(await exitCode()).toBe(0);
      status = 503;
      expect(await exitCode()).toBe(1);
    } finally {
      server.close();
    }
  });
});

/** An `ARG name=value` of the Dockerfile, with its line number. */
function dockerArg(name: string): { value: string; line: number } {
  const lines = read('compose/Dockerfile').split('\n');
  const line = lines.findIndex((l) => l.startsWith(`ARG ${name}=`));
  return { value: lines[line]?.split('=')[1] ?? '(none)', line: line + 1 };
}
