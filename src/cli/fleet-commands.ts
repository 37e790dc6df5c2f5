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
  disabledFeatures: { scope: string; target?: string; by: string; at: string; reason?: string }[];
  rollback?: { id: string; mode: string; status: string; toRelease?: string };
  waiting?: { kind: string; id: string; release?: string; since?: string; waitingFor: string };
}
interface ServiceStatus {
  service: ServiceSummary;
  health?: { healthy?: boolean; sampledAt?: string };
  latencyMs: { windowSeconds: number; sampleCount: number; p50?: number; p95?: number; p99?: number };
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
      const ends = ['DeploymentHealthy', 'DeploymentFailed', 'DeploymentCancelled', 'DeploymentExpired'];
      const end = await follow(client, service, mine, (e) => ends.includes(e.type), flags.wait);
      if (end.type === 'DeploymentHealthy') return say(`deployment ${deploymentId}: ${service} runs ${release}`);
      process.exitCode = 1;
      const how = { DeploymentFailed: 'failed', DeploymentCancelled: 'was cancelled', DeploymentExpired: 'expired' };
      say(`deployment ${deploymentId} ${how[end.type as keyof typeof how]}; ${service} stays on its previous release`);
    },
  );

const scaleCommand = () =>
  clientCommand(
    new Command('scale')
      .description('scale a service to this many instances, follow it until done or failed (`serve --fleet` does it)')
      .argument('<service>')
      .argument('<replicas>', 'how many instances (the API checks 0 to 1000)')
      .option('--reason <text>', 'why, recorded with the request')
      .option('--wait <seconds>', 'how long to follow it', seconds, 660)
      .option('--no-wait', 'record the request and return'),
    async (client, service: string, replicas: string, flags: { reason?: string; wait: number | false }) => {
      const input = { service, replicas, reason: flags.reason };
      const { scaleId } = (await client.call('scale_service', input)) as { scaleId: string };
      say(`scaling ${scaleId}: ${service} → ${replicas} instances requested`);
      if (flags.wait === false) return;
      const mine = (e: EventJson) => e.data.scaleId === scaleId;
      const end = await follow(client, service, mine, (e) => e.type !== 'ScaleRequested', flags.wait);
      if (end.type === 'ScaleCompleted') return say(`scaling ${scaleId}: ${service} runs ${replicas} instances`);
      process.exitCode = 1;
      say(`scaling ${scaleId} failed: ${String(end.data.reason)}`);
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

const rejectCommand = () =>
  clientCommand(
    new Command('reject')
      .description("reject a rollback that waits (for approval, or for an executor), as the token's holder")
      .argument('<service>')
      .argument('<rollback-id>')
      .requiredOption('--reason <text>', 'why, recorded with the rejection'),
    async (client, service: string, rollbackId: string, flags: { reason: string }) => {
      await client.call('reject_rollback', { service, rollbackId, reason: flags.reason });
      say(`rollback ${rollbackId} of ${service} rejected`);
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
      if (rows.length === 0) {
        return say('no services yet: name them in the fleet file of `failsafe serve --fleet`, or `failsafe register`');
      }
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
      const w = s.waiting;
      if (w) {
        const to = w.release ?? 'the last known good release';
        say(`  waiting since ${w.since ?? '(not recorded)'}: ${w.kind} ${w.id} to ${to}, for ${w.waitingFor}`);
      }
      for (const f of s.disabledFeatures) {
        const what = f.scope === 'system' ? 'legacy mode' : `${f.scope} ${f.target} disabled`;
        say(`  ${what} by ${f.by} at ${f.at}${f.reason ? ` (${f.reason})` : ''}`);
      }
      say(`  health: ${health ? JSON.stringify(health) : 'no sample yet'}`);
      const { p50, p95, p99, sampleCount, windowSeconds } = found.latencyMs;
      const ms = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)} ms`);
      say(`  latency over ${windowSeconds} s (${sampleCount} samples): P50 ${ms(p50)}, P95 ${ms(p95)}, P99 ${ms(p99)}`);
      say('Recent events');
      for (const e of found.recentEvents) say(eventLine(e));
    },
  );

/** Disables or enables one tool or agent of a service: the first two of the seeds' gradual rollback levels. */
const featureSwitchCommand = (scope: 'tool' | 'agent', enable: boolean) =>
  clientCommand(
    new Command(enable ? 'enable' : 'disable')
      .description(
        enable ? `enable the ${scope}, which was disabled` : `disable one ${scope} of a service, keeping its release`,
      )
      .argument('<service>')
      .argument(`<${scope}>`)
      .option('--reason <text>', 'why, recorded with the change'),
    async (client, service: string, target: string, flags: { reason?: string }) => {
      const input = { service, [scope]: target, reason: flags.reason };
      const result = (await client.call(`${enable ? 'enable' : 'disable'}_${scope}`, input)) as { changed: boolean };
      const done = enable ? 'enabled' : 'disabled';
      say(`${service}: ${scope} ${target} ${done}${result.changed ? '' : ' (it already was)'}`);
    },
  );

const featureCommand = (scope: 'tool' | 'agent', what: string) =>
  new Command(scope)
    .description(`disable or enable ${what} of a service (the seeds' gradual rollback)`)
    .addCommand(featureSwitchCommand(scope, false))
    .addCommand(featureSwitchCommand(scope, true));

/** The third level: legacy mode for one service, or for the whole fleet. */
const legacySwitchCommand = (enter: boolean) =>
  clientCommand(
    new Command(enter ? 'enter' : 'leave')
      .description(
        enter ? 'switch a service (or --fleet) to legacy mode' : 'take a service (or --fleet) out of legacy mode',
      )
      .argument('[service]')
      .option('--fleet', 'every service Failsafe knows, each recorded on its own stream')
      .option('--reason <text>', 'why, recorded with the change'),
    async (client, service: string | undefined, flags: { fleet?: boolean; reason?: string }) => {
      if (Boolean(service) === Boolean(flags.fleet)) {
        throw Object.assign(new Error('name one service, or give --fleet'), { code: 'USAGE' });
      }
      const verb = enter ? 'enter' : 'leave';
      if (service) {
        const result = (await client.call(`${verb}_legacy_mode`, { service, reason: flags.reason })) as {
          changed: boolean;
        };
        return say(`${service}: legacy mode ${enter ? 'on' : 'off'}${result.changed ? '' : ' (it already was)'}`);
      }
      const result = (await client.call(`${verb}_fleet_legacy_mode`, { reason: flags.reason })) as {
        services: { service: string; changed: boolean }[];
      };
      for (const s of result.services)
        say(`${s.service}: legacy mode ${enter ? 'on' : 'off'}${s.changed ? '' : ' (it already was)'}`);
    },
  );

const legacyModeCommand = () =>
  new Command('legacy-mode')
    .description("the seeds' system level of gradual rollback: only the legacy tool set is offered")
    .addCommand(legacySwitchCommand(true))
    .addCommand(legacySwitchCommand(false));

const registerCommand = () =>
  clientCommand(
    new Command('register')
      .description('make a service known so it can be deployed (fleet-file services are registered by serve)')
      .argument('<service>')
      .option('--reason <text>', 'why, recorded with the registration'),
    async (client, service: string, flags: { reason?: string }) => {
      await client.call('register_service', { service, reason: flags.reason });
      say(`${service}: registered`);
    },
  );

const cancelCommand = () =>
  clientCommand(
    new Command('cancel')
      .description('cancel a deployment request that no executor has started (`failsafe status` shows what waits)')
      .argument('<service>')
      .argument('<deployment-id>')
      .option('--reason <text>', 'why, recorded with the cancellation'),
    async (client, service: string, deploymentId: string, flags: { reason?: string }) => {
      await client.call('cancel_deployment', { service, deploymentId, reason: flags.reason });
      say(`deployment ${deploymentId} of ${service} cancelled`);
    },
  );

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
  scaleCommand(),
  rollbackCommand(),
  approveCommand(),
  rejectCommand(),
  servicesCommand(),
  statusCommand(),
  registerCommand(),
  cancelCommand(),
  featureCommand('tool', 'one tool'),
  featureCommand('agent', 'one agent (an MCP client, by its name)'),
  legacyModeCommand(),
  callCommand(),
];
