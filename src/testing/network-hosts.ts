/**
 * Test hosts on one machine: each a Linux network namespace with its own address, joined to a bridge
 * by a veth pair, so that processes on different "hosts" talk over real TCP and a host can be cut
 * off (its link taken down) while the others go on. Made with iproute2; needs root (CAP_NET_ADMIN).
 *
 * Names carry the process that made them (`fsn-<pid>-<host>`; bridge and root-side links carry
 * it in their alias), so that `sweepTestNetworks` removes what a crashed earlier run left, and
 * never what a run still alive uses.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const NS_PREFIX = 'fsn-';
const ALIAS = 'failsafe-test-network';

export class NetworkHostsUnavailable extends Error {
  readonly code = 'NETWORK_HOSTS_UNAVAILABLE';
  constructor(detail: string) {
    super(
      `NetworkHostsUnavailable: ${detail}; test hosts need iproute2 (\`apt-get install iproute2\`) and root ` +
        '(CAP_NET_ADMIN) to make network namespaces',
    );
    this.name = 'NetworkHostsUnavailable';
  }
}

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args);
    return stdout;
  } catch (error) {
    const { stderr, message, code } = error as { stderr?: string; message: string; code?: string };
    if (code === 'ENOENT') throw new NetworkHostsUnavailable('`ip` is not on PATH');
    throw new Error(`ip ${args.join(' ')} failed: ${(stderr || message).trim()}`);
  }
}

export interface NetworkHost {
  readonly name: string;
  /** Its network namespace (`ip netns exec <netns> ...`). */
  readonly netns: string;
  /** Its address on the test network (10.77.<run>.<n>). */
  readonly address: string;
  /** Runs a command inside the host and waits for it: its standard output. */
  exec(command: string, args: readonly string[], options?: { timeoutMs?: number }): Promise<string>;
  /** Starts a long-running process inside the host (its pid is the command's own). */
  spawn(command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Takes its link to the bridge down: it reaches no other host, and none reaches it. */
  linkDown(): Promise<void>;
  linkUp(): Promise<void>;
}

export interface TestNetwork {
  /** The machine's own (root namespace) address on the bridge: test hosts reach processes of the test there. */
  readonly gateway: string;
  readonly hosts: readonly NetworkHost[];
  host(name: string): NetworkHost;
  /** Removes every host and the bridge; safe to call twice. */
  close(): Promise<void>;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the namespaces and links of test networks whose process is gone. */
export async function sweepTestNetworks(): Promise<string[]> {
  const removed: string[] = [];
  for (const line of (await ip('netns', 'list')).split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = /^fsn-(\d+)-/.exec(name)?.[1];
    if (pid && !alive(Number(pid))) {
      await ip('netns', 'delete', name).catch(() => {});
      removed.push(name);
    }
  }
  // Root-side veths die with their namespaced peer; bridges (and any veth left) go by their alias.
  const links = await ip('-o', 'link', 'show');
  for (const match of links.matchAll(/^\d+: ([^:@]+)[@:][^\n]*\\\s+alias (\S+) pid=(\d+)/gm)) {
    const [, link, alias, pid] = match;
    if (alias === ALIAS && !alive(Number(pid))) {
      await ip('link', 'delete', link!).catch(() => {});
      removed.push(link!);
    }
  }
  return removed;
}

/** A /24 that no address of this machine is in yet, as its third octet. */
async function freeSubnet(): Promise<number> {
  const used = await ip('-o', '-4', 'addr', 'show');
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const octet = 10 + ((process.pid + attempt) % 240);
    if (!used.includes(`10.77.${octet}.`)) return octet;
  }
  throw new Error('no free 10.77.x.0/24 left for a test network: sweep old ones (sweepTestNetworks)');
}

/**
 * A bridge and one namespace per host name, each host at 10.77.<run>.<n>/24 (n from 2), the
 * machine itself at .1. Leftovers of crashed earlier runs are swept first.
 */
export async function startTestNetwork(names: readonly string[]): Promise<TestNetwork> {
  if (process.getuid?.() !== 0) throw new NetworkHostsUnavailable('not running as root');
  await sweepTestNetworks();
  const subnet = await freeSubnet();
  const tag = `${process.pid}`;
  const bridge = `fsb${subnet}`;
  const gateway = `10.77.${subnet}.1`;
  const made: string[] = [];
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const netns of made) await ip('netns', 'delete', netns).catch(() => {});
    await ip('link', 'delete', bridge).catch(() => {});
  };
  try {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('link', 'set', bridge, 'alias', `${ALIAS} pid=${tag}`);
    await ip('addr', 'add', `${gateway}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    const hosts: NetworkHost[] = [];
    for (const [index, name] of names.entries()) {
      const netns = `${NS_PREFIX}${tag}-${name}`;
      const outside = `fsv${subnet}x${index}`;
      const inside = `fsv${subnet}y${index}`;
      const address = `10.77.${subnet}.${index + 2}`;
      await ip('netns', 'add', netns);
      made.push(netns);
      await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      await ip('link', 'set', outside, 'alias', `${ALIAS} pid=${tag}`);
      await ip('link', 'set', inside, 'netns', netns);
      await ip('link', 'set', outside, 'master', bridge);
      await ip('link', 'set', outside, 'up');
      await ip('-n', netns, 'link', 'set', 'lo', 'up');
      await ip('-n', netns, 'link', 'set', inside, 'name', 'eth0');
      await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      await ip('-n', netns, 'link', 'set', 'eth0', 'up');
      hosts.push(networkHost(name, netns, address, outside));
    }
    return {
      gateway,
      hosts,
      host: (name) => {
        const found = hosts.find((h) => h.name === name);
        if (!found) throw new Error(`no test host ${name} (hosts: ${names.join(', ')})`);
        return found;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function networkHost(name: string, netns: string, address: string, outside: string): NetworkHost {
  return {
    name,
    netns,
    address,
    async exec(command, args, options = {}) {
      try {
        const { stdout } = await run('ip', ['netns', 'exec', netns, command, ...args], {
          timeout: options.timeoutMs ?? 30_000,
          maxBuffer: 16 * 1024 * 1024,
        });
        return stdout;
      } catch (error) {
        const { stderr, message } = error as { stderr?: string; message: string };
        throw new Error(`${command} on ${name} failed: ${(stderr || message).trim()}`);
      }
    },
    spawn: (command, args, options = {}) => spawn('ip', ['netns', 'exec', netns, command, ...args], options),
    // The root-side end: the host's own interface stays up, with no carrier, as when a cable is pulled.
    linkDown: async () => {
      await ip('link', 'set', outside, 'down');
    },
    linkUp: async () => {
      await ip('link', 'set', outside, 'up');
    },
  };
}
