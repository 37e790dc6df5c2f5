import { Command } from 'commander';
import { loadServeConfig } from '../config/serve-config.js';
import { startControlPlane } from '../control-plane.js';
import { action, say, untilSignal, withDataDir } from './cli-support.js';

export const serveCommand = (): Command =>
  withDataDir(new Command('serve'))
    .description('run the control plane: the event store, the rollback policy, HTTP (/health) and, with --fleet, the driver, prober and executor')
    .option('--host <host>', 'address to bind (env MCP_HTTP_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (env MCP_HTTP_PORT, default 8080)')
    .option('--policy <file>', "rollback policy YAML (env FAILSAFE_POLICY, default the seeds' values)")
    .option('--fleet <file>', 'the fleet to act on, e.g. drills/sample-fleet/fleet.yaml (env FAILSAFE_FLEET)')
    .option('--tick-seconds <seconds>', 'how often recorded time advances (env FAILSAFE_TICK_SECONDS, default 10)')
    .action(
      action(async (flags: { dataDir?: string; host?: string; port?: string; policy?: string; fleet?: string; tickSeconds?: string }) => {
        const config = loadServeConfig(flags, process.env);
        const plane = await startControlPlane(config, say);
        say(`Failsafe listening on ${plane.url} (event store: ${plane.storePath}, policy: ${config.policyPath ?? 'built-in defaults'}${config.fleetPath ? `, fleet: ${config.fleetPath}` : ''})`);
        const signal = await untilSignal();
        say(`${signal}: shutting down`);
        await plane.stop();
      }),
    );
