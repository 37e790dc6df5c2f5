import { Command } from 'commander';
import { join } from 'node:path';
import { loadServeConfig } from '../config/serve-config.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { createHttpApp } from '../http/http-app.js';
import { startHttpServer } from '../http/http-server.js';
import { action, STORE_FILE, untilSignal, withDataDir } from './cli-support.js';

export const serveCommand = (): Command =>
  withDataDir(new Command('serve'))
    .description('run the control plane: opens the event store and serves HTTP (/health) until SIGTERM or Ctrl-C')
    .option('--host <host>', 'address to bind (env MCP_HTTP_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (env MCP_HTTP_PORT, default 8080)')
    .action(
      action(async (flags: { dataDir?: string; host?: string; port?: string }) => {
        const config = loadServeConfig(flags, process.env);
        const storePath = join(config.dataDir, STORE_FILE);
        const store = SqliteEventStore.open({ path: storePath });
        const server = await startHttpServer(createHttpApp({ store, storeEngine: 'sqlite' }), config.host, config.port).catch(
          async (error: unknown) => {
            await store.close();
            throw error;
          },
        );
        process.stdout.write(`Failsafe listening on ${server.url} (event store: ${storePath})\n`);
        const signal = await untilSignal();
        process.stdout.write(`${signal}: shutting down\n`);
        await server.close();
        await store.close();
      }),
    );
