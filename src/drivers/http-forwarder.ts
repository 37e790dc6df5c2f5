import {
  Agent,
  createServer,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * How the requests still under way on the previous target end after a switch: given up to the
 * grace period (a deployment: the replaced release finishes its work), or cut at once (a rollback
 * away from a bad release: its answers are not wanted, and a client that sees its call fail calls again).
 */
export type Drain = { readonly graceMs: number } | 'at once';

interface Target {
  readonly port: number;
  /** Keep-alive connections to this target: they are the forwarder's, never a client's. */
  readonly agent: Agent;
  /** Requests under way, and upgraded connections (a WebSocket): both end as the drain says. */
  readonly underWay: Set<ServerResponse | Duplex>;
  retired: boolean;
}

/** Per hop, never forwarded (RFC 9110 7.6.1), with the ones the Connection header names. */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const endToEnd = (headers: IncomingHttpHeaders): IncomingHttpHeaders => {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hopByHop.has(name) && !named.includes(name)));
};

/**
 * The stable address of a service: an HTTP forwarder that sends each request to the current
 * instance. It forwards requests, not connections, as a load balancer does at layer 7: a client's
 * keep-alive connection made before a switch carries its next request to the new instance (a TCP
 * forwarder would keep it on the old one as long as the client keeps it open). The previous instance
 * is drained: nothing new goes to it, its idle connections are closed, and its requests under way
 * end as the switch says.
 */
export class HttpForwarder {
  private target: Target | undefined;
  /** Previous targets with requests still under way. */
  private readonly draining = new Set<Target>();
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async listen(port: number): Promise<HttpForwarder> {
    const server = createServer();
    const forwarder = new HttpForwarder(server);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => forwarder.forward(req, res));
    server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => forwarder.tunnel(req, client, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return forwarder;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  switchTo(port: number | undefined, drain: Drain): void {
    const previous = this.target;
    if (previous?.port === port) return;
    this.target =
      port === undefined
        ? undefined
        : { port, agent: new Agent({ keepAlive: true }), underWay: new Set(), retired: false };
    if (previous) this.retire(previous, drain);
  }

  private retire(target: Target, drain: Drain): void {
    target.retired = true;
    if (drain === 'at once') {
      this.cut(target);
      return;
    }
    this.draining.add(target);
    this.settle(target);
    setTimeout(() => this.cut(target), drain.graceMs).unref();
  }

  /** A retired target with nothing under way: its connections are closed. */
  private settle(target: Target): void {
    if (!target.retired || target.underWay.size > 0) return;
    target.agent.destroy();
    this.draining.delete(target);
  }

  private cut(target: Target): void {
    for (const res of target.underWay) res.destroy();
    target.agent.destroy();
    this.draining.delete(target);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const target = this.target;
    if (!target) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('no instance serves this service\n');
      return;
    }
    target.underWay.add(res);
    const upstream = request({
      host: '127.0.0.1',
      port: target.port,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
      agent: target.agent,
    });
    res.on('close', () => {
      // The client went away (or the request was cut) before the answer was complete.
      if (!res.writableFinished) upstream.destroy();
      target.underWay.delete(res);
      this.settle(target);
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.headers));
      answer.on('error', () => res.destroy());
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (res.destroyed) return;
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end('the instance did not answer\n');
    });
    req.pipe(upstream);
  }

  /** An upgrade (a WebSocket): the request passed on as it came, then bytes both ways until either side closes. */
  private tunnel(req: IncomingMessage, client: Duplex, head: Buffer): void {
    const target = this.target;
    if (!target) {
      client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const upstream = connect(target.port, '127.0.0.1');
    const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    upstream.write(head);
    target.underWay.add(client);
    for (const socket of [client, upstream]) {
      socket.on('error', () => undefined);
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
        target.underWay.delete(client);
        this.settle(target);
      });
    }
    client.pipe(upstream).pipe(client);
  }

  async close(): Promise<void> {
    for (const target of [...this.draining, ...(this.target ? [this.target] : [])]) this.cut(target);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
