/**
 * Head office steers a shop over a real mosquitto (started by the test on a random loopback port): signed
 * config and data pushes are applied, acknowledged on `P/<kind>/ack`, persisted across a restart, and every
 * kind of bad push is refused with its reason while nothing changes on disk.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CompactSign } from 'jose';
import { createPrivateKey } from 'node:crypto';
import { signPush } from '../../src/trust/index.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { ADMIN_TOKEN, STORE_ID, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const head = keyPair();
const rotated = keyPair();
const stranger = keyPair();
const P = `storegate/${STORE_ID}`;
const RULES = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'pushes', 'rules-901.json'), 'utf8')) as Record<string, unknown>;

let broker: Mosquitto;
let gw: TestGateway;
let office: TestClient;

function gatewayConfig() {
  return {
    mode: 'offline',
    mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } },
    trust: { publicKeys: [head.publicPem, rotated.publicPem] },
  };
}

async function push(kind: string, body: Record<string, unknown>, key = head.privatePem): Promise<Received> {
  const jws = await signPush(body as never, key);
  await office.publish(`${P}/${kind}/set`, jws, { retain: true });
  return office.next(`${P}/${kind}/ack`, (r) => r.json().version === (body.version ?? null));
}

async function session(id: string) {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { cartItems: [{ sku: 'A-1', name: 'Pan', quantity: 1, price: 20 }] } }),
  });
  return (await res.json()) as { effects: { campaignId: number; effectType: string; props: { value?: number } }[] };
}

const overlayFile = () => path.join(gw.dir, 'var', 'state', 'config-push.json');
const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : null);
const status = async () => (await (await fetch(`${gw.url}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as Record<string, any>;

beforeAll(async () => {
  broker = await new Mosquitto().start();
  office = await TestClient.connect(broker.url, 'head-office');
  await office.subscribe(`${P}/+/ack`);
  await office.subscribe(`${P}/status`);
  gw = await startGateway(gatewayConfig());
  await office.next(`${P}/status`, (r) => r.json().online === true);
});

afterAll(async () => {
  await gw?.stop();
  await office?.close();
  await broker?.stop();
});

describe('signed pushes over MQTT', () => {
  it('applies a rules push: the next offline session update uses the new rules', async () => {
    expect((await session('R-before')).effects.filter((e) => e.campaignId === 901)).toEqual([]);
    const ack = await push('rules', { kind: 'rules', version: 5, storeIntegrationId: STORE_ID, data: { ...RULES, version: 5 } });
    expect(ack.json()).toMatchObject({ version: 5, ok: true });
    const effects = (await session('R-after')).effects.filter((e) => e.campaignId === 901);
    expect(effects).toEqual([expect.objectContaining({ effectType: 'setDiscount', props: expect.objectContaining({ value: 5 }) })]);
    expect((await status()).cache.rulesVersion).toBe(5);
  });

  it('applies a config push signed by a second trusted key: acknowledged, persisted, live where it can be', async () => {
    const before = await fetch(`${gw.url}/v2/customer_sessions/T2-ok`, { method: 'PUT', headers: terminalHeaders('T2'), body: '{"customerSession":{}}' });
    expect(before.status).toBe(200);
    const terminals = [(JSON.parse(readFileSync(path.join(gw.dir, 'config.json'), 'utf8')) as { terminals: unknown[] }).terminals[0]];
    const ack = await push('config', { version: 10, storeIntegrationId: '*', config: { log: { level: 'debug' }, terminals, http: { bodyLimitBytes: 2097152 } } }, rotated.privatePem);
    expect(ack.json()).toEqual({ version: 10, ok: true, restartRequired: ['http.bodyLimitBytes'] });
    // Live: terminal T2 was removed, and is refused from its next call.
    const after = await fetch(`${gw.url}/v2/customer_sessions/T2-gone`, { method: 'PUT', headers: terminalHeaders('T2'), body: '{"customerSession":{}}' });
    expect(after.status).toBe(401);
    expect(JSON.parse(read(overlayFile()) as string)).toMatchObject({ version: 10, config: { log: { level: 'debug' }, http: { bodyLimitBytes: 2097152 } } });
    const s = await status();
    expect(s.config).toEqual({ version: 10, pendingRestart: ['http.bodyLimitBytes'] });
    expect(s.pushes.config).toMatchObject({ version: 10, ok: true, via: 'mqtt' });
    const st = await office.next(`${P}/status`, (r) => r.json().configVersion === 10);
    expect(st.json()).toMatchObject({ online: true, mode: 'offline', rulesVersion: 5 });
  });

  it('refuses every bad push with its reason and changes nothing on disk', async () => {
    const overlay = read(overlayFile());
    const rules = read(path.join(gw.dir, 'var', 'state', 'rules.json'));
    const good = await signPush({ version: 20, storeIntegrationId: STORE_ID, config: { log: { level: 'warn' } } }, head.privatePem);
    const [h, p, sig] = good.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    const noneAlg = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
    const hs256 = await new CompactSign(Buffer.from(p, 'base64url')).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('shared-secret-0123456789abcdef0123'));
    const cases: [string, string | Buffer, string][] = [
      ['forged signature', flipped, 'SG_ERR_PUSH_SIGNATURE'],
      ['unknown key', await signPush({ version: 21, storeIntegrationId: STORE_ID, config: { log: { level: 'warn' } } }, stranger.privatePem), 'SG_ERR_PUSH_UNTRUSTED_KEY'],
      ['alg none', noneAlg, 'SG_ERR_PUSH_ALG'],
      ['alg HS256', hs256, 'SG_ERR_PUSH_ALG'],
      ['unsigned JSON', JSON.stringify({ version: 22, storeIntegrationId: STORE_ID, config: {} }), 'SG_ERR_PUSH_UNSIGNED'],
      ['lower version (rollback)', await signPush({ version: 9, storeIntegrationId: STORE_ID, config: { log: { level: 'warn' } } }, head.privatePem), 'SG_ERR_PUSH_STALE'],
      ['another store', await signPush({ version: 23, storeIntegrationId: 'store-777', config: { log: { level: 'warn' } } }, head.privatePem), 'SG_ERR_PUSH_WRONG_STORE'],
      ['invalid merged config', await signPush({ version: 24, storeIntegrationId: STORE_ID, config: { http: { port: 'eighty' }, mode: 'sometimes' } }, head.privatePem), 'SG_ERR_CONFIG_INVALID'],
      ['config kind replayed as rules', await signPush({ kind: 'config', version: 25, storeIntegrationId: STORE_ID, data: {} }, head.privatePem), 'SG_ERR_PUSH_INVALID'],
      ['not JSON inside', await new CompactSign(Buffer.from('not json')).setProtectedHeader({ alg: 'EdDSA' }).sign(createPrivateKey(head.privatePem)), 'SG_ERR_PUSH_INVALID'],
    ];
    let invalid: Record<string, unknown> = {};
    for (const [name, jws, code] of cases) {
      office.received.length = 0;
      const kind = name === 'config kind replayed as rules' ? 'rules' : 'config';
      await office.publish(`${P}/${kind}/set`, jws, { retain: true });
      const ack = await office.next(`${P}/${kind}/ack`, (r) => r.json().ok === false);
      expect(ack.json(), name).toMatchObject({ ok: false, code });
      expect(String(ack.json().error).length, name).toBeGreaterThan(10);
      if (code === 'SG_ERR_CONFIG_INVALID') invalid = ack.json();
    }
    // Every problem of the merged config, with its JSON path.
    expect(invalid.error).toMatch(/\/http\/port/);
    expect(invalid.error).toMatch(/\/mode/);
    expect(read(overlayFile())).toBe(overlay);
    expect(read(path.join(gw.dir, 'var', 'state', 'rules.json'))).toBe(rules);
    expect((await status()).config.version).toBe(10);
    // Nothing secret in what was logged about the refusals.
    expect(gw.logs.join('\n')).not.toContain('PRIVATE KEY');
  });

  it('accepts the same JWS over HTTP without the admin token, and plain JSON only with it', async () => {
    const jws = await signPush({ kind: 'config', version: 30, storeIntegrationId: STORE_ID, config: { offline: { maxOfflineLoyaltyDeduction: 120 } } }, head.privatePem);
    const signed = await fetch(`${gw.url}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/jose' }, body: jws });
    expect(signed.status).toBe(200);
    expect(await signed.json()).toMatchObject({ kind: 'config', version: 30, ok: true });
    // Announced on MQTT too.
    expect((await office.next(`${P}/config/ack`, (r) => r.json().version === 30)).json()).toMatchObject({ ok: true });
    const plainNoToken = await fetch(`${gw.url}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 31, config: {} }) });
    expect(plainNoToken.status).toBe(401);
    const plain = await fetch(`${gw.url}/admin/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ version: 31, config: { log: { level: 'info' } } }),
    });
    expect(plain.status).toBe(200);
    const forged = await fetch(`${gw.url}/admin/data/rules`, { method: 'PUT', headers: { 'content-type': 'application/jose' }, body: `${jws.slice(0, -3)}AAA` });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { errors: { title: string }[] }).errors[0]?.title).toBe('SG_ERR_PUSH_SIGNATURE');
  });

  it('keeps applied pushes across a restart, and does not re-apply a retained push seen again', async () => {
    // Head office's last retained pushes are good ones (the refused ones above were replaced).
    expect((await push('config', { version: 40, storeIntegrationId: STORE_ID, config: { log: { level: 'info' } } })).json()).toMatchObject({ ok: true });
    expect((await push('rules', { version: 41, storeIntegrationId: STORE_ID, data: { ...RULES, version: 41 } })).json()).toMatchObject({ ok: true });
    const dir = gw.dir;
    await gw.stop();
    const offline = await office.next(`${P}/status`, (r) => r.json().online === false);
    expect(offline.json()).toEqual({ online: false });
    office.received.length = 0;
    gw = await startGateway(gatewayConfig(), { dir });
    const st = await office.next(`${P}/status`, (r) => r.json().online === true);
    expect(st.json()).toMatchObject({ configVersion: 40, rulesVersion: 41 });
    const s = await status();
    expect(s.config).toEqual({ version: 40, pendingRestart: [] });
    // The retained config (v40) and rules (v41) came again on subscribe: no new ack, no re-apply.
    await new Promise((r) => setTimeout(r, 300));
    expect(office.received.filter((r) => r.topic.endsWith('/ack') && !r.retain)).toEqual([]);
    expect((await session('R-restart')).effects.some((e) => e.campaignId === 901)).toBe(true);
  });
});
