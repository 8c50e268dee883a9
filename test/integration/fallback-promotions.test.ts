/**
 * Fallback promotions through the real gateway: configured in `offline.fallback` (inline, or a file), refused at
 * load with their JSON paths when broken, given offline when the rules data is empty, too old, or a campaign of
 * this store cannot be evaluated in the shop; marked `[fallback]` in the effects, in /status, and in the
 * reconciliation report once Talon.One has answered the session. A pushed config turns them on at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { systemClock } from '../../src/platform/clock.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { until } from '../helpers/until.js';
import { ADMIN_TOKEN, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

const KEY = 'fallback-promotions-key-0123456789';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const everyday = { campaign: { id: 9001, name: 'Everyday 5%' }, ruleset: { id: 1, promotionRules: [{ title: 'Everyday 5%', blocks: [{ type: 'awardDiscount', name: 'Everyday 5%', value: '{{$Session.CartItemTotal * 0.05}}', target: { type: 'cart' } }] }] } };
const members = { campaign: { id: 9002, name: 'Members 3 EUR' }, replaces: [602], ruleset: { id: 2, promotionRules: [{ title: 'Members 3 EUR', blocks: [{ type: 'awardDiscount', name: 'Members 3 EUR', value: 3, target: { type: 'cart' } }] }] } };
const fallback = { maxRulesAgeSec: 3600, rules: { campaigns: [everyday, members] } };
/** 601: 10% over 50 (offline-capable). 602: a referral campaign (not offline-capable here), replaced by 9002. */
const rules = (version: number) => ({
  version, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, stores: [{ id: 42, integrationId: 'store-042' }],
  campaigns: [
    { campaign: { id: 601, name: '10% over 50', state: 'enabled' }, ruleset: { id: 6010, promotionRules: [{ title: '10% over 50', blocks: [{ type: 'checkAttribute', attribute: '$Session.Total', operator: 'greaterThan', value: 50 }, { type: 'awardDiscount', name: '10%', value: '{{$Session.Total * 0.1}}', target: { type: 'cart' } }] }] } },
    { campaign: { id: 602, name: 'Referral members', state: 'enabled' }, ruleset: { id: 6020, promotionRules: [{ title: 'Referral', blocks: [{ type: 'checkReferral' }, { type: 'awardDiscount', name: 'Referral', value: 3, target: { type: 'cart' } }] }] } },
  ],
});

let emu: Emulator;
let gw: TestGateway;
/** The gateway's clock runs `ahead` ms in front of the wall clock (to age the rules without waiting). */
let ahead = 0;
const clock = { ...systemClock, now: () => Date.now() + ahead };

type Fx = { campaignId: number; ruleName: string; effectType: string; props: { value: number } };
async function sale(id: string, close = false): Promise<Fx[]> {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, {
    method: 'PUT', headers: terminalHeaders(),
    body: JSON.stringify({ customerSession: { profileId: 'cust-1', cartItems: [{ sku: 'A', quantity: 1, price: 100 }], ...(close ? { state: 'closed' } : {}) } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { effects: Fx[] }).effects;
}
const given = (fx: Fx[]) => fx.filter((e) => e.effectType === 'setDiscount').map((e) => [e.campaignId, e.ruleName, e.props.value]);
const status = async () => ((await (await fetch(`${gw.url}/status`, { headers: admin })).json()) as { cache: { fallback: unknown } }).cache;

beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
  await emu.setFaults({ refuse: true });
  gw = await startGateway({ mode: 'offline', upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 500 }, offline: { fallback } }, { probeIntervalMs: 50, clock });
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
});

describe('fallback promotions', () => {
  it('no rules data: the fallback set is given, marked in the rule name and in /status', async () => {
    expect(given(await sale('FB-1'))).toEqual([[9001, '[fallback] Everyday 5%', 5], [9002, '[fallback] Members 3 EUR', 3]]);
    expect(await status()).toMatchObject({ fallback: { campaigns: 2, maxRulesAgeSec: 3600, instead: 'rulesEmpty', standsIn: [] } });
  });

  it('rules pushed: the rules, and the stand-in for the campaign this shop cannot evaluate', async () => {
    expect((await fetch(`${gw.url}/admin/data/rules`, { method: 'PUT', headers: admin, body: JSON.stringify(rules(1)) })).status).toBe(200);
    expect(given(await sale('FB-2'))).toEqual([[601, '10% over 50', 10], [9002, '[fallback] Members 3 EUR', 3]]);
    expect(await status()).toMatchObject({ fallback: { instead: null, standsIn: [9002] } });
  });

  it('rules older than maxRulesAgeSec: the fallback set instead of them, until fresh rules come', async () => {
    ahead = 3_601_000;
    expect(given(await sale('FB-3'))).toEqual([[9001, '[fallback] Everyday 5%', 5], [9002, '[fallback] Members 3 EUR', 3]]);
    expect(await status()).toMatchObject({ fallback: { instead: 'rulesStale' } });
    expect((await fetch(`${gw.url}/admin/data/rules`, { method: 'PUT', headers: admin, body: JSON.stringify(rules(2)) })).status).toBe(200);
    expect(given(await sale('FB-4'))).toEqual([[601, '10% over 50', 10], [9002, '[fallback] Members 3 EUR', 3]]);
  });

  it('reconciliation: once Talon.One answered the session, a fallbackApplied entry shows both sides', async () => {
    await sale('FB-REC', true);
    await emu.setFaults({});
    expect((await fetch(`${gw.url}/admin/journal/flush?wait=30`, { method: 'POST', headers: { authorization: admin.authorization } })).status).toBe(200);
    await until(async () => ((await (await fetch(`${gw.url}/admin/journal/stats`, { headers: admin })).json()) as { depth: number }).depth === 0, 20_000);
    const rec = (await (await fetch(`${gw.url}/admin/reconciliation`, { headers: admin })).json()) as { kind: string; sessionId: string; reason: string; localEffects: Fx[]; upstreamEffects: unknown[] }[];
    const entry = rec.find((e) => e.kind === 'fallbackApplied' && e.sessionId === 'FB-REC');
    expect(entry).toMatchObject({ reason: 'notOfflineCapable', upstreamEffects: expect.any(Array) });
    expect(entry?.localEffects.map((e) => e.ruleName)).toEqual(['[fallback] Members 3 EUR']);
    expect(rec.filter((e) => e.kind === 'fallbackApplied').map((e) => e.sessionId).sort()).toEqual(['FB-1', 'FB-2', 'FB-3', 'FB-4', 'FB-REC']);
    expect(rec.find((e) => e.sessionId === 'FB-3')?.reason).toBe('rulesStale');
    await emu.setFaults({ refuse: true });
  });

  it('a pushed config changes them at once; a broken one is refused with its JSON path and changes nothing', async () => {
    const bad = await fetch(`${gw.url}/admin/config`, { method: 'PUT', headers: admin, body: JSON.stringify({ version: 2, config: { offline: { fallback: { rules: { campaigns: [{ campaign: { id: 1, name: 'x' }, ruleset: { id: 1, promotionRules: [{ title: 't', blocks: [{ type: 'checkReferral' }] }] } }] } } } } }) });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('/offline/fallback/rules/campaigns/0/ruleset');
    expect(given(await sale('FB-5'))).toEqual([[601, '10% over 50', 10], [9002, '[fallback] Members 3 EUR', 3]]);
    const off = await fetch(`${gw.url}/admin/config`, { method: 'PUT', headers: admin, body: JSON.stringify({ version: 3, config: { offline: { fallback: { rules: null } } } }) });
    expect(off.status).toBe(200);
    expect(await off.json()).toMatchObject({ ok: true });
    expect(given(await sale('FB-6'))).toEqual([[601, '10% over 50', 10]]);
    expect((await status()).fallback).toBeNull();
  });
});

describe('offline.fallback in the config file', () => {
  it('rulesFile is read relative to the config file; a broken set stops the load with JSON paths', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-fb-cfg-'));
    writeFileSync(path.join(dir, 'fallback.json'), JSON.stringify({ campaigns: [everyday] }));
    writeFileSync(path.join(dir, 'ok.json'), JSON.stringify({ offline: { fallback: { rulesFile: 'fallback.json' } } }));
    const ok = await loadConfig({ configPath: path.join(dir, 'ok.json'), env: {} });
    expect(ok.config.offline.fallback.rulesFile).toBe(path.join(dir, 'fallback.json'));
    writeFileSync(path.join(dir, 'fallback.json'), JSON.stringify({ campaigns: [{ ...everyday, replaces: [] }] }));
    writeFileSync(path.join(dir, 'both.json'), JSON.stringify({ offline: { fallback: { rulesFile: 'fallback.json', rules: { campaigns: [] } } } }));
    writeFileSync(path.join(dir, 'missing.json'), JSON.stringify({ offline: { fallback: { rulesFile: 'nope.json' } } }));
    const problems = async (f: string) => {
      try {
        await loadConfig({ configPath: path.join(dir, f), env: {} });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).details.map((d) => d.path);
      }
      throw new Error(`${f} loaded`);
    };
    expect(await problems('ok.json')).toEqual([`/offline/fallback/rulesFile (${path.join(dir, 'fallback.json')})/campaigns/0/replaces`]);
    expect(await problems('both.json')).toEqual(['/offline/fallback']);
    expect(await problems('missing.json')).toEqual(['/offline/fallback/rulesFile']);
  });
});
