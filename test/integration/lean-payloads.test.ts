/**
 * Lean payloads (README "Lean payloads"), through the real HTTP app, a real gateway and the Talon.One emulator:
 * with upstream.trimAttributes on, what reaches Talon.One carries only the attributes a campaign of this store
 * reads (from the pushed rules) or config keeps, every cart line in its place; /metrics counts the bytes saved
 * exactly; a campaign the local engine cannot read stops trimming and /status says why; config pushes turn it
 * on and off at once.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { STORE_ID, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { adminHeaders as admin, metric as metricAt, pushConfig, statusOf } from '../helpers/ops.js';

const UPSTREAM_KEY = 'upstream-api-key-0123456789abcdef';
const note = { id: 'n', type: 'showNotification', notificationType: 'Info', title: 't', body: 'b' };

function campaign(id: number, blocks: Record<string, unknown>[], selectors: unknown[] = []) {
  return {
    campaign: { id, name: `C${id}`, state: 'enabled' },
    ruleset: { id: id * 10, strikethroughRules: [], selectors, promotionRules: [{ id: 'r0', title: `R${id}`, blocks: blocks.map((b, i) => ({ id: `b${i}`, ...b })) }] },
  };
}

/** The shop's rules: campaign 101 reads the session's `channel`, 103 the items' `color` (in a selector). */
function rules(version: number, extra: unknown[] = []) {
  return {
    version,
    application: { currency: 'EUR', timezone: 'Europe/Berlin' },
    stores: [{ id: 42, integrationId: STORE_ID }],
    campaigns: [
      campaign(101, [{ type: 'checkAttribute', attribute: '$Session.Attributes.channel', operator: 'equals', value: 'pos' }, note]),
      campaign(103, [{ type: 'checkAttribute', attribute: '$redItems', operator: 'greaterThan', value: 0 }, note], [
        { name: 'redItems', type: 'selector', source: '$Session.CartItems', steps: [
          { type: 'filter', predicate: { id: 'p', type: 'checkAttribute', attribute: '$Item.Attributes.color', operator: 'equals', value: 'red' } },
          { type: 'reduce', operator: 'count' },
        ] },
      ]),
      ...extra,
    ],
  };
}

/** A 50-line cart, 30 attributes per line (the figure); every fourth line is a drink (emulator campaign 103). */
function cart(lines = 50, attrs = 30) {
  return Array.from({ length: lines }, (_, i) => ({
    sku: `SKU-${i}`,
    name: `Item ${i}`,
    quantity: 1 + (i % 3),
    price: 2.5 + i,
    category: i % 4 === 0 ? 'Drinks' : 'Food',
    attributes: Object.fromEntries([
      ['color', i % 2 ? 'red' : 'blue'],
      ['supplier', `S-${i % 7}`],
      ...Array.from({ length: attrs - 2 }, (_, k) => [`attr${k}`, k % 3 === 0 ? k * 1.5 : k % 3 === 1 ? `value ${k} of line ${i} ✓` : k % 2 === 0]),
    ]),
  }));
}

function session(items = cart()) {
  return { customerSession: { profileId: 'P-1', cartItems: items, attributes: { channel: 'pos', loyaltyTier: 'gold', cashierNote: 'x'.repeat(40), shift: 3 } }, responseContent: ['customerSession'] };
}

let emu: Emulator;
let gw: TestGateway;

async function put(id: string, body: unknown, query = '') {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}${query}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify(body) });
  return { status: res.status, source: res.headers.get('x-storegate-source'), json: (await res.json()) as { effects: { effectType: string; props: Record<string, unknown> }[]; customerSession?: unknown } };
}

const metric = (name: string) => metricAt(gw.url, name);
const status = () => statusOf(gw.url);

/** What the emulator received for the session's last update. */
function received(id: string): { customerSession: { cartItems: { sku: string; attributes: Record<string, unknown> }[]; attributes: Record<string, unknown> } } {
  const r = emu.requests.filter((x) => x.path.startsWith(`/v2/customer_sessions/${id}`)).at(-1);
  if (!r) throw new Error(`no request for ${id}`);
  return r.body as never;
}

beforeAll(async () => {
  emu = await startEmulator({ apiKey: UPSTREAM_KEY, port: 0 });
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-lean-'));
  writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(rules(1)));
  gw = await startGateway(
    {
      mode: 'connected',
      upstream: { baseUrl: emu.url, apiKey: UPSTREAM_KEY, timeoutMs: 3000, retry: { attempts: 2, baseMs: 5, maxMs: 20 }, trimAttributes: { enabled: true, keepSession: ['loyaltyTier'], keepCartItem: ['supplier'] } },
      dataFiles: { rules: 'rules.json' },
    },
    { dir },
  );
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

beforeEach(() => emu.clearRequests());

describe('upstream.trimAttributes', () => {
  it('sends only the attributes campaigns read or config keeps, every line in place, and counts the bytes saved', async () => {
    const body = session();
    const savedBefore = await metric('storegate_upstream_trimmed_bytes_total');
    const r = await put('LEAN-1', body);
    expect(r.status).toBe(200);
    expect(r.source).toBe('upstream');

    const got = received('LEAN-1').customerSession;
    expect(got.attributes).toEqual({ channel: 'pos', loyaltyTier: 'gold' });
    expect(got.cartItems.map((i) => i.sku)).toEqual(body.customerSession.cartItems.map((i) => i.sku));
    got.cartItems.forEach((item, i) => {
      const sent = body.customerSession.cartItems[i] as Record<string, unknown>;
      expect(item).toEqual({ ...sent, attributes: { color: (sent.attributes as Record<string, unknown>).color, supplier: (sent.attributes as Record<string, unknown>).supplier } });
    });

    // Exactly the bytes left out: the untrimmed body (with the store id the gateway adds) minus what was sent.
    const whole = structuredClone(body) as { customerSession: Record<string, unknown> };
    whole.customerSession.storeIntegrationId = STORE_ID;
    const saved = Buffer.byteLength(JSON.stringify(whole)) - Buffer.byteLength(JSON.stringify(received('LEAN-1')));
    expect(saved).toBeGreaterThan(25_000); // 50 lines × 28 attributes (~560 bytes a line), some of them non-ASCII
    expect((await metric('storegate_upstream_trimmed_bytes_total')) - savedBefore).toBe(saved);
    expect(await metric('storegate_upstream_trimmed_attributes_total{entity="cartItem"}')).toBeGreaterThanOrEqual(50 * 28);
  });

  it('leaves per-item effects where they were: the same effects as the untrimmed cart sent to Talon.One directly', async () => {
    const body = session();
    const viaGateway = await put('LEAN-2', body, '?dry=true');
    const direct = await fetch(`${emu.url}/v2/customer_sessions/LEAN-2?dry=true`, {
      method: 'PUT',
      headers: { authorization: `ApiKey-v1 ${UPSTREAM_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, customerSession: { ...body.customerSession, storeIntegrationId: STORE_ID } }),
    });
    const perItem = (effects: { effectType: string; props: Record<string, unknown> }[]) => effects.filter((e) => e.effectType === 'setDiscountPerItem').map((e) => [e.props.position, e.props.value]);
    const directEffects = ((await direct.json()) as { effects: { effectType: string; props: Record<string, unknown> }[] }).effects;
    expect(perItem(directEffects)).toHaveLength(13); // lines 0, 4, … 48 are drinks
    expect(perItem(viaGateway.json.effects)).toEqual(perItem(directEffects));
  });

  it('trims nothing while a campaign that is not offline-capable runs, and /status says which one', async () => {
    const unreadable = campaign(150, [{ type: 'checkReferral' }, note]);
    const pushed = await fetch(`${gw.url}/admin/data/rules`, { method: 'PUT', headers: admin, body: JSON.stringify(rules(2, [unreadable])) });
    expect(pushed.status).toBe(200);
    const body = session(cart(5, 30));
    expect((await put('LEAN-3', body)).status).toBe(200);
    expect(received('LEAN-3').customerSession.cartItems[0]?.attributes).toEqual(body.customerSession.cartItems[0]?.attributes);
    expect(received('LEAN-3').customerSession.attributes).toEqual(body.customerSession.attributes);
    const st = (await status()).trimAttributes;
    expect(st.cartItem.trimmed).toBe(false);
    expect(st.cartItem.why.join(' ')).toMatch(/campaign 150 \(C150\) is not offline-capable/);
    expect(st.session.trimmed).toBe(false);

    // Rules without it again: trimming resumes at once.
    expect((await fetch(`${gw.url}/admin/data/rules`, { method: 'PUT', headers: admin, body: JSON.stringify(rules(3)) })).status).toBe(200);
    expect((await put('LEAN-4', body)).status).toBe(200);
    expect(Object.keys(received('LEAN-4').customerSession.cartItems[0]?.attributes ?? {}).sort()).toEqual(['color', 'supplier']);
    const again = (await status()).trimAttributes;
    expect(again.cartItem).toEqual({ trimmed: true, kept: ['color', 'supplier'], why: [] });
    expect(again.session).toEqual({ trimmed: true, kept: ['channel', 'loyaltyTier'], why: [] });
  });

  it('is switched off and on by a config push, effective for the next call', async () => {
    const push = (version: number, enabled: boolean) => pushConfig(gw.url, version, { upstream: { trimAttributes: { enabled } } });
    const off = await push(10, false);
    expect(off.status).toBe(200);
    expect(off.json.restartRequired ?? []).toEqual([]);
    const body = session(cart(3, 30));
    await put('LEAN-5', body);
    expect(received('LEAN-5').customerSession.cartItems[2]?.attributes).toEqual(body.customerSession.cartItems[2]?.attributes);
    expect((await push(11, true)).status).toBe(200);
    await put('LEAN-6', body);
    expect(Object.keys(received('LEAN-6').customerSession.cartItems[2]?.attributes ?? {}).sort()).toEqual(['color', 'supplier']);
  });

  it('trims what the journal delivers too (hybrid: answered locally, forwarded by the flusher)', async () => {
    expect((await pushConfig(gw.url, 12, { mode: 'hybrid' })).status).toBe(200);
    const body = session(cart(4, 30));
    const r = await put('LEAN-7', body);
    expect(r.source).toBe('local');
    // The local answer is computed on the whole cart; what the flusher sends is trimmed.
    const flushed = await fetch(`${gw.url}/admin/journal/flush?wait=30`, { method: 'POST', headers: { authorization: admin.authorization } });
    expect(flushed.status).toBe(200);
    const got = received('LEAN-7').customerSession;
    expect(got.cartItems.map((i) => Object.keys(i.attributes).sort())).toEqual(Array(4).fill(['color', 'supplier']));
    expect(got.attributes).toEqual({ channel: 'pos', loyaltyTier: 'gold' });
    expect((await pushConfig(gw.url, 13, { mode: 'connected' })).status).toBe(200);
  });
});
