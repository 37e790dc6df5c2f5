import { Command } from 'commander';
import { userInfo } from 'node:os';
import { randomUUID } from 'node:crypto';
import { serviceStateProjection, serviceStatus } from '../../projections/service-state.js';
import { handleCommand } from '../application/command-handler.js';
import { serviceDecider, serviceStream, type ServiceCommand } from '../domain/service-decider.js';
import type { EventStore, RecordedEvent } from '../event-store/event-store.js';
import { recordedEventToJson } from '../event-store/recorded-event-json.js';
import { decodeEvent } from '../events/catalogue.js';
import { defaultRollbackPolicy } from '../policy/rollback-policy.js';
import { healthStream } from '../probing/health-prober.js';
import { action, positiveInteger, say, withDataDir, withStore } from './cli-support.js';

const seconds = positiveInteger('seconds');

const me = () => `cli:${userInfo().username}`;
const line = (e: RecordedEvent) => `  ${e.recordedAt.toISOString()}  ${e.type}  ${JSON.stringify(e.data)}`;

const issue = (store: EventStore, service: string, command: ServiceCommand, actor: string) =>
  handleCommand(store, serviceStream(service), serviceDecider, command, { actor, now: new Date() });

/**
 * Prints the service's events after `after` as they are recorded, until `done` says so or the
 * time is up (then says what to check). Returns the event that ended the wait.
 */
async function follow(store: EventStore, service: string, after: bigint, done: (e: RecordedEvent) => boolean, seconds: number): Promise<RecordedEvent> {
  const subscription = store.subscribe({ after });
  const timer = setTimeout(() => void subscription.close(), seconds * 1000);
  try {
    for await (const event of subscription) {
      if (event.stream !== serviceStream(service)) continue;
      say(line(event));
      if (done(event)) return event;
    }
  } finally {
    clearTimeout(timer);
    await subscription.close();
  }
  throw Object.assign(new Error(`nothing carried it out within ${seconds} s; is \`failsafe serve --fleet <file>\` running on this data folder?`), { code: 'TIMED_OUT' });
}

const deployCommand = () =>
  withDataDir(new Command('deploy'))
    .description('deploy a release of a service and follow it until it is healthy or failed (carried out by `failsafe serve --fleet`)')
    .argument('<service>')
    .argument('<release>')
    .option('--reason <text>', 'why, recorded with the deployment')
    .option('--wait <seconds>', 'how long to follow the deployment', seconds, 120)
    .option('--no-wait', 'record the request and return')
    .action(
      action(async (service: string, release: string, flags: { reason?: string; wait: number | false; dataDir?: string }) => {
        await withStore(flags.dataDir, async (store) => {
          const deploymentId = `d-${randomUUID().slice(0, 8)}`;
          const { appended } = await issue(store, service, { type: 'RequestDeployment', service, deploymentId, release, now: new Date(), ...(flags.reason && { reason: flags.reason }) }, me());
          say(`deployment ${deploymentId}: ${service} → ${release} requested`);
          if (flags.wait === false) return;
          const end = await follow(store, service, appended!.position, (e) => ['DeploymentHealthy', 'DeploymentFailed'].includes(e.type) && e.data.deploymentId === deploymentId, flags.wait);
          if (end.type === 'DeploymentFailed') {
            process.exitCode = 1;
            say(`deployment ${deploymentId} failed; ${service} stays on its previous release`);
          } else say(`deployment ${deploymentId}: ${service} runs ${release}`);
        });
      }),
    );

const rollbackCommand = () =>
  withDataDir(new Command('rollback'))
    .description('request a rollback of a service (to its last known good release, or --to one); another identity must approve it')
    .argument('<service>')
    .option('--to <release>', 'the release to go back to (default: the last known good)')
    .option('--reason <text>', 'why', 'requested from the CLI')
    .action(
      action(async (service: string, flags: { to?: string; reason: string; dataDir?: string }) => {
        await withStore(flags.dataDir, async (store) => {
          const rollbackId = `rb-${randomUUID().slice(0, 8)}`;
          await issue(store, service, { type: 'RequestRollback', service, rollbackId, requestedBy: me(), reason: flags.reason, ...(flags.to && { targetRelease: flags.to }) }, me());
          say(`rollback ${rollbackId} of ${service} requested by ${me()}; it needs an approval from another identity:`);
          say(`  failsafe approve ${service} ${rollbackId} --as <approver>`);
        });
      }),
    );

const approveCommand = () =>
  withDataDir(new Command('approve'))
    .description('approve a manual rollback as a second identity, then follow it until it completes')
    .argument('<service>')
    .argument('<rollback-id>')
    .option('--as <identity>', 'who approves (must differ from who requested it)', me())
    .option('--valid-for <seconds>', 'how long the approval stays valid', seconds, defaultRollbackPolicy.approval.validForSeconds)
    .option('--wait <seconds>', 'how long to follow the rollback', seconds, 120)
    .option('--no-wait', 'record the approval and return')
    .action(
      action(async (service: string, rollbackId: string, flags: { as: string; validFor: number; wait: number | false; dataDir?: string }) => {
        await withStore(flags.dataDir, async (store) => {
          const approver = { id: flags.as, roles: ['approver'] };
          const { appended } = await issue(store, service, { type: 'ApproveRollback', service, rollbackId, approver, now: new Date(), validForMs: flags.validFor * 1000 }, flags.as);
          say(`rollback ${rollbackId} approved by ${flags.as}`);
          if (flags.wait === false) return;
          const end = await follow(store, service, appended!.position, (e) => ['RollbackVerified', 'RollbackEscalated'].includes(e.type) && e.data.rollbackId === rollbackId, flags.wait);
          if (end.type === 'RollbackEscalated' || end.data.passed === false) process.exitCode = 1;
        });
      }),
    );

async function latestSample(store: EventStore, service: string) {
  for await (const event of store.readStream(healthStream(service), { direction: 'backwards', maxCount: 1 })) return decodeEvent(event);
  return undefined;
}

const servicesCommand = () =>
  withDataDir(new Command('services'))
    .description('list the services: release, last known good, status and latest health')
    .option('--json', 'print as JSON')
    .action(
      action(async (flags: { json?: boolean; dataDir?: string }) => {
        await withStore(flags.dataDir, async (store) => {
          const state = serviceStateProjection.initialState;
          for await (const recorded of store.readAll()) if (recorded.stream.startsWith('service-')) serviceStateProjection.apply(state, decodeEvent(recorded));
          const rows = await Promise.all(
            Object.values(state.services).map(async (view) => ({ ...view, status: serviceStatus(view), health: (await latestSample(store, view.service))?.data })),
          );
          if (flags.json) return say(JSON.stringify(rows, null, 2));
          if (rows.length === 0) return say('no services yet: deploy one with `failsafe deploy <service> <release>`');
          for (const r of rows) {
            const health = r.health as { healthy?: boolean; sampledAt?: string } | undefined;
            say(`${r.service}  ${r.currentRelease ?? '-'}  (last known good ${r.lastKnownGood ?? '-'})  ${r.status}  ${health ? `${health.healthy ? 'healthy' : 'UNHEALTHY'} at ${health.sampledAt}` : 'no health sample yet'}`);
          }
        });
      }),
    );

const statusCommand = () =>
  withDataDir(new Command('status'))
    .description("one service in detail: its state, latest health sample and recent events")
    .argument('<service>')
    .option('--events <count>', 'how many recent events to show', positiveInteger('events'), 10)
    .option('--json', 'print as JSON')
    .action(
      action(async (service: string, flags: { events: number; json?: boolean; dataDir?: string }) => {
        await withStore(flags.dataDir, async (store) => {
          const events: RecordedEvent[] = [];
          let state = serviceDecider.initialState;
          for await (const recorded of store.readStream(serviceStream(service))) {
            state = serviceDecider.evolve(state, decodeEvent(recorded));
            events.push(recorded);
          }
          if (events.length === 0) throw Object.assign(new Error(`UnknownService: no events for "${service}"; list them with \`failsafe services\``), { code: 'UNKNOWN_SERVICE' });
          const recent = events.slice(-flags.events);
          const health = await latestSample(store, service);
          if (flags.json) return say(JSON.stringify({ service, status: serviceStatus(state), state, health: health?.data, recent: recent.map(recordedEventToJson) }, null, 2));
          say(`${service}: ${serviceStatus(state)}`);
          say(`  release ${state.currentRelease ?? '-'}, last known good ${state.lastKnownGood ?? '-'}`);
          if (state.rollback) say(`  rollback ${state.rollback.id}: ${state.rollback.mode}, ${state.rollback.status}${state.rollback.toRelease ? ` to ${state.rollback.toRelease}` : ''}`);
          if (state.disabledTools.length) say(`  disabled tools: ${state.disabledTools.join(', ')}`);
          say(`  health: ${health ? JSON.stringify(health.data) : 'no sample yet'}`);
          say(`Recent events`);
          for (const e of recent) say(line(e));
        });
      }),
    );

export const fleetCommands = (): Command[] => [deployCommand(), rollbackCommand(), approveCommand(), servicesCommand(), statusCommand()];
