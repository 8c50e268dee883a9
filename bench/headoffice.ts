/**
 * `npm run bench -- headoffice [--quick] [--rounds N]`: the head-office sync service (issue 14).
 *
 * 1. Full first sync of a generated chain — 500 stores, 500 campaigns (every 10th linked to 1–3 stores),
 *    100,000 coupons in 50 campaigns, 50,000 loyalty balances — from the Talon.One emulator (its own process,
 *    3 requests/s per endpoint enforced) to everything signed and published on a real mosquitto. Requests made
 *    per endpoint beside the minimum needed; wall time beside the rate limit's floor (the busiest endpoint's
 *    minimum requests / 3 per second: endpoints are pulled side by side). Target: within 2× the floor.
 * 2. One changed campaign reaching 500 simulated shops (500 MQTT clients in a separate process that verify each
 *    push's signature, parse it and ack): from the change in Talon.One (the emulator's ruleset update, which
 *    notifies head office) to the 500th ack, beside a baseline measured in the same run — the same 500 pushes,
 *    signed beforehand, published by a bare MQTT client (broker + shops only). Target: ≤ 5 s.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { loadHeadOfficeConfig } from '../src/headoffice/config.js';
import { Builder } from '../src/headoffice/build.js';
import type { PullCache } from '../src/headoffice/cache.js';
import { HeadOffice } from '../src/headoffice/service.js';
import { createLogger } from '../src/telemetry/logger.js';
import { ed25519PrivateKey, signPushJson } from '../src/trust/index.js';
import { simpleRuleset, storeIntegrationId, CAMPAIGN_ID_BASE } from '../scripts/talon-emulator/management-gen.js';
import { Mosquitto } from '../test/helpers/mosquitto.js';
import { cpuMs, freePort, spawnEmulatorBundle, spawnTs, waitForHttp, type Proc } from './procs.js';
import { printTable, verdict } from './report.js';

const KEY = 'bench-management-key-0123456789';
const SECRET = 'bench-notification-secret-0123456789';
const PREFIX = 'storegate';
const RULESET = 'GET /v2/applications/{applicationId}/campaigns/{campaignId}/rulesets/{rulesetId}';

interface Counters { requests: number; accepted: number; rejected: number; maxPerSecond: number; retryAfterIgnored: number }

async function admin(url: string, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${url}/_emulator/${p}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (!r.ok) throw new Error(`emulator ${method} ${p}: ${r.status} ${await r.text()}`);
  return r.status === 204 ? null : r.json();
}

/** Waits for `n` acks (one per store) with a version at least `min[store]`; resolves with the time of the last. */
function acks(observer: mqtt.MqttClient, stores: string[], min: (store: string) => number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const pending = new Set(stores);
    const timer = setTimeout(() => {
      observer.off('message', on);
      reject(new Error(`${pending.size} of ${stores.length} shops did not ack within ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (topic: string, payload: Buffer) => {
      const store = topic.slice(PREFIX.length + 1, -'/rules/ack'.length);
      if (!pending.has(store)) return;
      const v = (JSON.parse(payload.toString()) as { version?: number }).version ?? 0;
      if (v < min(store)) return;
      pending.delete(store);
      if (pending.size === 0) {
        clearTimeout(timer);
        observer.off('message', on);
        resolve(performance.now());
      }
    };
    observer.on('message', on);
  });
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  // Skips the rate limit (emulator and head office at 1,000 requests/s) to measure the fan-out alone, quickly.
  const fleetOnly = args.includes('--fleet-only');
  const ri = args.indexOf('--rounds');
  const rounds = ri >= 0 ? Number(args[ri + 1]) : 3;
  const size = quick ? { stores: 100, campaigns: 100, coupons: 20_000, balances: 10_000, couponCampaigns: 10 } : { stores: 500, campaigns: 500, coupons: 100_000, balances: 50_000, couponCampaigns: 50 };
  const procs: Proc[] = [];
  const broker = await new Mosquitto().start();
  let office: HeadOffice | null = null;
  let observer: mqtt.MqttClient | null = null;
  try {
    const emuPort = await freePort();
    const emuUrl = `http://127.0.0.1:${emuPort}`;
    procs.push(spawnEmulatorBundle(['--port', String(emuPort), '--api-key', 'bench', '--management-key', KEY, '--no-record', ...(fleetOnly ? ['--management-rate', '1000'] : [])]));
    await waitForHttp(`${emuUrl}/_emulator/health`);
    const made = (await admin(emuUrl, 'POST', 'management/generate', { ...size, storeSpecificEvery: 10 })) as { campaigns: number; coupons: number; stores: number; balances: number };

    const dir = mkdtempSync(path.join(tmpdir(), 'sg-bench-ho-'));
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(path.join(dir, 'signing.pem'), privatePem, { mode: 0o600 });
    writeFileSync(path.join(dir, 'public.pem'), publicKey.export({ type: 'spki', format: 'pem' }).toString());
    writeFileSync(path.join(dir, 'key'), KEY, { mode: 0o600 });
    writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
    const hoPort = await freePort();
    writeFileSync(path.join(dir, 'ho.json'), JSON.stringify({
      talon: { baseUrl: emuUrl, applicationId: 1, managementKeyFile: 'key' },
      notifications: { secretFile: 'secret' },
      http: { port: hoPort },
      mqtt: { url: broker.url },
      signing: { keyFile: 'signing.pem' },
      dataDir: 'data',
    }));
    const warnings: string[] = [];
    const log = createLogger('warn', new Writable({ write: (c: Buffer, _e, cb) => (warnings.push(c.toString()), cb()) }));
    const loaded = await loadHeadOfficeConfig(path.join(dir, 'ho.json'));
    if (fleetOnly) loaded.config.talon.ratePerSec = 1000; // not a valid config value: the benchmark's shortcut only

    // 1. The full first sync.
    const t0 = performance.now();
    office = new HeadOffice({ loaded, log });
    await office.start();
    await office.synced(3_600_000);
    const wallSec = (performance.now() - t0) / 1000;
    const counters = (await admin(emuUrl, 'GET', 'ratelimit')) as Record<string, Counters>;
    const perCampaign = Math.ceil(made.coupons / size.couponCampaigns);
    const minimum: Record<string, number> = {
      'GET /v1/applications/{applicationId}': 1,
      'GET /v1/applications/{applicationId}/stores': Math.max(1, Math.ceil(made.stores / 1000)),
      'GET /v1/applications/{applicationId}/cart_item_filters': 1,
      'GET /v1/applications/{applicationId}/campaigns': 2, // running, then scheduled (one page each up to 1,000)
      [RULESET]: made.campaigns,
      'GET /v1/applications/{applicationId}/campaigns/{campaignId}/coupons/no_total': size.couponCampaigns * Math.max(1, Math.ceil(perCampaign / 1000)),
      'GET /v1/loyalty_programs': 1,
      'GET /v1/loyalty_programs/{loyaltyProgramId}/export_customer_balances': 1,
    };
    const short = (e: string) => e.replace('GET ', '').replace('{applicationId}', ':app').replace('{campaignId}', ':c').replace('{rulesetId}', ':r').replace('{loyaltyProgramId}', ':p');
    for (const e of Object.keys(counters)) minimum[e] ??= 0; // e.g. the audit log, read once the sync is done: not part of it
    const rows = Object.entries(minimum).map(([e, min]) => {
      const c = counters[e];
      return [short(e), c?.requests ?? 0, min, (min / 3).toFixed(1), c?.maxPerSecond ?? 0, c?.rejected ?? 0];
    });
    const made_ = Object.values(counters).reduce((n, c) => n + c.requests, 0);
    const minTotal = Object.values(minimum).reduce((a, b) => a + b, 0);
    const floorSec = Math.max(...Object.values(minimum)) / 3;
    printTable(`head office: full first sync (${made.stores} stores, ${made.campaigns} campaigns, ${made.coupons.toLocaleString('en-US')} coupons, ${made.balances.toLocaleString('en-US')} balances)`, ['endpoint', 'requests', 'minimum', 'floor s (min / 3 per s)', 'most in 1 s', '429s'], [...rows, ['all endpoints', made_, minTotal, floorSec.toFixed(1), Math.max(...Object.values(counters).map((c) => c.maxPerSecond)), Object.values(counters).reduce((n, c) => n + c.rejected, 0)]]);
    const pub = office.parts.publisher;
    printTable('head office: first sync, published', ['figure', 'value'], [
      ['wall time (start → pulled, signed, published)', `${wallSec.toFixed(1)} s`],
      ['floor (the busiest endpoint at 3 requests/s)', `${floorSec.toFixed(1)} s`],
      ['messages published (retained)', pub?.messagesPublished ?? 0],
      ['bytes published', `${((pub?.bytesPublished ?? 0) / 1048576).toFixed(1)} MiB`],
    ]);

    // 2. One changed campaign to N simulated shops.
    const stores = Array.from({ length: made.stores }, (_, i) => storeIntegrationId(i));
    const shops = spawnTs('bench/headoffice-stores.ts', [broker.url, PREFIX, String(made.stores), path.join(dir, 'public.pem')]);
    procs.push(shops);
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      shops.child.stdout?.removeAllListeners('data');
      shops.child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('"ready"')) resolve();
      });
      shops.child.once('exit', () => reject(new Error('the simulated shops exited')));
    });
    observer = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'bench-observer', reconnectPeriod: 0 });
    await observer.subscribeAsync(`${PREFIX}/+/rules/ack`, { qos: 1 });
    const acked = new Map<string, number>();
    observer.on('message', (t, p) => acked.set(t.slice(PREFIX.length + 1, -'/rules/ack'.length), (JSON.parse(p.toString()) as { version: number }).version));
    // Every shop acks the retained rules it got on subscribing.
    const tw = Date.now();
    while (acked.size < stores.length && Date.now() - tw < 120_000) await new Promise((r) => setTimeout(r, 100));
    await admin(emuUrl, 'PUT', 'notifications', { targets: [{ url: `http://127.0.0.1:${hoPort}/notifications`, headers: { 'X-Storegate-Secret': SECRET } }] });
    const key = ed25519PrivateKey(privatePem);
    const results: { office: number; baseline: number }[] = [];
    const phases: (string | number)[][] = [];
    for (let r = 0; r < rounds; r++) {
      // Head office: a chain campaign's rules change in Talon.One.
      const before = new Map(acked);
      const cpu0 = process.cpuUsage();
      const shopsCpu0 = cpuMs(shops.child.pid as number);
      const ta = performance.now();
      await admin(emuUrl, 'PUT', `management/campaigns/${CAMPAIGN_ID_BASE}`, { ruleset: simpleRuleset(CAMPAIGN_ID_BASE, 2 + r, 500 + r) });
      const tb = await acks(observer, stores, (s) => (before.get(s) ?? 0) + 1, 60_000);
      const cpu = process.cpuUsage(cpu0);
      const round = office.parts.publisher?.lastRound;
      if (round) phases.push([r + 1, ((round.startedAt - ta) / 1000).toFixed(2), (((round.firstAt ?? round.startedAt) - ta) / 1000).toFixed(2), ((round.doneAt - ta) / 1000).toFixed(2), ((tb - ta) / 1000).toFixed(2), round.messages, ((cpu.user + cpu.system) / 1e6).toFixed(2), ((cpuMs(shops.child.pid as number) - shopsCpu0) / 1000).toFixed(2)]);
      // Baseline: the same pushes, signed before the clock starts, from a bare client.
      const targets = new Builder().rules(office.parts.cache as PullCache);
      const version = Date.now();
      const jws = await Promise.all(targets.map((t) => signPushJson(`{"kind":"rules","version":${version},"storeIntegrationId":${JSON.stringify(t.target)},"data":${t.text()}}`, key)));
      const bare = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `bench-bare-${r}`, reconnectPeriod: 0 });
      const tc = performance.now();
      const done = acks(observer, stores, () => version, 60_000);
      await Promise.all(targets.map((t, i) => bare.publishAsync(`${PREFIX}/${t.target}/rules/set`, jws[i] as string, { qos: 1, retain: true })));
      const td = await done;
      await bare.endAsync();
      results.push({ office: (tb - ta) / 1000, baseline: (td - tc) / 1000 });
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    printTable(`head office: one changed campaign to ${stores.length} simulated shops (change in Talon.One → last ack)`, ['round', 'head office s', 'baseline: bare publish of the same signed pushes s'], results.map((x, i) => [i + 1, x.office.toFixed(2), x.baseline.toFixed(2)]));
    printTable('head office: where the time goes (s after the change in Talon.One)', ['round', 'push round starts (notified, campaign re-read)', 'first push acked by the broker', 'last push acked by the broker', 'last shop ack', 'pushes', 'head office CPU s', 'simulated shops CPU s'], phases);
    const officeMed = med(results.map((x) => x.office));
    const syncRows = fleetOnly ? [] : [
      ['full first sync within 2× the rate limit floor', `${wallSec.toFixed(1)} s vs floor ${floorSec.toFixed(1)} s (${(wallSec / floorSec).toFixed(2)}×)`, verdict(wallSec <= 2 * floorSec)],
      ['no endpoint above 3 requests/s, no 429', `most in 1 s: ${Math.max(...Object.values(counters).map((c) => c.maxPerSecond))}, 429s: ${Object.values(counters).reduce((n, c) => n + c.rejected, 0)}`, verdict(Object.values(counters).every((c) => c.maxPerSecond <= 3 && c.rejected === 0))],
    ];
    if (fleetOnly) console.log('\n(--fleet-only: the sync ran without the rate limit; its figures above are not the issue\'s measurement)');
    printTable('head office: targets', ['target', 'measured', 'verdict'], [
      ...syncRows,
      [`one changed campaign → ${stores.length}th ack ≤ 5 s (median of ${rounds})`, `${officeMed.toFixed(2)} s (baseline ${med(results.map((x) => x.baseline)).toFixed(2)} s)`, verdict(officeMed <= 5)],
    ]);
    if (warnings.length > 0) console.log(`head office logged ${warnings.length} warnings; first: ${warnings[0]?.slice(0, 300)}`);
  } finally {
    await observer?.endAsync().catch(() => undefined);
    await office?.stop();
    for (const p of procs) await p.stop();
    await broker.stop();
  }
}
