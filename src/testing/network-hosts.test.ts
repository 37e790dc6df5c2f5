import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNetwork, sweepTestNetworks, type NetworkHost, type TestNetwork } from './network-hosts.js';

/** A TCP echo server on the host's address and `port`, as a child process in its namespace. */
const echoServer = (host: NetworkHost, port: number) => {
  const code =
    `require('node:net').createServer((s) => s.pipe(s))` +
    `.listen(${port}, '${host.address}', () => console.log('up'))`;
  const child = host.spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const up = new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { child, up };
};

/** Whether `from` gets its bytes echoed by `to`'s server within a second: over real TCP, between namespaces. */
const reaches = async (from: NetworkHost, to: NetworkHost, port: number): Promise<boolean> => {
  const code = [
    `const s = require('node:net').connect(${port}, '${to.address}');`,
    "s.setTimeout(1000, () => { console.log('timeout'); process.exit(0); });",
    "s.on('error', (e) => { console.log(e.code); process.exit(0); });",
    "s.on('connect', () => s.write('ping')); s.on('data', (d) => { console.log(String(d)); process.exit(0); });",
  ].join(' ');
  return (await from.exec(process.execPath, ['-e', code])).trim() === 'ping';
};

const namespaces = () => execFileSync('ip', ['netns', 'list']).toString();

// Namespaces need root; in CI the suite runs regardless, and fails with NetworkHostsUnavailable rather than skip.
const canMakeHosts = process.getuid?.() === 0 || process.env.CI === 'true';

describe.runIf(canMakeHosts)('test hosts on network namespaces', () => {
  let network: TestNetwork;
  const port = 7777;
  const servers: ReturnType<typeof echoServer>[] = [];
  beforeAll(async () => {
    network = await startTestNetwork(['a', 'b', 'c']);
    for (const host of network.hosts) servers.push(echoServer(host, port));
    await Promise.all(servers.map((s) => s.up));
  });
  afterAll(async () => {
    for (const { child } of servers) child.kill();
    await network?.close();
  });

  it('gives each host its own address, and they connect to each other over TCP', async () => {
    const [a, b, c] = network.hosts as [NetworkHost, NetworkHost, NetworkHost];
    expect(new Set([a.address, b.address, c.address]).size).toBe(3);
    expect(await a.exec('ip', ['-4', '-o', 'addr', 'show', 'eth0'])).toContain(`${a.address}/24`);
    expect(await reaches(a, b, port)).toBe(true);
    expect(await reaches(b, c, port)).toBe(true);
    expect(await reaches(c, a, port)).toBe(true);
  });

  it('cuts exactly the host whose link is down, both ways, until it is up again', async () => {
    const [a, b, c] = network.hosts as [NetworkHost, NetworkHost, NetworkHost];
    await c.linkDown();
    try {
      expect(await reaches(a, c, port)).toBe(false);
      expect(await reaches(c, b, port)).toBe(false);
      expect(await reaches(a, b, port)).toBe(true);
      expect(await reaches(b, a, port)).toBe(true);
    } finally {
      await c.linkUp();
    }
    await expect.poll(() => reaches(a, c, port), { timeout: 10_000 }).toBe(true);
  });

  it('lets the machine itself reach a host through the bridge (the gateway address)', async () => {
    const answer = spawnSync('curl', ['-s', '-m', '2', `telnet://${network.hosts[0]!.address}:${port}`], {
      input: 'hello',
      timeout: 3000,
    });
    expect(answer.stdout.toString()).toBe('hello');
    expect(network.gateway).toMatch(/^10\.77\.\d+\.1$/);
  });

  it('removes its namespaces and bridge on close, and a crashed run’s are swept by the next', async () => {
    // A namespace and a bridge left by a process that is gone (this short-lived child).
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout.toString().trim();
    execFileSync('ip', ['netns', 'add', `fsn-${dead}-left`]);
    execFileSync('ip', ['link', 'add', 'fsbleft', 'type', 'bridge']);
    execFileSync('ip', ['link', 'set', 'fsbleft', 'alias', `failsafe-test-network pid=${dead}`]);
    const removed = await sweepTestNetworks();
    expect(removed).toEqual(expect.arrayContaining([`fsn-${dead}-left`, 'fsbleft']));
    // What a live run (this one) made is kept.
    expect(namespaces()).toContain(`fsn-${process.pid}-a`);

    const other = await startTestNetwork(['x']);
    expect(namespaces()).toContain(`fsn-${process.pid}-x`);
    await other.close();
    await other.close();
    expect(namespaces()).not.toContain(`fsn-${process.pid}-x`);
    expect(execFileSync('ip', ['-o', 'link', 'show']).toString()).not.toContain('fsbleft');
  });
});
