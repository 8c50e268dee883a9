/**
 * Fallback promotions and "why not?" over MQTT, on a real mosquitto: head office turns the fallback promotions on
 * with a signed config push (acknowledged on P/config/ack, applied at once), and a terminal asking over MQTT 5
 * RPC for `ruleFailureReasons` gets them beside the effects, as over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signPush } from '../../src/trust/index.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { STORE_ID, TERMINAL_TOKENS, startGateway, type TestGateway } from '../helpers/gateway.js';

const head = keyPair();
const P = `storegate/${STORE_ID}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sg-fbmqtt-'));
const rulesFile = path.join(dir, 'rules.json');
writeFileSync(rulesFile, JSON.stringify({
  version: 3, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, stores: [{ id: 42, integrationId: STORE_ID }],
  campaigns: [
    { campaign: { id: 41, name: 'Over 100', state: 'enabled' }, ruleset: { id: 410, promotionRules: [{ title: 'Over 100', blocks: [{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 100 }, { type: 'awardDiscount', name: 'Big', value: 10, target: { type: 'cart' } }] }] } },
    { campaign: { id: 42, name: 'Referrals', state: 'enabled' }, ruleset: { id: 420, promotionRules: [{ title: 'Referral', blocks: [{ type: 'checkReferral' }, { type: 'awardDiscount', name: 'Ref', value: 2, target: { type: 'cart' } }] }] } },
  ],
}));
const standIn = { campaign: { id: 9042, name: 'Referral stand-in' }, replaces: [42], ruleset: { id: 1, promotionRules: [{ title: 'Stand-in 2 EUR', blocks: [{ type: 'awardDiscount', name: 'Stand-in', value: 2, target: { type: 'cart' } }] }] } };

let broker: Mosquitto;
let office: TestClient;
let pos: TestClient;
let gw: TestGateway;
let n = 0;

async function rpcSession(id: string): Promise<{ status: number; body: { effects: { campaignId: number; ruleName: string }[]; ruleFailureReasons?: { campaignID: number; details: string }[] } }> {
  const correlation = Buffer.from(`c-${++n}`);
  const req = { terminalToken: TERMINAL_TOKENS.T1, customerSessionId: id, body: { customerSession: { cartItems: [{ sku: 'A', quantity: 1, price: 30 }] }, responseContent: ['ruleFailureReasons'] } };
  await pos.publish(`${P}/rpc/updateCustomerSession`, JSON.stringify(req), { responseTopic: 'pos/T1/replies', correlationData: correlation });
  const r = await pos.next('pos/T1/replies', (m) => m.correlationData?.equals(correlation) === true);
  return r.json();
}

beforeAll(async () => {
  broker = await new Mosquitto().start();
  office = await TestClient.connect(broker.url, 'head-office');
  await office.subscribe(`${P}/config/ack`);
  await office.subscribe(`${P}/status`);
  pos = await TestClient.connect(broker.url, 'pos-T1');
  await pos.subscribe('pos/T1/replies');
  gw = await startGateway({ mode: 'offline', mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 200, maxMs: 500 } }, trust: { publicKeys: [head.publicPem] }, dataFiles: { rules: rulesFile } }, { dir });
  await office.next(`${P}/status`, (r) => r.json().online === true);
});

afterAll(async () => {
  await gw?.stop();
  await pos?.close();
  await office?.close();
  await broker?.stop();
});

describe('over MQTT', () => {
  it('RPC with ruleFailureReasons: the reasons beside the effects; a signed config push turns a stand-in on at once', async () => {
    const before = await rpcSession('M-1');
    expect(before.status).toBe(200);
    expect(before.body.effects).toEqual([]);
    expect(before.body.ruleFailureReasons?.map((r) => [r.campaignID, r.details])).toEqual([
      [41, '$Session.Total is 30, not greaterThan 100'],
      [42, 'not evaluated offline: it cannot be evaluated in the shop: block checkReferral is not supported offline'],
    ]);

    const jws = await signPush({ kind: 'config', version: 7, storeIntegrationId: STORE_ID, config: { offline: { fallback: { rules: { campaigns: [standIn] } } } } } as never, head.privatePem);
    await office.publish(`${P}/config/set`, jws, { retain: true });
    const ack = await office.next(`${P}/config/ack`, (r) => r.json().version === 7);
    expect(ack.json()).toMatchObject({ version: 7, ok: true });
    expect(ack.json().restartRequired).toBeUndefined();

    const after = await rpcSession('M-2');
    expect(after.body.effects.map((e) => [e.campaignId, e.ruleName])).toEqual([[9042, '[fallback] Stand-in 2 EUR']]);
  });
});
