import { v5 as uuidv5 } from 'uuid';
import { handleCommands } from '../application/command-handler.js';
import { InvariantViolated } from '../domain/decider.js';
import type { DeploymentCommand } from '../domain/deployment.js';
import type { ServiceState } from '../domain/service.js';
import { serviceDecider } from '../domain/service-decider.js';
import { DuplicateEventId } from '../event-store/errors.js';
import type { EventStore, NewEvent } from '../event-store/event-store.js';
import { encodeParsedEvent } from '../events/catalogue.js';
import { RETENTION as HEALTH_RETENTION } from '../probing/health-prober.js';
import {
  parseTelemetryMessage,
  type DeploymentNoticeMessage,
  type HealthSampleMessage,
  type TelemetryMessage,
} from './telemetry-message.js';
import { healthStream, serviceStream } from '../domain/streams.js';

export type TelemetryKind = TelemetryMessage['kind'];

/** A message Failsafe will not record, by its index in the batch, with why (for the dead-letter topic). */
export interface Refusal {
  readonly index: number;
  readonly reason: string;
}

export interface RecordedBatch {
  readonly recorded: number;
  /** Messages whose events were already stored (a redelivery, or a producer's retry). */
  readonly duplicates: number;
  readonly refused: readonly Refusal[];
}

/** Who recorded a pushed sample: its `sampledAt` is the event's time. */
const actor = 'failsafe:kafka';
const NOTICE_NAMESPACE = '8d3c1f6e-4b2a-5c7d-9e0f-1a2b3c4d5e6f';

/** The ids of the events a deployment notice records: derived from its id, so a redelivery finds them. */
export const noticeEventIds = (messageId: string): string[] =>
  [0, 1].map((n) => uuidv5(`${messageId.toLowerCase()}:${n}`, NOTICE_NAMESPACE));

interface Sample {
  readonly index: number;
  readonly event: NewEvent;
}

/**
 * Records one Kafka batch of telemetry in the store: health samples as HealthSampleRecorded events
 * (event id = message id; one append per service's health stream), deployment notices through the
 * service decider. Per-message problems come back as refusals; a store failure throws, and the
 * whole batch may be recorded again: nothing is written twice.
 */
export class TelemetryRecorder {
  /** Services seen registered: a service is never unregistered. */
  private readonly registered = new Set<string>();
  private readonly retained = new Set<string>();

  constructor(
    private readonly store: EventStore,
    private readonly maxMessageBytes: number,
  ) {}

  async record(kind: TelemetryKind, values: readonly (Buffer | null)[]): Promise<RecordedBatch> {
    const refused: Refusal[] = [];
    const samples: { index: number; message: HealthSampleMessage }[] = [];
    const notices: { index: number; message: DeploymentNoticeMessage }[] = [];
    values.forEach((value, index) => {
      const parsed = parseTelemetryMessage(value, this.maxMessageBytes);
      if (!parsed.ok) refused.push({ index, reason: parsed.reason });
      else if (parsed.message.kind !== kind)
        refused.push({ index, reason: `a ${parsed.message.kind} on the topic for ${kind} messages` });
      else if (parsed.message.kind === 'health_sample') samples.push({ index, message: parsed.message });
      else notices.push({ index, message: parsed.message });
    });
    let recorded = 0;
    let duplicates = 0;
    const add = (outcome: { recorded: number; duplicates: number }) => {
      recorded += outcome.recorded;
      duplicates += outcome.duplicates;
    };
    for (const [service, group] of this.byService(samples)) {
      if (await this.isRegistered(service)) add(await this.appendSamples(service, group, refused));
      else for (const { index } of group) refused.push({ index, reason: unknownService(service) });
    }
    for (const notice of notices) {
      const outcome = await this.recordNotice(notice.message);
      if (typeof outcome === 'string') refused.push({ index: notice.index, reason: outcome });
      else add(outcome);
    }
    return { recorded, duplicates, refused: refused.sort((a, b) => a.index - b.index) };
  }

  private byService(samples: readonly { index: number; message: HealthSampleMessage }[]) {
    const groups = new Map<string, { index: number; message: HealthSampleMessage }[]>();
    for (const sample of samples) {
      const service = sample.message.sample.service;
      const group = groups.get(service);
      if (group) group.push(sample);
      else groups.set(service, [sample]);
    }
    return groups;
  }

  private async isRegistered(service: string): Promise<boolean> {
    if (this.registered.has(service)) return true;
    for await (const _ of this.store.readStream(serviceStream(service), { maxCount: 1 })) {
      this.registered.add(service);
      return true;
    }
    return false;
  }

  /**
   * One append for the service's samples. The store refuses a batch that only partly repeats an
   * earlier one, so a batch holding any event already stored is first cut down to the new ones.
   */
  private async appendSamples(
    service: string,
    group: readonly { index: number; message: HealthSampleMessage }[],
    refused: Refusal[],
  ): Promise<{ recorded: number; duplicates: number }> {
    const stream = healthStream(service);
    if (!this.retained.has(stream)) {
      await this.store.setStreamMetadata(stream, HEALTH_RETENTION);
      this.retained.add(stream);
    }
    const seen = new Set<string>();
    const samples: Sample[] = [];
    for (const { index, message } of group) {
      const id = message.id.toLowerCase();
      if (seen.has(id)) continue;
      seen.add(id);
      const occurredAt = new Date(message.sample.sampledAt);
      const data = message.sample;
      samples.push({
        index,
        event: encodeParsedEvent({ type: 'HealthSampleRecorded', data }, { actor, occurredAt, id }),
      });
    }
    const repeated = group.length - samples.length;
    if ((await this.store.readEvent(samples[0]!.event.id)) === undefined) {
      try {
        await this.store.append(
          stream,
          samples.map((s) => s.event),
          'any',
        );
        return { recorded: samples.length, duplicates: repeated };
      } catch (error) {
        if (!(error instanceof DuplicateEventId)) throw error;
      }
    }
    const fresh: Sample[] = [];
    let duplicates = repeated;
    for (const sample of samples) {
      const stored = await this.store.readEvent(sample.event.id);
      if (stored === undefined) fresh.push(sample);
      else if (stored.stream === stream) duplicates += 1;
      else
        refused.push({ index: sample.index, reason: `id ${sample.event.id} is already recorded in ${stored.stream}` });
    }
    if (fresh.length > 0)
      await this.store.append(
        stream,
        fresh.map((s) => s.event),
        'any',
      );
    return { recorded: fresh.length, duplicates };
  }

  /** The notice's events through the service decider; a refusal's reason is the decider's. */
  private async recordNotice(
    message: DeploymentNoticeMessage,
  ): Promise<{ recorded: number; duplicates: number } | string> {
    const eventIds = noticeEventIds(message.id);
    if ((await this.store.readEvent(eventIds[0]!)) !== undefined) return { recorded: 0, duplicates: 1 };
    const { notice } = message;
    const { service, deploymentId } = notice;
    const at = new Date(notice.at);
    const commandsFor = (state: ServiceState): DeploymentCommand[] => {
      switch (notice.status) {
        case 'started': {
          const start = { type: 'StartDeployment', service, deploymentId } as const;
          if (state.deployment?.id === deploymentId && state.deployment.status === 'requested') return [start];
          const reason = notice.reason && { reason: notice.reason };
          const request = {
            type: 'RequestDeployment',
            service,
            deploymentId,
            release: notice.release,
            now: at,
          } as const;
          return [{ ...request, ...reason }, start];
        }
        case 'healthy':
          return [{ type: 'MarkDeploymentHealthy', service, deploymentId }];
        case 'failed':
          return [
            {
              type: 'MarkDeploymentFailed',
              service,
              deploymentId,
              reason: notice.reason ?? `reported failed by ${notice.by}`,
            },
          ];
      }
    };
    try {
      const { events } = await handleCommands(this.store, serviceStream(service), serviceDecider, commandsFor, {
        actor: notice.by,
        now: at,
        eventIds,
      });
      return { recorded: events.length > 0 ? 1 : 0, duplicates: 0 };
    } catch (error) {
      if (error instanceof InvariantViolated) return error.message;
      throw error;
    }
  }
}

const unknownService = (service: string) =>
  `unknown service "${service}": register it (the fleet file of failsafe serve --fleet, register_service, ` +
  'POST /api/v1/services) before it publishes telemetry';
