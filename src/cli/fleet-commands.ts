import { Command } from 'commander';
import { operations } from '../api/operations.js';
import { positiveInteger, say } from './cli-support.js';
import type { FrontDoorClient } from './front-door-client.js';
import { eventLine, follow, clientCommand, type EventJson } from './client-command.js';

const seconds = positiveInteger('seconds');

interface ServiceSummary {
  service: string;
  status: string;
  currentRelease?: string;
  lastKnownGood?: string;
  disabledTools: string[];
  rollback?: { id: string; mode: string; status: string; toRelease?: string };
}
interface ServiceStatus {
  service: ServiceSummary;
  health?: { healthy?: boolean; sampledAt?: string };
  recentEvents: EventJson[];
}

const status = (client: FrontDoorClient, service: string, events: number) =>
  client.call('service_status', { service, events }) as Promise<unknown> as Promise<ServiceStatus>;

const deployCommand = () =>
  clientCommand(
    new Command('deploy')
      .description('deploy a release of a service, follow it until healthy or failed (`serve --fleet` does it)')
      .argument('<service>')
      .argument('<release>')
      .option('--reason <text>', 'why, recorded with the deployment')
      .option('--wait <seconds>', 'how long to follow the deployment', seconds, 120)
      .option('--no-wait', 'record the request and return'),
    async (client, service: string, release: string, flags: { reason?: string; wait: number | false }) => {
      const input = { service, release, reason: flags.reason };
      const { deploymentId } = (await client.call('deploy_release', input)) as { deploymentId: string };
      say(`deployment ${deploymentId}: ${service} → ${release} requested`);
      if (flags.wait === false) return;
      const mine = (e: EventJson) => e.data.deploymentId === deploymentId;
      const done = (e: EventJson) => ['DeploymentHealthy', 'DeploymentFailed'].includes(e.type);
      const end = await follow(client, service, mine, done, flags.wait);
      if (end.type === 'DeploymentFailed') {
        process.exitCode = 1;
        say(`deployment ${deploymentId} failed; ${service} stays on its previous release`);
      } else say(`deployment ${deploymentId}: ${service} runs ${release}`);
    },
  );

const rollbackCommand = () =>
  clientCommand(
    new Command('rollback')
      .description('request a rollback of a service (to its last known good release, or --to one) for approval')
      .argument('<service>')
      .option('--to <release>', 'the release to go back to (default: the last known good)')
      .option('--reason <text>', 'why', 'requested from the CLI'),
    async (client, service: string, flags: { to?: string; reason: string }) => {
      const input = { service, reason: flags.reason, targetRelease: flags.to };
      const { rollbackId, requestedBy } = (await client.call('request_rollback', input)) as Record<string, string>;
      say(`rollback ${rollbackId} of ${service} requested by ${requestedBy}; another identity approves it:`);
      say(`  failsafe approve ${service} ${rollbackId}`);
    },
  );

const approveCommand = () =>
  clientCommand(
    new Command('approve')
      .description("approve a manual rollback as the token's holder (not its requester), follow it until verified")
      .argument('<service>')
      .argument('<rollback-id>')
      .option('--wait <seconds>', 'how long to follow the rollback', seconds, 120)
      .option('--no-wait', 'record the approval and return'),
    async (client, service: string, rollbackId: string, flags: { wait: number | false }) => {
      const approved = (await client.call('approve_rollback', { service, rollbackId })) as Record<string, string>;
      say(`rollback ${rollbackId} approved by ${approved.approvedBy} (valid until ${approved.expiresAt})`);
      if (flags.wait === false) return;
      const mine = (e: EventJson) => e.data.rollbackId === rollbackId;
      const done = (e: EventJson) => ['RollbackVerified', 'RollbackEscalated'].includes(e.type);
      const end = await follow(client, service, mine, done, flags.wait);
      if (end.type === 'RollbackEscalated' || end.data.passed === false) process.exitCode = 1;
    },
  );

const servicesCommand = () =>
  clientCommand(
    new Command('services')
      .description('list the services: release, last known good, status and latest health')
      .option('--json', 'print as JSON'),
    async (client, flags: { json?: boolean }) => {
      const { services } = (await client.call('list_services')) as { services: ServiceSummary[] };
      const withHealth = async (s: ServiceSummary) => ({ ...s, health: (await status(client, s.service, 1)).health });
      const rows = await Promise.all(services.map(withHealth));
      if (flags.json) return say(JSON.stringify(rows, null, 2));
      if (rows.length === 0) return say('no services yet: deploy one with `failsafe deploy <service> <release>`');
      for (const r of rows) {
        const health = r.health
          ? `${r.health.healthy ? 'healthy' : 'UNHEALTHY'} at ${r.health.sampledAt}`
          : 'no health sample yet';
        const releases = `${r.currentRelease ?? '-'}  (last known good ${r.lastKnownGood ?? '-'})`;
        say(`${r.service}  ${releases}  ${r.status}  ${health}`);
      }
    },
  );

const statusCommand = () =>
  clientCommand(
    new Command('status')
      .description('one service in detail: its state, latest health sample and recent events')
      .argument('<service>')
      .option('--events <count>', 'how many recent events to show (at most 100)', positiveInteger('events'), 10)
      .option('--json', 'print as JSON'),
    async (client, service: string, flags: { events: number; json?: boolean }) => {
      const found = await status(client, service, flags.events);
      if (flags.json) return say(JSON.stringify(found, null, 2));
      const { service: s, health } = found;
      say(`${service}: ${s.status}`);
      say(`  release ${s.currentRelease ?? '-'}, last known good ${s.lastKnownGood ?? '-'}`);
      const rb = s.rollback;
      if (rb) say(`  rollback ${rb.id}: ${rb.mode}, ${rb.status}${rb.toRelease ? ` to ${rb.toRelease}` : ''}`);
      if (s.disabledTools.length) say(`  disabled tools: ${s.disabledTools.join(', ')}`);
      say(`  health: ${health ? JSON.stringify(health) : 'no sample yet'}`);
      say('Recent events');
      for (const e of found.recentEvents) say(eventLine(e));
    },
  );

const toolSwitchCommand = (enable: boolean) =>
  clientCommand(
    new Command(enable ? 'enable' : 'disable')
      .description(enable ? 'enable a tool that was disabled' : 'disable one tool of a service, keeping its release')
      .argument('<service>')
      .argument('<tool>')
      .option('--reason <text>', 'why, recorded with the change'),
    async (client, service: string, tool: string, flags: { reason?: string }) => {
      const input = { service, tool, reason: flags.reason };
      const result = (await client.call(enable ? 'enable_tool' : 'disable_tool', input)) as { changed: boolean };
      say(`${service}: tool ${tool} ${enable ? 'enabled' : 'disabled'}${result.changed ? '' : ' (it already was)'}`);
    },
  );

const toolCommand = () =>
  new Command('tool')
    .description("disable or enable one tool of a service (the seeds' gradual rollback)")
    .addCommand(toolSwitchCommand(false))
    .addCommand(toolSwitchCommand(true));

/** `key=value` gives a string, `key:=json` any JSON value (as httpie does). */
function inputOf(pairs: readonly string[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const pair of pairs) {
    const match = /^(\w+)(:?=)([\s\S]*)$/.exec(pair);
    if (!match) throw Object.assign(new Error(`"${pair}" is not key=value or key:=json`), { code: 'USAGE' });
    const [, key, sign, value] = match;
    try {
      input[key!] = sign === ':=' ? JSON.parse(value!) : value;
    } catch {
      throw Object.assign(new Error(`${key}:= needs JSON, got ${value}`), { code: 'USAGE' });
    }
  }
  return input;
}

/** Every operation, including ones without a command of their own yet. */
const callCommand = () =>
  clientCommand(
    new Command('call')
      .description(`run an API operation by name, print its JSON result: ${operations.map((o) => o.name).join(', ')}`)
      .argument('<operation>')
      .argument('[input...]', 'the input as key=value (a string) or key:=json (any JSON value)'),
    async (client, name: string, pairs: string[]) => {
      say(JSON.stringify(await client.call(name, inputOf(pairs)), null, 2));
    },
  );

export const fleetCommands = (): Command[] => [
  deployCommand(),
  rollbackCommand(),
  approveCommand(),
  servicesCommand(),
  statusCommand(),
  toolCommand(),
  callCommand(),
];
