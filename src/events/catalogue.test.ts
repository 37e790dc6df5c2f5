import { describe, expect, it } from 'vitest';
import { InvalidEvent } from '../event-store/errors.js';
import type { RecordedEvent } from '../event-store/event-store.js';
import {
  currentSchemaVersion,
  decodeEvent,
  decodeStored,
  encodeEvent,
  eventTypes,
  parseDomainEvent,
  type DomainEvent,
} from './catalogue.js';
import { UndecodableEvent, UnknownEventType, UnknownSchemaVersion } from './errors.js';
import { eventExamples } from './event-examples.fixture.js';

const occurredAt = new Date('2026-11-24T10:00:00.000Z');

/** What the store would hand back for an appended event. */
const asRecorded = (event: { id: string; type: string; data: object; metadata?: object }): RecordedEvent => ({
  id: event.id,
  stream: 's',
  revision: 0n,
  position: 1n,
  type: event.type,
  data: JSON.parse(JSON.stringify(event.data)),
  metadata: JSON.parse(JSON.stringify(event.metadata ?? {})),
  recordedAt: occurredAt,
});

const problemPaths = (run: () => unknown): string[] => {
  try {
    run();
  } catch (error) {
    if (error instanceof InvalidEvent) return error.problems.map((p) => p.path);
    throw error;
  }
  throw new Error('expected InvalidEvent');
};

describe('event catalogue', () => {
  it('has an example for every event type, the areas of DESIGN.md included', () => {
    expect(Object.keys(eventExamples).sort()).toEqual([...eventTypes]);
    for (const area of [
      'Deployment',
      'Migration',
      'HealthSample',
      'Feature',
      'Rollback',
      'Drill',
      'Clock',
      'Telemetry',
    ]) {
      expect(
        eventTypes.some((t) => t.startsWith(area)),
        area,
      ).toBe(true);
    }
  });

  it.each(eventTypes)('round-trips %s through encode, storage and decode', (type) => {
    const event = parseDomainEvent(type, eventExamples[type]);
    const encoded = encodeEvent(event, { actor: 'alice', occurredAt });
    expect(encoded.metadata).toEqual({
      correlationId: encoded.id,
      causationId: null,
      actor: 'alice',
      schemaVersion: currentSchemaVersion(type),
      occurredAt: '2026-11-24T10:00:00.000Z',
    });
    const decoded = decodeEvent(asRecorded(encoded));
    expect(decoded.type).toBe(type);
    expect(decoded.data).toEqual(eventExamples[type]);
  });

  it('keeps the causation and correlation it is given', () => {
    const cause = '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01';
    const chain = '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a02';
    const encoded = encodeEvent(parseDomainEvent('RollbackStarted', eventExamples.RollbackStarted), {
      actor: 'failsafe',
      occurredAt,
      causationId: cause,
      correlationId: chain,
    });
    expect(encoded.metadata).toMatchObject({ causationId: cause, correlationId: chain });
  });

  it('names each invalid field of the data', () => {
    expect(
      problemPaths(() =>
        parseDomainEvent('HealthSampleRecorded', { ...eventExamples.HealthSampleRecorded, errorRate: 1.5 }),
      ),
    ).toEqual(['data.errorRate']);
    expect(
      problemPaths(() =>
        parseDomainEvent('RollbackDecided', {
          ...eventExamples.RollbackDecided,
          evidenceEventIds: ['nope'],
          mode: 'maybe',
        }),
      ),
    ).toEqual(expect.arrayContaining(['data.evidenceEventIds[0]', 'data.mode']));
    expect(problemPaths(() => parseDomainEvent('DeploymentStarted', { service: 'payments' }))).toEqual(
      expect.arrayContaining(['data.deploymentId', 'data.release']),
    );
  });

  it('records only plain identifiers: no path, list separator, control character, lookalike or oversized name', () => {
    const bad = [
      '../x',
      '../../x',
      '..',
      '.hidden',
      'a..b',
      'a/b',
      'a,b',
      'a b',
      'x\u0000',
      'x\n',
      'x\u001b[2J',
      'ᴠ1.0.0',
      'v1.0.0\u200b',
      'x'.repeat(129),
      '',
    ];
    for (const name of bad) {
      expect(
        problemPaths(() =>
          parseDomainEvent('DeploymentStarted', { ...eventExamples.DeploymentStarted, release: name }),
        ),
        name,
      ).toEqual(['data.release']);
      expect(
        problemPaths(() =>
          parseDomainEvent('DeploymentStarted', { ...eventExamples.DeploymentStarted, service: name }),
        ),
        name,
      ).toEqual(['data.service']);
      expect(
        problemPaths(() => parseDomainEvent('FeatureDisabled', { service: 'payments', scope: 'tool', target: name })),
        name,
      ).toEqual(['data.target']);
      expect(
        problemPaths(() => parseDomainEvent('DrillRequested', { ...eventExamples.DrillRequested, drill: name })),
        name,
      ).toEqual(['data.drill']);
      expect(
        problemPaths(() =>
          parseDomainEvent('MigrationCompleted', { ...eventExamples.MigrationCompleted, migrationId: name }),
        ),
        name,
      ).toEqual(['data.migrationId']);
      expect(
        problemPaths(() =>
          parseDomainEvent('RollbackCompleted', { ...eventExamples.RollbackCompleted, rollbackId: name }),
        ),
        name,
      ).toEqual(['data.rollbackId']);
    }
    // What Failsafe generates itself passes: UUIDs, rb-, d-, run- ids and the seeds' release names.
    for (const id of [
      '0195f2a4-8c1e-7d3a-9b2f-5e6d7c8b9a01',
      'rb-5886a1b2',
      'd-1a2b3c4d',
      'run-1a2b3c4d',
      'v2.0.0-crash',
      'APIL_v2',
    ]) {
      expect(
        parseDomainEvent('DeploymentRolledBack', {
          deploymentId: id,
          service: 'orders',
          release: id,
          toRelease: 'v1.0.0',
          rollbackId: id,
        }).type,
      ).toBe('DeploymentRolledBack');
    }
  });

  it('keeps actors apart from identifiers: bounded, with no control character', () => {
    const event = parseDomainEvent('DeploymentStarted', eventExamples.DeploymentStarted);
    for (const actor of ['policy:rule', 'failsafe:executor', 'cli:alice', 'alice@example.com'])
      expect(encodeEvent(event, { actor, occurredAt }).metadata?.actor).toBe(actor);
    for (const actor of ['a\u0000', 'a\nb', 'a'.repeat(201)])
      expect(
        problemPaths(() => encodeEvent(event, { actor, occurredAt })),
        actor,
      ).toEqual(['metadata.actor']);
  });

  it('refuses unknown fields rather than dropping them silently', () => {
    expect(() => parseDomainEvent('DeploymentStarted', { ...eventExamples.DeploymentStarted, relase: 'typo' })).toThrow(
      /relase/,
    );
  });

  it('requires a target when a tool or agent is disabled, but not for the whole system', () => {
    expect(problemPaths(() => parseDomainEvent('FeatureDisabled', { service: 'payments', scope: 'tool' }))).toEqual([
      'data.target',
    ]);
    expect(
      parseDomainEvent('FeatureDisabled', { service: 'payments', scope: 'system', reason: 'legacy mode' }).type,
    ).toBe('FeatureDisabled');
  });

  it('refuses an unknown type, listing the known ones', () => {
    expect(() => parseDomainEvent('DeploymentExploded', {})).toThrow(
      /type: unknown event type "DeploymentExploded"; known types: .*DeploymentFailed/,
    );
  });

  it('refuses bad metadata, naming the field', () => {
    const event = parseDomainEvent('DeploymentStarted', eventExamples.DeploymentStarted);
    expect(problemPaths(() => encodeEvent(event, { actor: '', occurredAt }))).toEqual(['metadata.actor']);
    expect(problemPaths(() => encodeEvent(event, { actor: 'a', occurredAt: new Date('nope') }))).toEqual([
      'metadata.occurredAt',
    ]);
    expect(problemPaths(() => encodeEvent(event, { actor: 'a', occurredAt, causationId: 'x' }))).toEqual([
      'metadata.causationId',
    ]);
  });

  it('refuses stored events it cannot read, saying what to do', () => {
    const good = encodeEvent(parseDomainEvent('DeploymentStarted', eventExamples.DeploymentStarted), {
      actor: 'a',
      occurredAt,
    });
    expect(() => decodeEvent(asRecorded({ ...good, type: 'FromTheFuture' }))).toThrow(UnknownEventType);
    const newer = asRecorded({ ...good, metadata: { ...good.metadata, schemaVersion: 9 } });
    expect(() => decodeEvent(newer)).toThrow(UnknownSchemaVersion);
    expect(() => decodeEvent(newer)).toThrow(/schema version 9 but this Failsafe knows up to 1; upgrade Failsafe/);
    expect(() => decodeEvent(asRecorded({ ...good, data: { service: 'payments' } }))).toThrow(UndecodableEvent);
  });

  it.each(eventTypes)('reads %s from the store without validating, to what decodeEvent gives', (type) => {
    const stored = asRecorded(encodeEvent(parseDomainEvent(type, eventExamples[type]), { actor: 'alice', occurredAt }));
    const trusted = decodeStored(stored);
    expect(trusted).toEqual(decodeEvent(stored));
    expect(trusted.type).toBe(type);
    expect(trusted.data).toEqual(eventExamples[type]);
  });

  it('refuses in the store read what it refuses in the full decode, with the same error', () => {
    const good = encodeEvent(parseDomainEvent('DeploymentStarted', eventExamples.DeploymentStarted), {
      actor: 'a',
      occurredAt,
    });
    const unreadable = {
      'an unknown type': asRecorded({ ...good, type: 'FromTheFuture' }),
      'a newer schema version': asRecorded({ ...good, metadata: { ...good.metadata, schemaVersion: 2 } }),
      'no schema version': asRecorded({ ...good, metadata: { ...good.metadata, schemaVersion: undefined } }),
      'a schema version as text': asRecorded({ ...good, metadata: { ...good.metadata, schemaVersion: '1' } }),
    };
    for (const [what, stored] of Object.entries(unreadable)) {
      const error = (decode: (e: RecordedEvent) => unknown): unknown => {
        try {
          decode(stored);
        } catch (thrown) {
          return thrown;
        }
        throw new Error(`${what} was read`);
      };
      const full = error(decodeEvent);
      expect(full, what).toBeInstanceOf(Error);
      expect(error(decodeStored), what).toEqual(full);
      expect((error(decodeStored) as Error).message, what).toBe((full as Error).message);
    }
    expect(() => decodeStored(asRecorded({ ...good, metadata: { ...good.metadata, schemaVersion: 2 } }))).toThrow(
      /schema version 2 but this Failsafe knows up to 1; upgrade Failsafe/,
    );
  });

  it('narrows data by type', () => {
    const event: DomainEvent = parseDomainEvent('MigrationProgressRecorded', eventExamples.MigrationProgressRecorded);
    if (event.type !== 'MigrationProgressRecorded') throw new Error('wrong type');
    expect(event.data.errorRate).toBe(0.02);
  });
});
