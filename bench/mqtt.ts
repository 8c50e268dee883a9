/**
 * `npm run bench -- mqtt [--quick]`: the MQTT edge (issue: head office steers the store).
 * 1. Terminal RPC round trip (offline session updates, 5-line carts, one at a time) through a real mosquitto to
 *    the gateway running as shipped (bundle), beside a plain publish/echo round trip through the same broker to
 *    a separate echo process, in the same run. Target: added p99 ≤ 3 ms.
 * 2. A signed rules push of 500 campaigns: from publish to the shop's ack (verify + compile + persist). ≤ 1 s.
 * 3. Reconnect storm: 200 clients of a simulated fleet (our own MqttConnection, default policy) after a broker
 *    restart, beside 200 MQTT.js clients with its fixed 1 s reconnect period. The jitter must spread ours over ≥ 10 s.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema } from '../src/config/schema.js';
import { MqttConnection, noDelay } from '../src/mqtt/connection.js';
import { systemClock } from '../src/platform/clock.js';
import { sha256Hex } from '../src/http/auth.js';
import { signPush } from '../src/trust/index.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { rules } from './engine.js';
import { freePort, spawnGatewayBundle, spawnTs, waitForHttp } from './procs.js';
import { LoadConnection, putHead } from './http-load.js';
import { printTable, summarize, verdict } from './report.js';

const TOKEN = 'bench-terminal-token-0123456789';
const STORE = 'store-042';
const P = `storegate/${STORE}`;

function update(i: number): { customerSession: unknown } {
  const cartItems = Array.from({ length: 5 }, (_, k) => ({ sku: `SKU-${(i * 7 + k) % 500}`, name: `Item ${k}`, quantity: 1 + (k % 3), price: 3 + k }));
  return { customerSession: { profileId: `p-${i % 100}`, cartItems } };
}

function body(i: number): string {
  return JSON.stringify({ terminalToken: TOKEN, customerSessionId: `MQB-${i}`, body: update(i) });
}

/** The same offline session updates over HTTP (keep-alive), one at a time: the cost of the local answer itself. */
async function httpTrips(port: number, n: number, offset: number): Promise<number[]> {
  const conn = await LoadConnection.open(port);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const payload = JSON.stringify(update(offset + i));
      const t0 = performance.now();
      const status = await conn.request(putHead(`/v2/customer_sessions/HTB-${offset + i}`, `127.0.0.1:${port}`, `authorization: ApiKey-v1 ${TOKEN}\r\n`, payload), payload);
      if (status !== 200) throw new Error(`HTTP ${status}`);
      lat.push(performance.now() - t0);
    }
  } finally {
    conn.close();
  }
  return lat;
}

/** Sequential request/response round trips; returns the latencies in ms. */
async function roundTrips(client: MqttClient, topic: string, reply: string, n: number, offset: number, payload: (i: number) => string): Promise<number[]> {
  const waiting = new Map<string, (t: number) => void>();
  const onMessage = (_t: string, _p: Buffer, packet: { properties?: { correlationData?: Buffer } }) => {
    const key = packet.properties?.correlationData?.toString();
    const done = key === undefined ? undefined : waiting.get(key);
    if (done) {
      waiting.delete(key as string);
      done(performance.now());
    }
  };
  client.on('message', onMessage);
  const lat: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const corr = `c-${offset + i}`;
      const t0 = performance.now();
      const got = new Promise<number>((resolve, reject) => {
        waiting.set(corr, resolve);
        setTimeout(() => reject(new Error(`no answer to ${corr} within 5 s`)), 5000).unref();
      });
      client.publish(topic, payload(offset + i), { qos: 1, properties: { responseTopic: reply, correlationData: Buffer.from(corr) } });
      lat.push((await got) - t0);
    }
  } finally {
    client.off('message', onMessage);
  }
  return lat;
}

async function rpcAndPush(quick: boolean): Promise<void> {
  const broker = await new Mosquitto().start();
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-mqtt-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const port = await freePort();
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { integrationId: STORE },
      mode: 'offline',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port },
      adminToken: 'bench-admin-token-0123456789',
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      mqtt: { url: broker.url },
      trust: { publicKeys: [publicKey.export({ type: 'spki', format: 'pem' }).toString()] },
    }),
  );
  const gw = spawnGatewayBundle(['run', '--config', configFile]);
  const echo = spawnTs('bench/mqtt-echo.ts', [broker.url, 'bench/echo']);
  await waitForHttp(`http://127.0.0.1:${port}/readyz`);
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-pos', reconnectPeriod: 0 });
  noDelay(client);
  try {
    await client.subscribeAsync(['bench/replies', `${P}/rules/ack`, `${P}/status`], { qos: 1 });
    // Wait until the gateway is on the broker (its retained status says so).
    await new Promise<void>((resolve) => {
      const f = (t: string, p: Buffer) => {
        if (t === `${P}/status` && p.toString().includes('"online":true')) {
          client.off('message', f);
          resolve();
        }
      };
      client.on('message', f);
    });
    const n = quick ? 500 : 3000;
    const warm = quick ? 100 : 300;
    const echoBody = (i: number) => body(i);
    await roundTrips(client, 'bench/echo', 'bench/replies', warm, 0, echoBody);
    await roundTrips(client, `${P}/rpc/updateCustomerSession`, 'bench/replies', warm, 0, body);
    // Interleaved halves, so a noisy second hurts both paths alike.
    await httpTrips(port, warm, 0);
    const echoLat: number[] = [];
    const rpcLat: number[] = [];
    const httpLat: number[] = [];
    for (let part = 0; part < 2; part++) {
      echoLat.push(...(await roundTrips(client, 'bench/echo', 'bench/replies', n / 2, 10_000 + part * n, echoBody)));
      rpcLat.push(...(await roundTrips(client, `${P}/rpc/updateCustomerSession`, 'bench/replies', n / 2, 10_000 + part * n, body)));
      httpLat.push(...(await httpTrips(port, n / 2, 10_000 + part * n)));
    }
    const e = summarize(echoLat);
    const r = summarize(rpcLat);
    const h = summarize(httpLat);
    printTable('Round trip, one request at a time (ms)', ['path', 'n', 'p50', 'p99', 'mean'], [
      ['MQTT publish/echo through mosquitto (baseline)', e.n, e.p50, e.p99, e.mean],
      ['MQTT RPC updateCustomerSession, offline (journaled)', r.n, r.p50, r.p99, r.mean],
      ['HTTP PUT session, offline (journaled), same gateway', h.n, h.p50, h.p99, h.mean],
    ]);
    const addedP50 = r.p50 - e.p50;
    const addedP99 = r.p99 - e.p99;

    // Signed rules push of 500 campaigns: publish → ack.
    const times: number[] = [];
    let bytes = 0;
    for (let k = 0; k < (quick ? 2 : 5); k++) {
      const version = Date.now() + k;
      const data = { ...(rules(true) as Record<string, unknown>), version };
      const jws = await signPush({ kind: 'rules', version, storeIntegrationId: STORE, data }, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
      bytes = jws.length;
      const t0 = performance.now();
      const acked = new Promise<string>((resolve) => {
        const f = (t: string, p: Buffer) => {
          if (t === `${P}/rules/ack` && p.toString().includes(`"version":${version}`)) {
            client.off('message', f);
            resolve(p.toString());
          }
        };
        client.on('message', f);
      });
      client.publish(`${P}/rules/set`, jws, { qos: 1, retain: true });
      const ack = await acked;
      times.push(performance.now() - t0);
      if (!ack.includes('"ok":true')) throw new Error(`rules push refused: ${ack}`);
    }
    const push = summarize(times);
    printTable('Signed rules push, 500 campaigns: publish to ack (verify + compile + persist)', ['pushes', 'JWS bytes', 'median ms', 'max ms'], [
      [push.n, bytes, push.p50, Math.max(...times)],
    ]);
    printTable('Targets', ['target', 'measured', 'verdict'], [
      ['RPC added p99 ≤ 3 ms over the echo', `${addedP99.toFixed(3)} ms (added p50 ${addedP50.toFixed(3)} ms)`, verdict(addedP99 <= 3)],
      ['500-campaign signed rules push ≤ 1 s', `${push.p50.toFixed(0)} ms median, ${Math.max(...times).toFixed(0)} ms max`, verdict(Math.max(...times) <= 1000)],
    ]);
  } finally {
    await client.endAsync(true);
    await echo.stop();
    await gw.stop();
    await broker.stop();
  }
}

interface StormResult { name: string; offsets: number[] }

async function storm(clients: number): Promise<void> {
  const defaults = Value.Default(ConfigSchema.properties.mqtt, {}) as { reconnect: { minMs: number; spreadMs: number; maxMs: number } };
  const silent = pino({ level: 'silent' });
  const results: StormResult[] = [];

  // Ours: MqttConnection with the default reconnect policy.
  {
    const broker = await new Mosquitto().start();
    let restartedAt = 0;
    const offsets: number[] = [];
    let connected = 0;
    const conns = Array.from({ length: clients }, (_, i) => new MqttConnection({
      url: broker.url, clientId: `fleet-${i}`, keepaliveSec: 30, sessionExpirySec: 60, reconnect: defaults.reconnect,
      will: { topic: `fleet/${i}/status`, payload: '{"online":false}' }, subscriptions: [], queueLimit: 10,
      clock: systemClock, log: silent, onMessage: () => undefined,
      onConnect: () => {
        connected++;
        if (restartedAt > 0) offsets.push((performance.now() - restartedAt) / 1000);
      },
    }));
    for (const c of conns) c.start();
    await waitFor(() => connected >= clients, 30_000);
    await broker.kill();
    await new Promise((r) => setTimeout(r, 1000));
    restartedAt = performance.now();
    await broker.start();
    await waitFor(() => offsets.length >= clients, 4 * (defaults.reconnect.minMs + defaults.reconnect.spreadMs) + 10_000);
    results.push({ name: `storegate MqttConnection (minMs ${defaults.reconnect.minMs}, spreadMs ${defaults.reconnect.spreadMs})`, offsets });
    await Promise.all(conns.map((c) => c.stop()));
    await broker.stop();
  }
  // Baseline: MQTT.js's own reconnect, fixed 1 s period.
  {
    const broker = await new Mosquitto().start();
    let restartedAt = 0;
    const offsets: number[] = [];
    const cs = await Promise.all(Array.from({ length: clients }, (_, i) => mqtt.connectAsync(broker.url, { clientId: `plain-${i}`, reconnectPeriod: 1000 })));
    for (const c of cs) c.on('connect', () => restartedAt > 0 && offsets.push((performance.now() - restartedAt) / 1000));
    await broker.kill();
    await new Promise((r) => setTimeout(r, 1000));
    restartedAt = performance.now();
    await broker.start();
    await waitFor(() => offsets.length >= clients, 30_000);
    results.push({ name: 'MQTT.js reconnectPeriod 1000 (baseline)', offsets });
    await Promise.all(cs.map((c) => c.endAsync(true)));
    await broker.stop();
  }
  const rows = results.map(({ name, offsets }) => {
    const s = [...offsets].sort((a, b) => a - b);
    const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
    const perSecond = new Map<number, number>();
    for (const o of s) perSecond.set(Math.floor(o), (perSecond.get(Math.floor(o)) ?? 0) + 1);
    return [name, s.length, at(0), at(0.5), at(0.9), s[s.length - 1] as number, (s[s.length - 1] as number) - at(0), Math.max(...perSecond.values())];
  });
  printTable(`Reconnect storm: ${clients} clients, broker restarted (seconds after it accepts again)`, ['fleet', 'clients', 'first', 'p50', 'p90', 'last', 'spread', 'most in one second'], rows);
  const spread = rows[0]?.[6] as number;
  printTable('Targets', ['target', 'measured', 'verdict'], [[`reconnects of ${clients} clients spread over ≥ 10 s`, `${spread.toFixed(1)} s`, verdict(spread >= 10)]]);
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('benchmark condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  console.log(`mqtt benchmark (${quick ? 'quick' : 'full'}), Node ${process.version}`);
  await rpcAndPush(quick);
  await storm(200);
}
