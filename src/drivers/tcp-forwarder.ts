import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * The stable address of a service: forwards each new connection to the current instance, so a
 * switch of release is a change of target, without a gap in listening.
 */
export class TcpForwarder {
  private target: number | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async listen(port: number): Promise<TcpForwarder> {
    const server = createServer();
    const forwarder = new TcpForwarder(server);
    server.on('connection', (client) => forwarder.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return forwarder;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  switchTo(port: number | undefined): void {
    this.target = port;
  }

  private forward(client: Socket): void {
    if (this.target === undefined) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
