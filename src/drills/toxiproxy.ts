/**
 * Toxiproxy, the real program: starting its server on loopback and driving it. The one import
 * site of `toxiproxy-node-client`; this module fills its gaps (listing a proxy's toxics, the
 * server's error message).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Toxiproxy, type ToxicType } from 'toxiproxy-node-client';
import { toolsDir } from '../tools/tools-dir.js';

export const TOXIPROXY_VERSION = '2.12.0';

export class ToolMissing extends Error {
  readonly code = 'TOOL_MISSING';
  constructor(tool: string, where: string) {
    super(
      `ToolMissing: ${tool} is not at ${where}; ` +
        'run `bash scripts/provision.sh` (it builds it with Go, once per machine)',
    );
    this.name = 'ToolMissing';
  }
}

/** A free loopback port, for a server that cannot pick its own. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

export interface RunningToxiproxy {
  readonly url: string;
  stop(): Promise<void>;
}

/** Whether a Toxiproxy API answers at this URL. */
export const toxiproxyAnswers = (url: string): Promise<boolean> =>
  fetch(`${url}/version`, { signal: AbortSignal.timeout(1000) }).then(
    (r) => r.ok,
    () => false,
  );

/** Starts `toxiproxy-server` on a loopback port (a free one by default) and waits until its API answers. */
export async function startToxiproxyServer(
  port?: number,
  binary = join(toolsDir(), `toxiproxy-server-${TOXIPROXY_VERSION}`, 'toxiproxy-server'),
): Promise<RunningToxiproxy> {
  if (!existsSync(binary)) throw new ToolMissing(`toxiproxy-server ${TOXIPROXY_VERSION}`, binary);
  port ??= await freePort();
  const child: ChildProcess = spawn(binary, ['-host', '127.0.0.1', '-port', String(port)], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; !(await toxiproxyAnswers(url)); attempt += 1) {
    if (attempt > 100 || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`toxiproxy-server did not start on ${url} (exit code ${child.exitCode}); is the port taken?`);
    }
    await sleep(50);
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface ToxicSpec {
  readonly name: string;
  readonly type: ToxicType;
  readonly stream: 'upstream' | 'downstream';
  readonly toxicity: number;
  readonly attributes: Record<string, number>;
}

/** The proxies and toxics of one drill, on a Toxiproxy server. */
export class ToxiproxyControl {
  private readonly client: Toxiproxy;

  constructor(readonly url: string) {
    this.client = new Toxiproxy(url);
  }

  /**
   * A proxy from `listen` to `upstream`, created afresh
   * (a proxy left by a crashed drill is replaced, toxics and all).
   */
  async proxy(name: string, listen: string, upstream: string): Promise<void> {
    const existing = await this.client.getAll();
    if (existing[name]) await existing[name].remove();
    await this.client.createProxy({ name, listen, upstream, enabled: true });
  }

  async addToxic(proxy: string, toxic: ToxicSpec): Promise<void> {
    const target = await this.client.get(proxy);
    await target.addToxic({
      name: toxic.name,
      type: toxic.type,
      stream: toxic.stream,
      toxicity: toxic.toxicity,
      attributes: toxic.attributes,
    } as never);
  }

  /** The toxics a proxy has now (the client has no call for this). */
  async toxics(proxy: string): Promise<string[]> {
    const response = await fetch(`${this.url}/proxies/${encodeURIComponent(proxy)}/toxics`);
    if (!response.ok) throw new Error(`Toxiproxy: GET toxics of ${proxy}: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { name: string }[]).map((t) => t.name);
  }

  async removeToxic(proxy: string, name: string): Promise<void> {
    const response = await fetch(
      `${this.url}/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(name)}`,
      { method: 'DELETE' },
    );
    if (!response.ok && response.status !== 404)
      throw new Error(`Toxiproxy: DELETE toxic ${name} of ${proxy}: ${response.status} ${await response.text()}`);
  }

  /** Removes the toxics whose names start with `prefix` (what a crashed drill left behind). */
  async removeToxics(proxy: string, prefix: string): Promise<string[]> {
    const stale = (await this.toxics(proxy)).filter((name) => name.startsWith(prefix));
    for (const name of stale) await this.removeToxic(proxy, name);
    return stale;
  }

  async removeProxy(name: string): Promise<void> {
    const response = await fetch(`${this.url}/proxies/${encodeURIComponent(name)}`, { method: 'DELETE' });
    if (!response.ok && response.status !== 404)
      throw new Error(`Toxiproxy: DELETE proxy ${name}: ${response.status} ${await response.text()}`);
  }
}
