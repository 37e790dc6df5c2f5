import { Agent, createServer, request, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HttpForwarder } from './http-forwarder.js';

interface Instance {
  readonly name: string;
  readonly server: Server;
  readonly port: number;
}

/** An instance answering its name; `/slow` answers after 300 ms, `/stream` never ends; an upgrade echoes. */
async function instance(name: string): Promise<Instance> {
  const server = createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' }).write(`data: ${name}\n\n`);
      return;
    }
    const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    if (req.url === '/slow') setTimeout(answer, 300);
    else answer();
  });
  server.on('upgrade', (_req, socket: Duplex) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
    socket.on('data', (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { name, server, port: (server.address() as { port: number }).port };
}

const connections = (server: Server) =>
  new Promise<number>((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));

/** Every connection to the instance closed, within a second (a close reaches the server a moment later). */
const closedOn = (instance: Instance) =>
  vi.waitFor(async () => expect(await connections(instance.server)).toBe(0), { timeout: 1_000, interval: 10 });

describe('HTTP forwarder (the stable address)', () => {
  let forwarder: HttpForwarder;
  let blue: Instance;
  let green: Instance;
  /** One keep-alive connection for every call, as a pooled client keeps it. */
  let client: Agent;
  const call = (path: string) =>
    new Promise<{ body: string; reused: boolean }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: forwarder.port, path, agent: client }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ body, reused: req.reusedSocket }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

  beforeEach(async () => {
    [blue, green] = await Promise.all([instance('blue'), instance('green')]);
    forwarder = await HttpForwarder.listen(0);
    client = new Agent({ keepAlive: true, maxSockets: 1 });
  });
  afterEach(async () => {
    client.destroy();
    await forwarder.close();
    for (const { server } of [blue, green]) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sends the next request of a connection opened before a switch to the new target', async () => {
    forwarder.switchTo(blue.port, 'at once');
    expect(await call('/')).toEqual({ body: 'blue', reused: false });
    forwarder.switchTo(green.port, { graceMs: 5_000 });
    expect(await call('/')).toEqual({ body: 'green', reused: true });
    await closedOn(blue);
  });

  it('lets a request under way on the replaced target finish, then closes its connections', async () => {
    forwarder.switchTo(blue.port, 'at once');
    const slow = call('/slow');
    await sleep(50);
    forwarder.switchTo(green.port, { graceMs: 5_000 });
    expect(await connections(blue.server)).toBe(1);
    expect((await slow).body).toBe('blue');
    await sleep(50);
    await closedOn(blue);
  });

  it('cuts a request under way on the target switched away from at once; the next goes to the new one', async () => {
    forwarder.switchTo(blue.port, 'at once');
    const slow = call('/slow');
    await sleep(50);
    const cutAt = performance.now();
    forwarder.switchTo(green.port, 'at once');
    await expect(slow).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(performance.now() - cutAt).toBeLessThan(250);
    expect((await call('/')).body).toBe('green');
  });

  it('cuts what is still under way on the replaced target when the grace period ends', async () => {
    forwarder.switchTo(blue.port, 'at once');
    const stream = new Promise<string>((resolve) => {
      request({ host: '127.0.0.1', port: forwarder.port, path: '/stream', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('close', () => resolve(body));
      }).end();
    });
    await sleep(50);
    forwarder.switchTo(green.port, { graceMs: 200 });
    await sleep(100);
    expect(await connections(blue.server)).toBe(1);
    expect(await stream).toBe('data: blue\n\n');
    await sleep(50);
    await closedOn(blue);
  });

  it('tunnels an upgraded connection to the current target, and cuts it on a switch away at once', async () => {
    forwarder.switchTo(blue.port, 'at once');
    const upgraded = await new Promise<Duplex>((resolve, reject) =>
      request({
        host: '127.0.0.1',
        port: forwarder.port,
        path: '/ws',
        agent: false,
        headers: { connection: 'upgrade', upgrade: 'echo' },
      })
        .on('upgrade', (_res, socket: Duplex) => resolve(socket))
        .on('error', reject)
        .end(),
    );
    const echoed = new Promise<string>((resolve) =>
      upgraded.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    upgraded.write('hello');
    expect(await echoed).toBe('blue:hello');
    const closed = new Promise((resolve) => upgraded.once('close', resolve));
    forwarder.switchTo(green.port, 'at once');
    await closed;
    await closedOn(blue);
  });

  it('answers 503 while no target serves, and 502 when the target does not answer', async () => {
    const status = (path: string) =>
      new Promise<number>((resolve, reject) =>
        request({ host: '127.0.0.1', port: forwarder.port, path, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on('error', reject)
          .end(),
      );
    expect(await status('/')).toBe(503);
    blue.server.closeAllConnections();
    await new Promise((resolve) => blue.server.close(resolve));
    forwarder.switchTo(blue.port, 'at once');
    expect(await status('/')).toBe(502);
    blue = await instance('blue');
  });
});
