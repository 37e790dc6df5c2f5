import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadFleetConfig } from './fleet-config.js';

describe('fleet configuration file', () => {
  let dir: string;
  const write = (text: string) => {
    writeFileSync(join(dir, 'fleet.yaml'), text);
    return join(dir, 'fleet.yaml');
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'failsafe-fleet-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads process and webhook services, resolving release folders against the file', () => {
    const path = write(
      'services:\n  sample:\n    driver: process\n    releasesDir: releases\n    port: 8091\n' +
        '  payments:\n    driver: webhook\n    url: https://deploy.example/hook\n    secretEnv: PAYMENTS_HOOK_SECRET\n',
    );
    const fleet = loadFleetConfig(path, { PAYMENTS_HOOK_SECRET: 'x' });
    expect(fleet.services.sample).toEqual({
      driver: 'process',
      releasesDir: join(dir, 'releases'),
      port: 8091,
      warmStandby: true,
      telemetry: 'probe',
    });
    expect(fleet.services.payments).toMatchObject({ driver: 'webhook', retries: 3, timeoutSeconds: 30 });
    expect(fleet.probe).toEqual({ intervalSeconds: 10, timeoutSeconds: 5 });
  });

  it("names each service's probe tool, and refuses one that is not a tool name", () => {
    const sample = 'services:\n  sample:\n    driver: process\n    releasesDir: releases\n    port: 8091\n';
    const fleet = loadFleetConfig(write(`${sample}    probeTool: time\n`), {});
    expect(fleet.services.sample).toMatchObject({ probeTool: 'time' });
    const bad = write(`${sample}    probeTool: "rm -rf"\n`);
    expect(() => loadFleetConfig(bad, {})).toThrow(/line 6: services.sample.probeTool: must be letters, digits/);
  });

  it('lists every problem by line, and a secret missing from the environment', () => {
    const bad = write('services:\n  sample:\n    driver: process\n    port: 99999\nprobe:\n  intervalSeconds: 0\n');
    expect(() => loadFleetConfig(bad, {})).toThrow(
      new RegExp(
        'InvalidFleetFile: .*fleet.yaml has 3 problem.*line 3: services.sample.releasesDir' +
          '.*line 4: services.sample.port.*line 6: probe.intervalSeconds',
        's',
      ),
    );
    const noSecret = write(
      'services:\n  payments:\n    driver: webhook\n' +
        '    url: https://deploy.example/hook\n    secretEnv: PAYMENTS_HOOK_SECRET\n',
    );
    expect(() => loadFleetConfig(noSecret, {})).toThrow(/PAYMENTS_HOOK_SECRET is not set in the environment/);
  });

  it('refuses a service name that is not a plain identifier', () => {
    for (const name of ['"../x"', '"a..b"', '".hidden"', '"a,b"', '"a\\u0000"', '"ѕample"']) {
      const path = write(`services:\n  ${name}:\n    driver: process\n    releasesDir: releases\n    port: 0\n`);
      expect(() => loadFleetConfig(path, {}), name).toThrow(
        /InvalidFleetFile: .*line 3: services.*: the name must be letters, digits/s,
      );
    }
  });

  const kubernetes = [
    'services:',
    '  search:',
    '    driver: kubernetes',
    '    namespace: mcp-fleet',
    '    deployment: search',
    '    container: server',
    '    image: "registry.example.com/mcp/search:{release}"',
    '    address: "http://127.0.0.1:8081"',
    '    kubeconfig: ./failsafe.kubeconfig',
    '    rolloutTimeoutSeconds: 600',
    '    probeTool: time',
    '    telemetry: probe',
    '',
  ].join('\n');

  it('reads a kubernetes service beside the others, resolving its kubeconfig against the file', () => {
    writeFileSync(join(dir, 'failsafe.kubeconfig'), 'apiVersion: v1\nkind: Config\n');
    const mixed = `${kubernetes}  sample:\n    driver: process\n    releasesDir: releases\n    port: 8091\n`;
    const fleet = loadFleetConfig(write(mixed), {});
    expect(fleet.services.search).toEqual({
      driver: 'kubernetes',
      namespace: 'mcp-fleet',
      deployment: 'search',
      container: 'server',
      image: 'registry.example.com/mcp/search:{release}',
      address: 'http://127.0.0.1:8081',
      kubeconfig: join(dir, 'failsafe.kubeconfig'),
      rolloutTimeoutSeconds: 600,
      probeTool: 'time',
      telemetry: 'probe',
    });
    expect(fleet.services.sample).toMatchObject({ driver: 'process' });
    const minimal = kubernetes
      .split('\n')
      .filter((line) => !/container|kubeconfig|rolloutTimeout|probeTool|telemetry/.test(line))
      .join('\n');
    expect(loadFleetConfig(write(minimal), {}).services.search).toMatchObject({
      rolloutTimeoutSeconds: 600,
      telemetry: 'probe',
    });
  });

  it('refuses a kubernetes service with names Kubernetes would refuse, or an image without one {release}', () => {
    const cases: [string, string, RegExp][] = [
      ['namespace: mcp-fleet', 'namespace: ../x', /line 4: services.search.namespace: must be a DNS-1123 label/],
      ['namespace: mcp-fleet', 'namespace: MCP', /services.search.namespace: must be a DNS-1123 label/],
      ['deployment: search', 'deployment: "se/arch"', /line 5: services.search.deployment: must be a DNS-1123 sub/],
      [':{release}"', ':v1"', /line 7: services.search.image: must contain \{release\} exactly once/],
      [':{release}"', ':{release}-{release}"', /services.search.image: must contain \{release\} exactly once/],
      [':{release}"', ':{release}\\u0000"', /services.search.image: must not contain spaces or control char/],
      ['address: "http://127.0.0.1:8081"', 'address: "ftp://x"', /line 8: services.search.address/],
      [
        'rolloutTimeoutSeconds: 600',
        'rolloutTimeoutSeconds: 0',
        /line 10: services.search.rolloutTimeoutSeconds: Too small/,
      ],
      [
        'container: server',
        'container: server\n    replicas: 3',
        /line 3: services.search: Unrecognized key: "replicas"/,
      ],
    ];
    cases.push(['./failsafe.kubeconfig', './missing.kubeconfig', /services.search.kubeconfig: no file .*missing/]);
    for (const [from, to, error] of cases) {
      const path = write(kubernetes.replace(from, to));
      expect(() => loadFleetConfig(path, {}), to).toThrow(error);
    }
  });
});
