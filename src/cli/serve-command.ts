import { Command } from 'commander';
import { loadServeConfig } from '../config/serve-config.js';
import { action, say, untilSignal, withStoreOptions } from './cli-support.js';

export const serveCommand = (): Command =>
  withStoreOptions(new Command('serve'))
    .description(
      'run the control plane: the event store, the rollback policy, the MCP endpoint and REST API, ' +
        '/health, /ready, /metrics and, with --fleet, the driver, prober and executor',
    )
    .option(
      '--config <file>',
      'config file (YAML; env FAILSAFE_CONFIG): store, http, auth.tokens, paths; flags and environment variables win',
    )
    .option('--host <host>', 'address to bind (env MCP_HTTP_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port to listen on, 0 for any free one (env MCP_HTTP_PORT, default 8080)')
    .option('--policy <file>', "rollback policy YAML (env FAILSAFE_POLICY, default the seeds' values)")
    .option('--fleet <file>', 'the fleet to act on, e.g. drills/sample-fleet/fleet.yaml (env FAILSAFE_FLEET)')
    .option(
      '--drills <dir>',
      'run the drills of this folder on their schedules (monthly by default; needs --fleet; env FAILSAFE_DRILLS)',
    )
    .option('--tick-seconds <seconds>', 'how often recorded time advances (env FAILSAFE_TICK_SECONDS, default 10)')
    .action(
      action(
        async (flags: {
          config?: string;
          dataDir?: string;
          store?: string;
          host?: string;
          port?: string;
          policy?: string;
          fleet?: string;
          drills?: string;
          tickSeconds?: string;
        }) => {
          const config = loadServeConfig(flags, process.env);
          // Loaded here, not at the top: the rest of the CLI (and --help) starts without the server's modules.
          const { startControlPlane } = await import('../control-plane.js');
          const plane = await startControlPlane(config, say);
          say(
            `Failsafe listening on ${plane.url} (event store: ${plane.store}, ` +
              `policy: ${config.policyPath ?? 'built-in defaults'}` +
              `${config.fleetPath ? `, fleet: ${config.fleetPath}` : ''})`,
          );
          say(
            `  MCP endpoint ${plane.mcpUrl} (protocol 2026-07-28 and 2025), ` +
              `REST API ${plane.url}/api/v1 (described at /api/v1/openapi.json)`,
          );
          if (plane.newAdminToken) {
            say(`  First start: the admin token is shown this once; keep it safe (only its hash is stored):`);
            say(`    ${plane.newAdminToken}`);
          }
          const signal = await untilSignal();
          say(`${signal}: shutting down (in-flight requests get up to ${config.shutdownGraceSeconds} s)`);
          // A drill under way cleans up before Failsafe exits: another signal must not cut that short.
          const patience = (again: NodeJS.Signals) => say(`${again}: still shutting down, please wait`);
          process.on('SIGINT', patience);
          process.on('SIGTERM', patience);
          await plane.stop();
        },
      ),
    );
