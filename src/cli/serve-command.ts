import { Command } from 'commander';
import { join } from 'node:path';
import { RollbackProcessManager } from '../../projections/rollback-process-manager.js';
import { loadServeConfig } from '../config/serve-config.js';
import { SqliteEventStore } from '../event-store/sqlite-event-store.js';
import { createHttpApp } from '../http/http-app.js';
import { startHttpServer } from '../http/http-server.js';
import { loadPolicy } from '../policy/policy-file.js';
import { ClockTicker } from '../runtime/clock-ticker.js';
import { SqliteCheckpointStore } from '../runtime/sqlite-checkpoint-store.js';
import { action, STORE_FILE, untilSignal, withDataDir } from './cli-support.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

export const serveCommand = (): Command =>
  withDataDir(new Command('serve'))
    .description('run the control plane: the event store, the rollback policy and HTTP (/health), until SIGTERM or Ctrl-C')
    .option('--host <host>', 'address to bind (env MCP_HTTP_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (env MCP_HTTP_PORT, default 8080)')
    .option('--policy <file>', "rollback policy YAML (env FAILSAFE_POLICY, default the seeds' values)")
    .option('--tick-seconds <seconds>', 'how often recorded time advances (env FAILSAFE_TICK_SECONDS, default 10)')
    .action(
      action(async (flags: { dataDir?: string; host?: string; port?: string; policy?: string; tickSeconds?: string }) => {
        const config = loadServeConfig(flags, process.env);
        const policy = loadPolicy(config.policyPath);
        const storePath = join(config.dataDir, STORE_FILE);
        const store = SqliteEventStore.open({ path: storePath });
        // The fold is deterministic, so replicas sharing the data folder may share checkpoints too.
        const checkpoints = new SqliteCheckpointStore(join(config.dataDir, 'checkpoints.db'));
        const policyManager = new RollbackProcessManager(store, policy, checkpoints, { log: say });
        const ticker = new ClockTicker(store, config.tickSeconds * 1000);
        try {
          await policyManager.start();
          await ticker.start();
          const server = await startHttpServer(createHttpApp({ store, storeEngine: 'sqlite' }), config.host, config.port);
          say(`Failsafe listening on ${server.url} (event store: ${storePath}, policy: ${config.policyPath ?? 'built-in defaults'})`);
          const signal = await untilSignal();
          say(`${signal}: shutting down`);
          await server.close();
        } finally {
          ticker.stop();
          await policyManager.stop();
          await checkpoints.close();
          await store.close();
        }
      }),
    );
