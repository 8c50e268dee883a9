/**
 * The cart item catalog, a sixth local data kind, through the real gateway: pushed signed over MQTT (and over HTTP,
 * signed or under the admin token), acknowledged, reported in /status and P/status, kept across a restart, read
 * from dataFiles.catalog at start — and used offline: a cart line that lacks attributes gets them from the catalog
 * before the campaigns are evaluated, as Talon.One does upstream. A bad push is refused with its JSON paths and
 * changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { signPush } from '../../src/trust/index.js';
import { pushCommand } from '../../src/cli/push.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { ADMIN_TOKEN, STORE_ID, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const head = keyPair();
const P = `storegate/${STORE_ID}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sg-catalog-'));
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

/** One campaign: 10% off every line of brand Acme (the brand is a cart item attribute the POS does not send). */
const rules = {
  version: 1, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, stores: [{ id: 42, integrationId: STORE_ID }],
  campaigns: [{
    campaign: { id: 501, name: 'Acme week', state: 'enabled' },
    ruleset: { id: 5010, promotionRules: [{ title: 'Acme 10%', blocks: [
      { type: 'awardDiscount', name: 'Acme 10%', value: '{{$Item.Price * 0.1}}', target: { type: 'selector', name: 'acme' } },
    ] }], selectors: [{ name: 'acme', type: 'selector', source: '$Session.CartItems', steps: [{ type: 'filter', predicate: { type: 'checkAttribute', attribute: '$Item.Attributes.brand', operator: 'equals', value: 'Acme' } }] }] },
  }],
};
const rulesFile = path.join(dir, 'rules.json');
writeFileSync(rulesFile, JSON.stringify(rules));
const catalogItem = (sku: string, brand: string, version = 1) => ({ id: 1, sku, catalogid: 3, version, price: 20, product: { name: sku }, attributes: [{ attributeid: 7, name: 'brand', value: brand }] });

let broker: Mosquitto;
let office: TestClient;
let gw: TestGateway;

async function discounts(id: string): Promise<number[]> {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT', headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { cartItems: [{ sku: 'ACME-1', quantity: 1, price: 30 }, { sku: 'OTHER-1', quantity: 1, price: 50 }, { sku: 'ACME-2', quantity: 1, price: 10, attributes: { brand: 'Own' } }] } }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { effects: { effectType: string; props: { position: number; value: number } }[] };
  return body.effects.filter((e) => e.effectType === 'setDiscountPerItem').map((e) => e.props.position);
}
const status = async () => (await (await fetch(`${gw.url}/status`, { headers: admin })).json()) as { cache: Record<string, unknown> };
const putData = (kind: string, body: string, contentType: string, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}/admin/data/${kind}`, { method: 'PUT', headers: { 'content-type': contentType, ...headers }, body });

beforeAll(async () => {
  broker = await new Mosquitto().start();
  office = await TestClient.connect(broker.url, 'head-office');
  await office.subscribe(`${P}/+/ack`);
  await office.subscribe(`${P}/status`);
  gw = await startGateway({ mode: 'offline', mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } }, trust: { publicKeys: [head.publicPem] }, dataFiles: { rules: rulesFile } }, { dir });
  await office.next(`${P}/status`, (r) => r.json().online === true);
});

afterAll(async () => {
  await gw?.stop();
  await office?.close();
  await broker?.stop();
});

describe('catalog pushes', () => {
  it('a signed push over MQTT: acknowledged, in P/status and /status, and the next offline answer completes lines from it', async () => {
    expect(await discounts('CAT-before')).toEqual([]);
    const jws = await signPush({ kind: 'catalog', version: 10, storeIntegrationId: STORE_ID, data: { version: 10, full: true, items: [catalogItem('ACME-1', 'Acme'), catalogItem('ACME-2', 'Acme'), catalogItem('OTHER-1', 'Other')] } } as never, head.privatePem);
    await office.publish(`${P}/catalog/set`, jws, { retain: true });
    const ack = await office.next(`${P}/catalog/ack`, (r) => r.json().version === 10);
    expect(ack.json()).toMatchObject({ version: 10, ok: true, changed: 3 });
    // ACME-1 gets the brand from the catalog; ACME-2 sends its own brand, which wins.
    expect(await discounts('CAT-after')).toEqual([0]);
    expect((await status()).cache).toMatchObject({ catalogVersion: 10, catalogItems: 3 });
    await office.next(`${P}/status`, (r) => r.json().catalogVersion === 10);
  });

  it('storegate push catalog signs and publishes a delta; the shop acknowledges it', async () => {
    const keyFile = path.join(dir, 'head.pem');
    writeFileSync(keyFile, head.privatePem, { mode: 0o600 });
    const file = path.join(dir, 'delta.json');
    writeFileSync(file, JSON.stringify({ full: false, items: [catalogItem('OTHER-1', 'Acme', 2)] }));
    const out: string[] = [];
    const code = await pushCommand({ kind: 'catalog', file, key: keyFile, mqtt: broker.url, store: STORE_ID, version: '11', timeoutSec: '10', topicPrefix: 'storegate', ca: undefined, expect: undefined, out: (l) => out.push(l), err: (l) => out.push(l) });
    expect(out).toEqual([`${STORE_ID} catalog v11: ok`]);
    expect(code).toBe(0);
    expect(await discounts('CAT-delta')).toEqual([0, 1]);
  });

  it('over HTTP: signed without a token, plain under the admin token; a bad one is refused with JSON paths and changes nothing', async () => {
    const jws = await signPush({ kind: 'catalog', version: 12, storeIntegrationId: STORE_ID, data: { version: 12, full: false, items: [{ sku: 'OTHER-1', deleted: true }] } } as never, head.privatePem);
    const signed = await putData('catalog', jws, 'application/jose');
    expect(signed.status).toBe(200);
    expect(await signed.json()).toMatchObject({ kind: 'catalog', version: 12, ok: true, changed: 1 });
    expect(await discounts('CAT-http')).toEqual([0]);

    const bad = await putData('catalog', JSON.stringify({ version: 13, full: true, items: [{ sku: 'X', catalogid: 1 }, { sku: 'Y', catalogid: 1, version: 1, attributes: [{ attributeid: 1, name: 'brand' }] }] }), 'application/json', admin);
    expect(bad.status).toBe(400);
    const err = (await bad.json()) as { errors: { title: string; source: { pointer: string } }[] };
    expect(err.errors.map((e) => e.source.pointer)).toEqual(['/items/0/version', '/items/1/attributes/0/value']);
    expect(err.errors[0]?.title).toBe('SG_ERR_DATA_INVALID');
    expect((await status()).cache).toMatchObject({ catalogVersion: 12, catalogItems: 2 });
    expect(await discounts('CAT-bad')).toEqual([0]);

    expect((await putData('catalog', JSON.stringify({ version: 12, full: true, items: [] }), 'application/json', admin)).status).toBe(409);
    expect((await putData('catalog', JSON.stringify({ version: 13, full: true, items: [] }), 'application/json')).status).toBe(401);
    const plain = await putData('catalog', JSON.stringify({ version: 13, full: true, items: [catalogItem('ACME-1', 'Acme'), catalogItem('OTHER-1', 'Acme')] }), 'application/json', admin);
    expect(plain.status).toBe(200);
    expect(await discounts('CAT-plain')).toEqual([0, 1]);
  });

  it('is kept across a restart (snapshot in the data dir)', async () => {
    await gw.stop();
    gw = await startGateway({ mode: 'offline', mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } }, trust: { publicKeys: [head.publicPem] }, dataFiles: { rules: rulesFile } }, { dir });
    expect((await status()).cache).toMatchObject({ catalogVersion: 13, catalogItems: 2 });
    expect(await discounts('CAT-restart')).toEqual([0, 1]);
  });

  it('dataFiles.catalog is read at start (the sample catalog of the checkout)', async () => {
    const other = await startGateway({ mode: 'offline', dataFiles: { catalog: path.join(APP_DIR, 'config', 'sample-catalog.json') } });
    try {
      const s = (await (await fetch(`${other.url}/status`, { headers: admin })).json()) as { cache: Record<string, unknown> };
      expect(s.cache).toMatchObject({ catalogVersion: 1, catalogItems: 5 });
    } finally {
      await other.stop();
    }
  });
});
