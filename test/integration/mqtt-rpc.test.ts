/**
 * Terminals over MQTT 5 request/response (`P/rpc/<method>`): the same authentication, validation, routing and
 * bodies as HTTP; the response topic and correlation data are echoed; a broker redelivery of a QoS 1 request
 * journals nothing twice; a bad token is refused with a correlated 401 and nothing reaches Talon.One.
 * Also `storegate push`, head office's CLI, end to end against the real broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR } from '../../src/config/load.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { STORE_ID, TERMINAL_TOKENS, startGateway, type TestGateway } from '../helpers/gateway.js';

const P = `storegate/${STORE_ID}`;
const KEY = 'rpc-upstream-key-0123456789';
const run = promisify(execFile);
let broker: Mosquitto;
let emu: Emulator;
let gw: TestGateway;
let pos: TestClient;
const head = keyPair();
let n = 0;

async function rpc(method: string, req: unknown, correlation = Buffer.from(`corr-${++n}`)) {
  const reply = `pos/T1/replies`;
  await pos.publish(`${P}/rpc/${method}`, typeof req === 'string' ? req : JSON.stringify(req), { responseTopic: reply, correlationData: correlation });
  const r = await pos.next(reply, (m) => m.correlationData?.equals(correlation) === true);
  pos.received.splice(pos.received.indexOf(r), 1);
  return r.json<{ status: number; headers: Record<string, string>; body: any }>();
}

beforeAll(async () => {
  broker = await new Mosquitto().start();
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  gw = await startGateway({
    mode: 'offline',
    upstream: { baseUrl: emu.url, apiKey: KEY },
    mqtt: { url: broker.url, reconnect: { minMs: 20, spreadMs: 100, maxMs: 300 } },
    trust: { publicKeys: [head.publicPem] },
  });
  pos = await TestClient.connect(broker.url, 'pos-T1');
  await pos.subscribe('pos/T1/replies');
  await pos.subscribe(`${P}/status`);
  await pos.next(`${P}/status`, (r) => r.json().online === true);
});

afterAll(async () => {
  await pos?.close();
  await gw?.stop();
  await emu?.close();
  await broker?.stop();
});

describe('terminal RPC over MQTT', () => {
  it('answers an offline session update like HTTP does, echoing the correlation data', async () => {
    const ans = await rpc('updateCustomerSession', {
      terminalToken: TERMINAL_TOKENS.T1,
      customerSessionId: 'MQ-1',
      body: { customerSession: { cartItems: [{ sku: 'A', name: 'Pan', quantity: 2, price: 30 }] }, responseContent: ['customerSession'] },
    });
    expect(ans.status).toBe(200);
    expect(ans.headers['X-Storegate-Source']).toBe('local');
    expect(Number(ans.headers['X-Storegate-Journal-Seq'])).toBeGreaterThan(0);
    expect(ans.body.customerSession).toMatchObject({ integrationId: 'MQ-1', storeIntegrationId: STORE_ID, state: 'open' });
    // The same session seen over HTTP: one code path, one state.
    const http = await fetch(`${gw.url}/v2/customer_sessions/MQ-1`, {
      method: 'PUT',
      headers: { authorization: `ApiKey-v1 ${TERMINAL_TOKENS.T1}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customerSession: {}, responseContent: ['customerSession'] }),
    });
    expect(((await http.json()) as { customerSession: { cartItems: unknown[] } }).customerSession.cartItems).toHaveLength(1);
  });

  it('does not journal a redelivered request twice (same terminal, same correlation data)', async () => {
    const depth = () => gw.gateway.journal?.stats().lastSeq ?? 0; // records ever appended (the flusher delivers them meanwhile)
    const before = depth();
    const req = { terminalToken: TERMINAL_TOKENS.T1, customerSessionId: 'MQ-2', body: { customerSession: { cartItems: [{ sku: 'B', quantity: 1, price: 4 }] } } };
    const corr = Buffer.from('redelivered-0001');
    const a = await rpc('updateCustomerSession', req, corr);
    const b = await rpc('updateCustomerSession', req, corr);
    expect(b).toEqual(a);
    expect(depth()).toBe(before + 1);
    // Another correlation is another call.
    await rpc('updateCustomerSession', req, Buffer.from('another-0002'));
    expect(depth()).toBe(before + 2);
  });

  it('refuses a bad token with a correlated 401 and sends nothing upstream', async () => {
    emu.clearRequests();
    const ans = await rpc('updateCustomerSession', { terminalToken: 'not-a-terminal-token-00000', customerSessionId: 'MQ-3', body: { customerSession: {} } });
    expect(ans.status).toBe(401);
    expect(ans.headers['X-Storegate-Source']).toBe('gateway');
    expect(ans.body).toMatchObject({ StatusCode: 401 });
    const none = await rpc('trackEvent', { body: { profileId: 'p', type: 'x' } });
    expect(none.status).toBe(401);
    await gw.gateway.flushNow();
    expect(emu.requests.filter((r) => r.path.includes('MQ-3'))).toEqual([]);
  });

  it('validates like HTTP: schema errors, malformed JSON, unknown methods, missing ids — each a clear error', async () => {
    const bad = await rpc('updateCustomerSession', { terminalToken: TERMINAL_TOKENS.T1, customerSessionId: 'MQ-4', body: { customerSession: { cartItems: 'lots' } } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('/customerSession/cartItems');
    expect((await rpc('updateCustomerSession', '{not json')).status).toBe(400);
    const deep = await rpc('updateCustomerSession', `{"terminalToken":"${TERMINAL_TOKENS.T1}","customerSessionId":"MQ-4","body":{"customerSession":{"attributes":${'['.repeat(20_000)}${']'.repeat(20_000)}}}}`);
    expect(deep.status).toBe(400);
    expect(JSON.stringify(deep.body)).toContain('deeper than 64 levels');
    expect((await rpc('deleteEverything', { terminalToken: TERMINAL_TOKENS.T1 })).status).toBe(404);
    const noId = await rpc('updateCustomerSession', { terminalToken: TERMINAL_TOKENS.T1, body: { customerSession: {} } });
    expect(noId.status).toBe(400);
    expect(JSON.stringify(noId.body)).toContain('customerSessionId');
  });

  it('serves reads: inventory of a profile, over RPC', async () => {
    await rpc('updateCustomerProfile', { terminalToken: TERMINAL_TOKENS.T1, integrationId: 'cust-9', body: { attributes: { tier: 'gold' } } });
    const inv = await rpc('getCustomerInventory', { terminalToken: TERMINAL_TOKENS.T1, integrationId: 'cust-9', query: { profile: true } });
    expect(inv.status).toBe(200);
    expect(inv.body.profile).toMatchObject({ integrationId: 'cust-9' });
  });

  it('announces a dead letter on P/alerts', async () => {
    await pos.subscribe(`${P}/alerts`);
    await emu.setFaults({ failNext: 1, errorStatus: 400 });
    const ans = await rpc('updateCustomerSession', { terminalToken: TERMINAL_TOKENS.T1, customerSessionId: 'MQ-DL', body: { customerSession: { cartItems: [] } } });
    expect(ans.status).toBe(200);
    await gw.gateway.flushNow();
    const alert = await pos.next(`${P}/alerts`, (r) => r.json().kind === 'deadLetter');
    expect(alert.json()).toMatchObject({ kind: 'deadLetter', store: STORE_ID, key: 'session:MQ-DL', status: 400, terminalId: 'T1' });
    expect(alert.payload.toString()).not.toContain(TERMINAL_TOKENS.T1);
    await emu.setFaults({});
  });

  it('never publishes an answer over one of the gateway topics', async () => {
    const corr = Buffer.from('hijack');
    await pos.subscribe(`${P}/config/set`);
    await pos.publish(`${P}/rpc/updateCustomerSession`, JSON.stringify({ terminalToken: TERMINAL_TOKENS.T1, customerSessionId: 'MQ-5', body: { customerSession: {} } }), {
      responseTopic: `${P}/config/set`,
      correlationData: corr,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(pos.received.filter((r) => r.topic === `${P}/config/set`)).toEqual([]);
  });
});

describe('storegate push (head office CLI)', () => {
  async function cli(args: string[]) {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(APP_DIR, 'src', 'main.ts'), ...args], { cwd: APP_DIR });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }

  it('signs, publishes retained, prints the ack and exits 0; a refusal exits 1', async () => {
    const keyFile = path.join(gw.dir, 'head.pem');
    writeFileSync(keyFile, head.privatePem, { mode: 0o600 });
    const cfg = path.join(gw.dir, 'push-config.json');
    writeFileSync(cfg, JSON.stringify({ offline: { maxOfflineLoyaltyDeduction: 77 } }));
    const ok = await cli(['push', 'config', cfg, '--key', keyFile, '--mqtt', broker.url, '--store', STORE_ID, '--version', '500', '--timeout', '10']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe(`${STORE_ID} config v500: ok`);
    expect(ok.code).toBe(0);
    expect(gw.gateway.config.version).toBe(500);
    const rollback = await cli(['push', 'config', cfg, '--key', keyFile, '--mqtt', broker.url, '--store', STORE_ID, '--version', '400', '--timeout', '10']);
    expect(rollback.code).toBe(1);
    expect(rollback.stdout).toMatch(/v400: refused SG_ERR_PUSH_STALE/);
    const rules = await cli(['push', 'rules', path.join(APP_DIR, 'config', 'sample-rules.json'), '--key', keyFile, '--mqtt', broker.url, '--store', '*', '--expect', '1', '--timeout', '10']);
    expect(rules.stdout).toMatch(new RegExp(`^${STORE_ID} rules v\\d+: ok`));
    expect(rules.code).toBe(0);
    const nobody = await cli(['push', 'config', cfg, '--key', keyFile, '--mqtt', broker.url, '--store', 'store-without-gateway', '--timeout', '0.5']);
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/no ack/);
  });
});
