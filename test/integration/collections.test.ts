/**
 * Collections, the seventh local data kind, through the real gateway: pushed signed over MQTT (and over HTTP,
 * signed or under the admin token), acknowledged, in /status and P/status, kept across a restart, read from
 * dataFiles.collections at start — and used offline by `inCollection` (Talon.One docs, "Managing collections":
 * "Using a collection in a condition"). A refused push (bad signature, stale, invalid) changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signPush } from '../../src/trust/index.js';
import { pushCommand } from '../../src/cli/push.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { ADMIN_TOKEN, STORE_ID, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const head = keyPair();
const stranger = keyPair();
const P = `storegate/${STORE_ID}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sg-collections-'));
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** Campaign 601: 5 EUR off for customers in collection 22 (the Berlin customers), named by id as a rule may. */
const rules = {
  version: 1, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, stores: [{ id: 42, integrationId: STORE_ID }],
  campaigns: [{
    campaign: { id: 601, name: 'Berlin friends', state: 'enabled' },
    ruleset: { id: 6010, promotionRules: [{ title: 'Berlin 5 off', blocks: [
      { type: 'checkAttribute', attribute: '$Profile.IntegrationId', operator: 'inCollection', value: 22 },
      { type: 'awardDiscount', name: 'Berlin 5 off', value: 5, target: { type: 'cart' }, partial: false },
    ] }] },
  }],
};
const rulesFile = path.join(dir, 'rules.json');
writeFileSync(rulesFile, JSON.stringify(rules));
const berlin = (...who: string[]) => ({ id: 22, name: 'Berlin customers', applicationId: 1, payload: who });

let broker: Mosquitto;
let office: TestClient;
let gw: TestGateway;
const config = () => ({ mode: 'offline' as const, mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } }, trust: { publicKeys: [head.publicPem] }, dataFiles: { rules: rulesFile } });

/** The discount an offline answer gives customer `profileId`. */
async function discount(id: string, profileId: string): Promise<number> {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT', headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { profileId, cartItems: [{ sku: 'A', quantity: 1, price: 40 }] } }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { effects: { effectType: string; props: { value: number } }[] };
  return body.effects.filter((e) => e.effectType === 'setDiscount').reduce((a, e) => a + e.props.value, 0);
}
const status = async () => (await (await fetch(`${gw.url}/status`, { headers: admin })).json()) as { cache: Record<string, unknown> & { campaigns: { id: number; offlineCapable: boolean; reason: string | null }[] } };
const putData = (body: string, contentType: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/admin/data/collections`, { method: 'PUT', headers: { 'content-type': contentType, ...headers }, body });

beforeAll(async () => {
  broker = await new Mosquitto().start();
  office = await TestClient.connect(broker.url, 'head-office');
  await office.subscribe(`${P}/+/ack`);
  await office.subscribe(`${P}/status`);
  gw = await startGateway(config(), { dir });
  await office.next(`${P}/status`, (r) => r.json().online === true);
});

afterAll(async () => {
  await gw?.stop();
  await office?.close();
  await broker?.stop();
});

describe('collections pushes', () => {
  it('before any collection the campaign is not offline-capable, with the reason', async () => {
    expect(await discount('COL-0', 'ann')).toBe(0);
    expect((await status()).cache.campaigns).toEqual([expect.objectContaining({ id: 601, offlineCapable: false, reason: 'collection 22 is not in this store\'s collections data' })]);
  });

  it('a signed P/collections/set is acknowledged, reported, and the next offline update uses it', async () => {
    const jws = await signPush({ kind: 'collections', version: 10, storeIntegrationId: STORE_ID, data: { version: 10, full: true, collections: [berlin('ann', 'bob')] } } as never, head.privatePem);
    await office.publish(`${P}/collections/set`, jws, { retain: true });
    const ack = await office.next(`${P}/collections/ack`, (r) => r.json().version === 10);
    expect(ack.json()).toMatchObject({ version: 10, ok: true, changed: 1 });
    expect(await discount('COL-1', 'ann')).toBe(5);
    expect(await discount('COL-2', 'eve')).toBe(0);
    expect((await status()).cache).toMatchObject({ collectionsVersion: 10, collections: 1, collectionItems: 2 });
    expect((await status()).cache.campaigns[0]).toMatchObject({ offlineCapable: true, reason: null });
    await office.next(`${P}/status`, (r) => r.json().collectionsVersion === 10);
  });

  it('refusals change nothing: a foreign key, a stale version, an invalid set (with JSON paths)', async () => {
    const foreign = await signPush({ kind: 'collections', version: 11, storeIntegrationId: STORE_ID, data: { version: 11, full: true, collections: [berlin('eve')] } } as never, stranger.privatePem);
    await office.publish(`${P}/collections/set`, foreign, { retain: true });
    expect((await office.next(`${P}/collections/ack`, (r) => r.json().version === 11)).json()).toMatchObject({ ok: false, code: 'SG_ERR_PUSH_UNTRUSTED_KEY' });
    const stale = await signPush({ kind: 'collections', version: 9, storeIntegrationId: STORE_ID, data: { version: 9, full: true, collections: [berlin('eve')] } } as never, head.privatePem);
    await office.publish(`${P}/collections/set`, stale, { retain: true });
    expect((await office.next(`${P}/collections/ack`, (r) => r.json().version === 9)).json()).toMatchObject({ ok: false, code: 'SG_ERR_PUSH_STALE' });
    const bad = await putData(JSON.stringify({ version: 12, full: true, collections: [{ id: 22, name: 'Berlin customers', payload: ['eve', 7] }, { id: 23 }] }), 'application/json', admin);
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { errors: { title: string; source: { pointer: string } }[] };
    expect(err.errors.map((e) => e.source.pointer)).toEqual(['/collections/0/payload/1', '/collections/1/name']);
    expect(err.errors[0]?.title).toBe('SG_ERR_DATA_INVALID');
    expect((await status()).cache).toMatchObject({ collectionsVersion: 10, collectionItems: 2 });
    expect(await discount('COL-3', 'eve')).toBe(0);
    expect(await discount('COL-4', 'bob')).toBe(5);
    expect((await putData(JSON.stringify({ version: 12, full: true, collections: [] }), 'application/json')).status).toBe(401);
  });

  it('storegate push collections publishes a delta; over HTTP a signed push needs no token', async () => {
    const keyFile = path.join(dir, 'head.pem');
    writeFileSync(keyFile, head.privatePem, { mode: 0o600 });
    const file = path.join(dir, 'delta.json');
    writeFileSync(file, JSON.stringify({ full: false, collections: [berlin('eve')] }));
    const out: string[] = [];
    const code = await pushCommand({ kind: 'collections', file, key: keyFile, mqtt: broker.url, store: STORE_ID, version: '13', timeoutSec: '10', topicPrefix: 'storegate', ca: undefined, expect: undefined, out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(out).toEqual([`${STORE_ID} collections v13: ok`]);
    expect(code).toBe(0);
    expect(await discount('COL-5', 'eve')).toBe(5);
    expect(await discount('COL-6', 'ann')).toBe(0); // replaced whole, as an import replaces a collection's content
    const jws = await signPush({ kind: 'collections', version: 14, storeIntegrationId: STORE_ID, data: { version: 14, full: false, collections: [{ id: 22, deleted: true }] } } as never, head.privatePem);
    const res = await putData(jws, 'application/jose');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ kind: 'collections', version: 14, ok: true, changed: 1 });
    expect(await discount('COL-7', 'eve')).toBe(0);
    expect((await status()).cache.campaigns[0]).toMatchObject({ offlineCapable: false });
  });

  it('is kept across a restart, and dataFiles.collections is read at start', async () => {
    const plain = await putData(JSON.stringify({ version: 15, full: true, collections: [berlin('kim')] }), 'application/json', admin);
    expect(plain.status).toBe(200);
    await gw.stop();
    gw = await startGateway(config(), { dir });
    expect((await status()).cache).toMatchObject({ collectionsVersion: 15, collectionItems: 1 });
    expect(await discount('COL-8', 'kim')).toBe(5);

    const file = path.join(dir, 'collections.json');
    writeFileSync(file, JSON.stringify({ version: 3, full: true, collections: [berlin('lea')] }));
    const other = await startGateway({ mode: 'offline', dataFiles: { rules: rulesFile, collections: file } });
    try {
      const s = (await (await fetch(`${other.url}/status`, { headers: admin })).json()) as { cache: Record<string, unknown> };
      expect(s.cache).toMatchObject({ collectionsVersion: 3, collections: 1 });
    } finally {
      await other.stop();
    }
  });
});
