import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';

export interface RunningHttpServer {
  readonly url: string;
  /**
   * Stops accepting connections and resolves once in-flight requests have finished; connections
   * still open after `graceMs` are cut.
   */
  close(graceMs?: number): Promise<void>;
}

export function startHttpServer(
  fetch: (request: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<RunningHttpServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname: host, port }, (info: AddressInfo) => {
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${shown}:${info.port}`,
        close: (graceMs = 10_000) =>
          new Promise<void>((done, fail) => {
            const http = server as Server;
            const cut = setTimeout(() => http.closeAllConnections(), graceMs);
            http.close((error) => {
              clearTimeout(cut);
              if (error) fail(error);
              else done();
            });
            http.closeIdleConnections();
          }),
      });
    });
    server.once('error', reject);
  });
}
