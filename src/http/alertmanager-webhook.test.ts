import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertEventId } from '../alerts/alertmanager-notification.js';
import { ALERT_STREAM, serviceStream } from '../domain/streams.js';
import { readServedStream, startFrontDoor, type FrontDoor, type Person } from './front-door.fixture.js';

let door: FrontDoor;
beforeAll(async () => {
  door = await startFrontDoor(['payments']);
}, 60_000);
afterAll(async () => {
  await door?.stop();
});

const readStream = (stream: string) => readServedStream(door.dataDir, stream);

/** One alert as Alertmanager 0.25 sends it: nanosecond times, the zero time for "no end". */
const alert = (alertname: string, fingerprint: string, labels: Record<string, string>, status = 'firing') => ({
  status,
  labels: { alertname, ...labels },
  annotations: { summary: `${alertname} for a test` },
  startsAt: '2026-12-02T03:20:01.123456789Z',
  endsAt: status === 'firing' ? '0001-01-01T00:00:00Z' : '2026-12-02T03:25:00.5Z',
  generatorURL: 'http://prometheus:9090/graph?g0.expr=up',
  fingerprint,
});
const notification = (alerts: unknown[], extra: Record<string, unknown> = {}) => ({
  version: '4',
  groupKey: '{}:{alertname="CriticalErrorRate"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'failsafe',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  externalURL: 'http://alertmanager:9093',
  alerts,
  ...extra,
});
const deliver = (body: unknown, as: Person | null = 'alma', contentType = 'application/json') =>
  fetch(`${door.url}/alerts/alertmanager`, {
    method: 'POST',
    headers: { ...(as && { Authorization: `Bearer ${door.tokens[as]}` }), 'Content-Type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('the Alertmanager webhook receiver', () => {
  it('records each alert as an event, once however often Alertmanager repeats the notification', async () => {
    const critical = alert('CriticalErrorRate', 'a1b2c3d4e5f60718', { service: 'payments', severity: 'critical' });
    const lag = alert('ProjectionLag', '0f1e2d3c4b5a6978', { projection: 'incidents', severity: 'warning' });
    const first = await deliver(notification([critical, lag]));
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ recorded: 2 });
    expect((await deliver(notification([critical, lag]))).status).toBe(200);
    const recorded = await readStream(ALERT_STREAM);
    expect(recorded.map((e) => e.id)).toEqual([
      alertEventId('a1b2c3d4e5f60718', critical.startsAt, 'firing'),
      alertEventId('0f1e2d3c4b5a6978', lag.startsAt, 'firing'),
    ]);
    expect(recorded[0]).toMatchObject({
      type: 'AlertReceived',
      data: {
        alertname: 'CriticalErrorRate',
        service: 'payments',
        severity: 'critical',
        status: 'firing',
        fingerprint: 'a1b2c3d4e5f60718',
        startsAt: '2026-12-02T03:20:01.123Z',
        labels: critical.labels,
        annotations: critical.annotations,
        receiver: 'failsafe',
      },
      metadata: { actor: 'alma' },
    });
    expect(recorded[0]!.data).not.toHaveProperty('endsAt');
    expect(recorded[1]!.data).not.toHaveProperty('service');

    const resolved = { ...critical, status: 'resolved', endsAt: '2026-12-02T03:25:00.5Z' };
    expect((await deliver(notification([resolved], { status: 'resolved' }))).status).toBe(200);
    const after = await readStream(ALERT_STREAM);
    expect(after).toHaveLength(3);
    expect(after[2]!.data).toMatchObject({ status: 'resolved', endsAt: '2026-12-02T03:25:00.500Z' });
  });

  it('has the policy roll a known service back on a critical alert, with the alert as evidence', async () => {
    // The first test's CriticalErrorRate is about payments, which runs v1.1.0 after v1.0.0.
    const criticalId = alertEventId('a1b2c3d4e5f60718', '2026-12-02T03:20:01.123456789Z', 'firing');
    const stranger = alert('ServiceDown', '1a2b3c4d5e6f7a8b', { service: 'billing', severity: 'critical' });
    expect((await deliver(notification([stranger]))).status).toBe(200);
    const decided = async () =>
      (await readStream(serviceStream('payments'))).filter((e) => e.type === 'RollbackDecided').map((e) => e.data);
    await expect.poll(decided, { timeout: 15_000 }).toMatchObject([
      {
        rule: 'alert_critical',
        mode: 'automatic',
        severity: 'P1',
        targetRelease: 'v1.0.0',
        evidenceEventIds: [criticalId],
        alert: { alertname: 'CriticalErrorRate', fingerprint: 'a1b2c3d4e5f60718' },
      },
    ]);
    expect(await readStream(serviceStream('billing'))).toEqual([]);
  });

  it('turns away callers whose token may not report alerts; that token opens nothing else', async () => {
    const body = notification([alert('HighLatency', 'cafe', { service: 'payments' })]);
    expect((await deliver(body, null)).status).toBe(401);
    const viewer = await deliver(body, 'vera');
    expect(viewer.status).toBe(403);
    expect(await viewer.json()).toMatchObject({ message: expect.stringMatching(/role admin or alertmanager/) });
    const services = await fetch(`${door.url}/api/v1/services`, {
      headers: { Authorization: `Bearer ${door.tokens.alma}` },
    });
    expect(services.status).toBe(403);
    expect((await fetch(`${door.url}/alerts/alertmanager`, { headers: { Authorization: 'Bearer x' } })).status).toBe(
      401,
    );
    expect(
      (await fetch(`${door.url}/alerts/alertmanager`, { headers: { Authorization: `Bearer ${door.tokens.alma}` } }))
        .status,
    ).toBe(405);
    const fingerprints = (await readStream(ALERT_STREAM)).map((e) => (e.data as { fingerprint: string }).fingerprint);
    expect(fingerprints).not.toContain('cafe');
  });

  it('refuses what is not a version 4 notification with the reason, writing none of its alerts', async () => {
    const before = (await readStream(ALERT_STREAM)).length;
    const good = alert('HighErrorRate', 'beef01', { service: 'payments', severity: 'warning' });
    const { fingerprint: _, ...unnamed } = alert('HighErrorRate', 'beef02', { service: 'payments' });
    const wrongVersion = await deliver(notification([good], { version: '3' }));
    expect(wrongVersion.status).toBe(400);
    expect(await wrongVersion.json()).toMatchObject({
      error: 'InvalidRequest',
      problems: expect.arrayContaining([expect.stringMatching(/^version: must be "4"/)]),
    });
    const half = await deliver(notification([good, unnamed]));
    expect(half.status).toBe(400);
    expect(await half.json()).toMatchObject({
      problems: expect.arrayContaining([expect.stringMatching(/^alerts\.1\.fingerprint/)]),
    });
    const tooLong = alert('HighErrorRate', 'beef03', { service: 'payments', severity: 'x'.repeat(40) });
    expect((await deliver(notification([good, tooLong]))).status).toBe(400);
    expect((await deliver('{"version":', 'alma')).status).toBe(400);
    expect((await deliver(notification([good]), 'alma', 'text/plain')).status).toBe(415);
    const huge = notification([{ ...good, annotations: { summary: 'x'.repeat(2_000_000) } }]);
    expect((await deliver(huge)).status).toBe(413);
    expect(await readStream(ALERT_STREAM)).toHaveLength(before);
  });
});
