/**
 * Manual overrides, audited (README "Manual overrides"), through the real HTTP app and MQTT RPC, a real gateway,
 * the Talon.One emulator and a real mosquitto: custom events of the configured type are counted per terminal and
 * per day (the application's time zone, on the gateway's clock); past the cap while answered locally, one
 * `overrideCap` alert per terminal and day goes to P/alerts; each override answered locally is listed in the
 * reconciliation report; the counts survive a restart and start again the next day.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { systemClock, type Clock } from '../../src/platform/clock.js';
import { STORE_ID, TERMINAL_TOKENS, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { adminHeaders, metric, pushConfig, statusOf } from '../helpers/ops.js';

const UPSTREAM_KEY = 'upstream-api-key-0123456789abcdef';
const P = `storegate/${STORE_ID}`;

/** The system clock moved to a chosen instant (timers stay real: the flusher and MQTT run as usual). */
let offset = 0;
const clock: Clock = { now: () => Date.now() + offset, monotonic: () => systemClock.monotonic(), sleep: (ms, signal) => systemClock.sleep(ms, signal) };
const at = (iso: string) => (offset = Date.parse(iso) - Date.now());

let emu: Emulator;
let gw: TestGateway;
let broker: Mosquitto;
let head: TestClient;
let dir: string;
let n = 0;

function config() {
  return {
    mode: 'connected',
    upstream: { baseUrl: emu.url, apiKey: UPSTREAM_KEY, timeoutMs: 3000, retry: { attempts: 2, baseMs: 5, maxMs: 20 } },
    mqtt: { url: broker.url, reconnect: { minMs: 50, spreadMs: 100, maxMs: 200 } },
    overrides: { eventType: 'manual_override', offlineDailyCap: 2 },
    dataFiles: { rules: 'rules.json' },
  };
}

async function override(terminal: 'T1' | 'T2', extra: { type?: string; key?: string; query?: string; sessionId?: string } = {}) {
  const headers: Record<string, string> = { ...terminalHeaders(terminal), ...(extra.key ? { 'idempotency-key': extra.key } : {}) };
  const body = { profileId: 'P-7', type: extra.type ?? 'manual_override', attributes: { sessionId: extra.sessionId ?? `S-${++n}`, amount: 4.5, reason: 'price match' } };
  const res = await fetch(`${gw.url}/v2/events${extra.query ?? ''}`, { method: 'POST', headers, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return { status: res.status, source: res.headers.get('x-storegate-source'), sessionId: body.attributes.sessionId };
}

const counts = async () => Object.fromEntries(((await statusOf(gw.url)).overrides.terminals as { id: string; total: number; offline: number }[]).map((t) => [t.id, [t.total, t.offline]]));
const capAlerts = () => head.received.filter((m) => m.topic === `${P}/alerts` && m.json().kind === 'overrideCap').map((m) => m.json());
async function reconciliation(): Promise<Record<string, any>[]> {
  const all = (await (await fetch(`${gw.url}/admin/reconciliation`, { headers: adminHeaders })).json()) as Record<string, any>[];
  return all.filter((e) => e.kind === 'manualOverride');
}

/** Waits until P/alerts has `count` overrideCap alerts (MQTT delivery is asynchronous), then a little longer for strays. */
async function alertsSettle(count: number): Promise<Record<string, any>[]> {
  const end = Date.now() + 5000;
  while (capAlerts().length < count && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 150));
  return capAlerts();
}

beforeAll(async () => {
  broker = await new Mosquitto().start();
  head = await TestClient.connect(broker.url, 'head-office');
  await head.subscribe(`${P}/alerts`);
  emu = await startEmulator({ apiKey: UPSTREAM_KEY, port: 0 });
  dir = mkdtempSync(path.join(tmpdir(), 'sg-overrides-'));
  writeFileSync(path.join(dir, 'rules.json'), JSON.stringify({ version: 1, application: { currency: 'EUR', timezone: 'Europe/Berlin' }, stores: [{ id: 42, integrationId: STORE_ID }], campaigns: [] }));
  at('2026-12-07T10:00:00Z');
  gw = await startGateway(config(), { dir, clock });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
  await head?.close();
  await broker?.stop();
});

describe('manual overrides', () => {
  it('counts an override Talon.One answered, with no alert and no reconciliation entry', async () => {
    const r = await override('T1');
    expect(r).toMatchObject({ status: 204, source: 'upstream' });
    expect(await counts()).toEqual({ T1: [1, 0] });
    expect(await metric(gw.url, 'storegate_overrides_total{terminal="T1",source="upstream"}')).toBe(1);
    expect(await reconciliation()).toEqual([]);
    // Other event types and dry runs are not overrides.
    expect((await override('T1', { type: 'basket_abandoned' })).status).toBe(204);
    expect((await override('T1', { query: '?dry=true' })).status).toBeLessThan(300);
    expect(await counts()).toEqual({ T1: [1, 0] });
  });

  it('answered locally: lists each in the reconciliation report and alerts once per terminal past the cap', async () => {
    expect((await pushConfig(gw.url, 1, { mode: 'offline' })).status).toBe(200);
    const first = await override('T1');
    expect(first.source).toBe('local');
    await override('T1');
    expect(await alertsSettle(0)).toEqual([]);
    const third = await override('T1');
    const [alert] = await alertsSettle(1);
    expect(alert).toMatchObject({ kind: 'overrideCap', terminalId: 'T1', day: '2026-12-07', offlineOverrides: 3, cap: 2, totalOverrides: 4, store: STORE_ID });
    await override('T1');
    expect(await alertsSettle(1)).toHaveLength(1); // once per terminal and day

    // A retry under the same Idempotency-Key is one override, not two.
    const once = await override('T2', { key: 'retry-me', sessionId: 'S-RETRY' });
    const again = await override('T2', { key: 'retry-me', sessionId: 'S-RETRY' });
    expect([once.status, again.status]).toEqual([204, 204]);
    expect(await counts()).toEqual({ T1: [5, 4], T2: [1, 1] });

    const listed = await reconciliation();
    expect(listed.map((e) => [e.terminalId, e.override.offlineToday, e.override.overCap])).toEqual([['T1', 1, false], ['T1', 2, false], ['T1', 3, true], ['T1', 4, true], ['T2', 1, false]]);
    expect(listed[0]).toMatchObject({ sessionId: first.sessionId, seq: expect.any(Number), override: { eventType: 'manual_override', profileId: 'P-7', attributes: { amount: 4.5, reason: 'price match' }, day: '2026-12-07', cap: 2 } });
    expect(listed[2]?.sessionId).toBe(third.sessionId);
    expect(listed[2]?.reason).toMatch(/^past the cap/);
  });

  it('counts overrides a terminal reports over MQTT RPC the same way', async () => {
    const pos = await TestClient.connect(broker.url, 'pos-T2');
    try {
      await pos.subscribe('pos/T2/replies');
      const correlationData = Buffer.from('ovr-1');
      await pos.publish(`${P}/rpc/trackEvent`, JSON.stringify({ terminalToken: TERMINAL_TOKENS.T2, body: { profileId: 'P-7', type: 'manual_override', attributes: { sessionId: 'S-RPC' } } }), { responseTopic: 'pos/T2/replies', correlationData });
      const answer = await pos.next('pos/T2/replies', (m) => m.correlationData?.equals(correlationData) === true);
      expect(answer.json<{ status: number }>().status).toBeLessThan(300);
      expect(await counts()).toMatchObject({ T2: [2, 2] });
    } finally {
      await pos.close();
    }
  });

  it('keeps the day\'s counts across a restart', async () => {
    await gw.stop();
    gw = await startGateway({ ...config(), mode: 'offline' }, { dir, clock });
    expect(await counts()).toEqual({ T1: [5, 4], T2: [2, 2] });
    await override('T1');
    const third = await override('T2'); // T2's third offline override today: past the cap only if the restart forgot nothing
    expect(third.source).toBe('local');
    const alerts = await alertsSettle(2);
    expect(alerts.map((a) => [a.terminalId, a.offlineOverrides])).toEqual([['T1', 3], ['T2', 3]]);
  });

  it('starts again on the next day of the application\'s time zone', async () => {
    at('2026-12-07T22:59:00Z'); // 23:59 in Berlin: still the 7th
    expect((await statusOf(gw.url)).overrides.day).toBe('2026-12-07');
    at('2026-12-07T23:30:00Z'); // 00:30 in Berlin
    expect((await statusOf(gw.url)).overrides).toMatchObject({ day: '2026-12-08', terminals: [] });
    for (let i = 0; i < 3; i++) await override('T1');
    expect(await counts()).toEqual({ T1: [3, 3] });
    const alerts = await alertsSettle(3);
    expect(alerts.at(-1)).toMatchObject({ terminalId: 'T1', day: '2026-12-08', offlineOverrides: 3 });
  });
});
