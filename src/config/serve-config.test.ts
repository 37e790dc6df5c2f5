import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidConfig, loadServeConfig } from './serve-config.js';

const problemsOf = (run: () => unknown): readonly string[] => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfig);
    return (error as InvalidConfig).problems;
  }
  throw new Error('expected InvalidConfig');
};

const root = mkdtempSync(join(tmpdir(), 'failsafe-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const configFile = (text: string) => {
  const path = join(mkdtempSync(join(root, 'c-')), 'failsafe.yaml');
  writeFileSync(path, text);
  return path;
};

const HASH = 'a'.repeat(64);

describe('serve configuration', () => {
  it('defaults to 127.0.0.1:8080, /mcp, ./data, loopback host names and origins, and limits', () => {
    const config = loadServeConfig({}, {});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      mcpPath: '/mcp',
      allowedHosts: ['localhost', '127.0.0.1', '[::1]'],
      allowedOrigins: ['localhost', '127.0.0.1', '[::1]'],
      maxBodyBytes: 1_048_576,
      rateLimit: { perMinute: 600, burst: 100 },
      shutdownGraceSeconds: 10,
      tokens: [],
    });
    expect(config.dataDir).toMatch(/\/data$/);
  });

  it("takes the seeds' environment variables, and flags over them", () => {
    const env = {
      MCP_HTTP_HOST: '::1',
      MCP_HTTP_PORT: '9090',
      FAILSAFE_DATA_DIR: '/tmp/fs',
      MCP_HTTP_BASE_PATH: '/mcp-v2',
    };
    expect(loadServeConfig({}, env)).toMatchObject({
      host: '::1',
      port: 9090,
      dataDir: '/tmp/fs',
      tickSeconds: 10,
      mcpPath: '/mcp-v2',
    });
    expect(loadServeConfig({ tickSeconds: '2', policy: '/etc/p.yaml' }, {})).toMatchObject({
      tickSeconds: 2,
      policyPath: '/etc/p.yaml',
    });
    expect(loadServeConfig({ port: '7000', host: 'localhost' }, env)).toMatchObject({ host: 'localhost', port: 7000 });
  });

  it('expires waiting deployment requests after 15 min unless the file or the environment says otherwise', () => {
    expect(loadServeConfig({}, {}).requestExpirySeconds).toBe(900);
    const path = configFile('requestExpirySeconds: 3600\n');
    expect(loadServeConfig({ config: path }, {}).requestExpirySeconds).toBe(3600);
    expect(loadServeConfig({ config: path }, { FAILSAFE_REQUEST_EXPIRY_SECONDS: '60' }).requestExpirySeconds).toBe(60);
    expect(problemsOf(() => loadServeConfig({}, { FAILSAFE_REQUEST_EXPIRY_SECONDS: '0' }))).toEqual([
      'FAILSAFE_REQUEST_EXPIRY_SECONDS="0": must be a whole number of seconds from 1 to 604800',
    ]);
  });

  it('runs without Kafka unless brokers are named; FAILSAFE_KAFKA_BROKERS wins over the file', () => {
    expect(loadServeConfig({}, {}).kafka).toBeUndefined();
    const file = configFile('kafka:\n  brokers: [127.0.0.1:9092]\n  feed: { topic: audit.events }\n');
    const config = loadServeConfig({ config: file }, { FAILSAFE_KAFKA_BROKERS: '127.0.0.1:19092, 127.0.0.1:19093' });
    expect(config.kafka).toMatchObject({
      brokers: ['127.0.0.1:19092', '127.0.0.1:19093'],
      clientId: 'failsafe',
      telemetry: { enabled: true, samplesTopic: 'failsafe.telemetry.samples', staleAfterSeconds: 30 },
      feed: { enabled: true, topic: 'audit.events' },
    });
  });

  it("reads the shipped push fleet's config: Failsafe behind the proxy, pushing services to the broker itself", () => {
    const shipped = fileURLToPath(new URL('../../drills/sample-fleet/push-serve.yaml', import.meta.url));
    expect(loadServeConfig({ config: shipped }, {}).kafka).toMatchObject({
      brokers: ['127.0.0.1:9093'],
      telemetry: { pushBrokers: ['127.0.0.1:9092'], staleAfterSeconds: 30 },
    });
  });

  it('refuses Kafka settings without brokers, and bad broker addresses and topic names', () => {
    expect(
      problemsOf(() => loadServeConfig({ config: configFile('kafka: { feed: { enabled: false } }\n') }, {})),
    ).toEqual([expect.stringMatching(/kafka: names no brokers/)]);
    const bad = configFile('kafka:\n  feed: { topic: "../x" }\n');
    expect(
      problemsOf(() => loadServeConfig({ config: bad }, { FAILSAFE_KAFKA_BROKERS: 'broker,127.0.0.1:99999' })),
    ).toEqual([
      expect.stringMatching(/line 2: kafka.feed.topic: a topic name/),
      expect.stringMatching(/FAILSAFE_KAFKA_BROKERS=.*kafka.brokers.0: host:port/),
      expect.stringMatching(/FAILSAFE_KAFKA_BROKERS=.*kafka.brokers.1: a port from 0 to 65535/),
    ]);
  });

  it('leases executions for 30 s unless the file or the environment says otherwise', () => {
    expect(loadServeConfig({}, {}).executionLeaseSeconds).toBe(30);
    const path = configFile('executionLeaseSeconds: 10\n');
    expect(loadServeConfig({ config: path }, {}).executionLeaseSeconds).toBe(10);
    const env = { FAILSAFE_EXECUTION_LEASE_SECONDS: '6' };
    expect(loadServeConfig({ config: path }, env).executionLeaseSeconds).toBe(6);
    expect(problemsOf(() => loadServeConfig({}, { FAILSAFE_EXECUTION_LEASE_SECONDS: '1' }))).toEqual([
      'FAILSAFE_EXECUTION_LEASE_SECONDS="1": must be a whole number of seconds from 3 to 3600',
    ]);
  });

  it('watches a restored release for 4 s unless the file or the environment says otherwise', () => {
    expect(loadServeConfig({}, {}).verificationWindowSeconds).toBe(4);
    const path = configFile('verificationWindowSeconds: 10\n');
    expect(loadServeConfig({ config: path }, {}).verificationWindowSeconds).toBe(10);
    const env = { FAILSAFE_VERIFICATION_WINDOW_SECONDS: '6' };
    expect(loadServeConfig({ config: path }, env).verificationWindowSeconds).toBe(6);
    expect(problemsOf(() => loadServeConfig({}, { FAILSAFE_VERIFICATION_WINDOW_SECONDS: '1' }))).toEqual([
      'FAILSAFE_VERIFICATION_WINDOW_SECONDS="1": must be a whole number of seconds from 2 to 600',
    ]);
  });

  it('reads a config file, with paths relative to it, below the environment', () => {
    const path = configFile(
      [
        'dataDir: state',
        'http:',
        '  port: 9000',
        '  rateLimit: { perMinute: 60, burst: 5 }',
        'auth:',
        '  tokens:',
        `    - { name: alice, role: operator, sha256: ${HASH} }`,
      ].join('\n'),
    );
    const config = loadServeConfig({ config: path }, {});
    expect(config).toMatchObject({
      port: 9000,
      rateLimit: { perMinute: 60, burst: 5 },
      tokens: [{ name: 'alice', role: 'operator', sha256: HASH }],
    });
    expect(config.dataDir).toBe(join(path, '..', 'state'));
    expect(loadServeConfig({}, { FAILSAFE_CONFIG: path, MCP_HTTP_PORT: '9100' }).port).toBe(9100);
  });

  it('opens the embedded store in the data folder unless a store URL is given by flag, environment or file', () => {
    expect(loadServeConfig({ dataDir: '/srv/f' }, {}).store).toEqual({ kind: 'sqlite', path: '/srv/f/failsafe.db' });
    const path = configFile('store: sqlite:state/events.db\n');
    expect(loadServeConfig({ config: path }, {}).store).toEqual({
      kind: 'sqlite',
      path: join(path, '..', 'state', 'events.db'),
    });
    const pg = 'postgres://failsafe@127.0.0.1:5432,127.0.0.1:5433/f';
    expect(loadServeConfig({ config: path }, { FAILSAFE_STORE: pg }).store).toEqual({ kind: 'postgres', url: pg });
    expect(loadServeConfig({ config: path, store: 'esdb://127.0.0.1:2113' }, { FAILSAFE_STORE: pg }).store).toEqual({
      kind: 'eventstore',
      url: 'esdb://127.0.0.1:2113',
    });
  });

  it('lists a bad store URL with the other problems, naming the setting and never showing a password', () => {
    const problems = problemsOf(() =>
      loadServeConfig({ port: 'x' }, { FAILSAFE_STORE: 'postgres://failsafe:s3cret@db:99999999/f' }),
    );
    expect(problems).toEqual([
      expect.stringMatching(/--port="x"/),
      expect.stringMatching(/^FAILSAFE_STORE: InvalidStoreUrl: "postgres:\/\/failsafe:\*\*\*@db:99999999\/f" is not/),
    ]);
    expect(problems.join('\n')).not.toContain('s3cret');
    expect(problemsOf(() => loadServeConfig({ store: 'events.db' }, {}))).toEqual([
      expect.stringMatching(/^--store: InvalidStoreUrl: "events.db" has no scheme; use sqlite:<path>/),
    ]);
  });

  it('binds beyond loopback only with allowed hosts and origins', () => {
    expect(problemsOf(() => loadServeConfig({ host: '0.0.0.0' }, {}))[0]).toMatch(
      /--host="0.0.0.0": bound to a non-loopback address.*MCP_ALLOWED_HOSTS and MCP_ALLOWED_ORIGINS/,
    );
    const config = loadServeConfig(
      { host: '0.0.0.0' },
      { MCP_ALLOWED_HOSTS: 'failsafe.example.com, failsafe', MCP_ALLOWED_ORIGINS: 'console.example.com' },
    );
    expect(config).toMatchObject({
      allowedHosts: ['failsafe.example.com', 'failsafe'],
      allowedOrigins: ['console.example.com'],
    });
  });

  it('lists every problem at once, from flags, environment and the file (with its lines)', () => {
    const path = configFile(
      [
        'http:',
        '  port: 8080',
        'auth:',
        '  tokens:',
        '    - { name: bob, role: superuser, sha256: abc }',
        `    - { name: bob, role: viewer, sha256: ${HASH} }`,
      ].join('\n'),
    );
    const problems = problemsOf(() =>
      loadServeConfig(
        { port: 'eighty', config: path },
        {
          MCP_HTTP_HOST: '0.0.0.0',
          FAILSAFE_TICK_SECONDS: '0',
          MCP_MAX_BODY_BYTES: '12',
          FAILSAFE_ADMIN_TOKEN: 'short',
        },
      ),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/line 5: auth.tokens.0.role: /),
        expect.stringMatching(/line 5: auth.tokens.0.sha256: the SHA-256 of the token/),
        expect.stringMatching(/--port="eighty": must be a port number from 0 to 65535/),
        expect.stringMatching(/MCP_HTTP_HOST="0.0.0.0": bound to a non-loopback address/),
        expect.stringMatching(/FAILSAFE_TICK_SECONDS="0": must be a whole number of seconds/),
        expect.stringMatching(/MCP_MAX_BODY_BYTES="12": must be a whole number of bytes from 1024/),
        expect.stringMatching(/FAILSAFE_ADMIN_TOKEN: must be at least 24 characters/),
      ]),
    );
    expect(problems).toHaveLength(7);
  });

  it('refuses two tokens with one name, since names identify actors', () => {
    const path = configFile(
      [
        'auth:',
        '  tokens:',
        `    - { name: bob, role: viewer, sha256: ${HASH} }`,
        `    - { name: bob, role: admin, sha256: ${'b'.repeat(64)} }`,
      ].join('\n'),
    );
    expect(problemsOf(() => loadServeConfig({ config: path }, {}))).toEqual([
      expect.stringMatching(/the name "bob" is given to more than one token/),
    ]);
  });

  it("refuses a token named like the built-in admin, or not a plain identifier, and reads a token's expiry", () => {
    const tokens = ['admin', 'alice@example.com', '"a,b"', '"../x"', '"x\\u0000"'].map(
      (name, i) => `    - { name: ${name}, role: viewer, sha256: ${'abcdf'[i]!.repeat(64)} }`,
    );
    const bad = configFile(
      [
        'auth:',
        '  tokens:',
        ...tokens,
        `    - { name: eve, role: viewer, sha256: ${'e'.repeat(64)}, expiresAt: tomorrow }`,
      ].join('\n'),
    );
    expect(problemsOf(() => loadServeConfig({ config: bad }, {}))).toEqual([
      expect.stringMatching(/line 3: auth.tokens.0.name: "admin" is the built-in admin's; name the token's holder/),
      expect.stringMatching(/line 4: auth.tokens.1.name: must be letters, digits/),
      expect.stringMatching(/line 5: auth.tokens.2.name: must be letters, digits/),
      expect.stringMatching(/line 6: auth.tokens.3.name: must be letters, digits/),
      expect.stringMatching(/line 7: auth.tokens.4.name: must be letters, digits/),
      expect.stringMatching(/line 8: auth.tokens.5.expiresAt: /),
    ]);
    const good = configFile(
      [
        'auth:',
        '  tokens:',
        `    - { name: eve, role: viewer, sha256: ${HASH}, expiresAt: "2026-12-01T00:00:00Z" }`,
      ].join('\n'),
    );
    expect(loadServeConfig({ config: good }, {}).tokens).toEqual([
      { name: 'eve', role: 'viewer', sha256: HASH, expiresAt: '2026-12-01T00:00:00Z' },
    ]);
  });
});
