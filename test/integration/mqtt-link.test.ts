/**
 * The broker link as a shop lives it: a retained status, the Last Will when the gateway dies (`kill -9` of a real
 * gateway process), a broker that crashes and comes back (reconnect, resubscribe, status republished, alerts
 * queued meanwhile delivered), and a broker that only speaks MQTT 3.1.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Aedes } from 'aedes';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { signPush } from '../../src/trust/index.js';
import { sha256Hex } from '../../src/http/auth.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { buildBundle, freePort, spawnGateway, waitReady } from '../helpers/procs.js';
import { STORE_ID, startGateway, terminalHeaders } from '../helpers/gateway.js';
import { until } from '../helpers/until.js';

const P = `storegate/${STORE_ID}`;
const FAST_RECONNECT = { minMs: 20, spreadMs: 100, maxMs: 300 };
let broker: Mosquitto;
let watcher: TestClient;

beforeAll(async () => {
  broker = await new Mosquitto().start();
  watcher = await TestClient.connect(broker.url, 'fleet-view');
  await watcher.subscribe('storegate/#');
});

afterAll(async () => {
  await watcher?.close();
  await broker?.stop();
});

describe('the broker link', () => {
  it('publishes a retained online status, and the broker publishes the Last Will when the gateway is killed -9', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-lwt-'));
    const bundle = buildBundle(path.join(dir, 'storegate.mjs'));
    const port = await freePort();
    const store = 'store-lwt';
    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ store: { integrationId: store }, mode: 'offline', dataDir: path.join(dir, 'var'), http: { host: '127.0.0.1', port }, mqtt: { url: broker.url }, log: { level: 'warn' } }),
    );
    const child = spawnGateway(bundle, path.join(dir, 'config.json'));
    try {
      await waitReady(child, port);
      const on = await watcher.next(`storegate/${store}/status`, (r) => r.json().online === true);
      expect(on.json()).toMatchObject({ online: true, mode: 'offline', journalDepth: 0, journalOldestAgeSec: 0, configVersion: 0, rulesVersion: 0 });
      // A late subscriber (head office restarting) still sees it: retained.
      const late = await TestClient.connect(broker.url);
      await late.subscribe(`storegate/${store}/status`);
      expect((await late.next(`storegate/${store}/status`)).retain).toBe(true);
      child.kill('SIGKILL');
      const off = await late.next(`storegate/${store}/status`, (r) => r.json().online === false);
      expect(off.json()).toEqual({ online: false });
      await late.close();
      // Retained too: whoever looks next sees the shop as gone.
      const later = await TestClient.connect(broker.url);
      await later.subscribe(`storegate/${store}/status`);
      const seen = await later.next(`storegate/${store}/status`);
      expect(seen.retain).toBe(true);
      expect(seen.json()).toEqual({ online: false });
      await later.close();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('survives a broker crash: keeps answering, reconnects, resubscribes, republishes its status, delivers queued alerts', async () => {
    const emu: Emulator = await startEmulator({ apiKey: 'k-0123456789abcdef', port: 0 });
    const head = keyPair();
    const gw = await startGateway({
      mode: 'connected',
      upstream: { baseUrl: emu.url, apiKey: 'k-0123456789abcdef', timeoutMs: 400, retry: { attempts: 1, baseMs: 5, maxMs: 10 } },
      // Slow enough that the test's own client is back on the broker before the gateway is.
      mqtt: { url: broker.url, reconnect: { minMs: 1500, spreadMs: 100, maxMs: 300 } },
      trust: { publicKeys: [head.publicPem] },
    }, { probeIntervalMs: 100 });
    try {
      await watcher.next(`${P}/status`, (r) => r.json().online === true && r.json().upstream === 'up');
      await broker.kill();
      await until(() => !(gw.gateway.status().mqtt as { connected: boolean }).connected);
      watcher.received.length = 0;
      // The upstream goes away while the broker is away: terminals are still answered (locally) and the
      // upstreamDown alert waits in the queue.
      await emu.setFaults({ refuse: true });
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`${gw.url}/v2/customer_sessions/BRK-${i}`, { method: 'PUT', headers: terminalHeaders(), body: '{"customerSession":{"cartItems":[]}}' });
        expect(r.status).toBe(200);
        expect(r.headers.get('x-storegate-source')).toBe('local');
      }
      await until(() => (gw.gateway.status().upstream as { state: string }).state === 'down');
      // The newest status and the alert wait for the broker.
      await until(() => (gw.gateway.status().mqtt as { queued: number }).queued >= 2);
      await broker.start();
      await watcher.client.reconnect();
      await until(() => watcher.client.connected);
      await watcher.subscribe('storegate/#');
      const alert = await watcher.next(`${P}/alerts`, (r) => r.json().kind === 'upstreamDown');
      expect(alert.json()).toMatchObject({ kind: 'upstreamDown', store: STORE_ID });
      // The broker kept nothing (no persistence): the status we see is the gateway's republished one.
      expect((await watcher.next(`${P}/status`, (r) => r.json().online === true)).json()).toMatchObject({ upstream: 'down', journalDepth: 4, journalOldestAgeSec: 0 });
      const s = gw.gateway.status().mqtt as { connected: boolean; reconnects: number; queued: number };
      expect(s.connected).toBe(true);
      expect(s.reconnects).toBeGreaterThanOrEqual(1);
      expect(s.queued).toBe(0);
      // Resubscribed: a push after the crash is applied and acknowledged.
      const pusher = await TestClient.connect(broker.url);
      await pusher.subscribe(`${P}/config/ack`);
      await pusher.publish(`${P}/config/set`, await signPush({ version: 2, storeIntegrationId: STORE_ID, config: { log: { level: 'warn' } } }, head.privatePem), { retain: true });
      expect((await pusher.next(`${P}/config/ack`, (r) => r.json().version === 2)).json()).toMatchObject({ ok: true });
      await pusher.publish(`${P}/config/set`, '', { retain: true });
      await pusher.close();
    } finally {
      await gw.stop();
      await emu.close();
    }
  });

  it('falls back to MQTT 3.1.1 when the broker refuses MQTT 5', async () => {
    const aedes = await Aedes.createBroker();
    const server: Server = createServer(aedes.handle);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    const gw = await startGateway({ store: { integrationId: 'store-v3' }, mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnect: FAST_RECONNECT } });
    try {
      await until(() => (gw.gateway.status().mqtt as { connected: boolean }).connected);
      expect((gw.gateway.status().mqtt as { protocolVersion: number }).protocolVersion).toBe(4);
      const v3 = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
      const got = new Promise<string>((resolve) => v3.on('message', (_t, p) => resolve(p.toString())));
      await v3.subscribeAsync('storegate/store-v3/status');
      expect(JSON.parse(await got)).toMatchObject({ online: true });
      await v3.endAsync(true);
    } finally {
      await gw.stop();
      await new Promise<void>((r) => aedes.close(() => r()));
      server.close();
    }
  });

  it('starts, answers terminals and is ready with no broker at all', async () => {
    const port = await freePort();
    const gw = await startGateway({ mqtt: { url: `mqtt://127.0.0.1:${port}`, reconnect: FAST_RECONNECT }, terminals: [{ id: 'T1', tokenSha256: sha256Hex('terminal-token-one-0123456789') }] });
    try {
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
      const r = await fetch(`${gw.url}/v2/customer_sessions/NB-1`, { method: 'PUT', headers: terminalHeaders(), body: '{"customerSession":{}}' });
      expect(r.status).toBe(200);
      expect(gw.gateway.status().mqtt).toMatchObject({ connected: false });
    } finally {
      await gw.stop();
    }
  });
});
