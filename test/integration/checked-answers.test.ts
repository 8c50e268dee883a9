/**
 * Checked answers (README "Checked answers"), through the real HTTP app, a real gateway, the Talon.One emulator
 * spoiling its answers on demand (`corrupt` fault) and a real mosquitto for P/alerts: a sound answer passes
 * untouched; a failing one is logged with its session id, counted in /metrics, shown in /status, alerted on
 * P/alerts and, with `replace`, answered locally (journaled) instead; an effect of a campaign the shop's rules do
 * not know is only counted unless configured to fail.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator, Faults } from '../../scripts/talon-emulator/types.js';
import { STORE_ID, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient } from '../helpers/mqtt-client.js';
import { adminHeaders, metric as metricAt, pushConfig, statusOf } from '../helpers/ops.js';

const UPSTREAM_KEY = 'upstream-api-key-0123456789abcdef';
const P = `storegate/${STORE_ID}`;

/** The shop's rules know the emulator's campaigns 101–104 (what they do offline does not matter here). */
function rules() {
  const note = (id: number) => ({ campaign: { id, name: `C${id}`, state: 'enabled' }, ruleset: { id: id * 10, strikethroughRules: [], promotionRules: [{ id: 'r', title: `R${id}`, blocks: [{ id: 'b', type: 'showNotification', notificationType: 'Info', title: 't', body: 'b' }] }] } });
  return { version: 1, application: { currency: 'EUR', timezone: 'UTC' }, stores: [{ id: 42, integrationId: STORE_ID }], campaigns: [101, 102, 103, 104].map(note) };
}

const cart = [
  { sku: 'SKU-COFFEE', name: 'Coffee', quantity: 2, price: 30, category: 'Drinks' },
  { sku: 'SKU-BREAD', name: 'Bread', quantity: 1, price: 4, category: 'Food' },
];

let emu: Emulator;
let gw: TestGateway;
let broker: Mosquitto;
let watcher: TestClient;

const metric = (name: string) => metricAt(gw.url, name);

async function put(id: string, body: unknown = { customerSession: { profileId: 'P-1', cartItems: cart }, responseContent: ['customerSession'] }) {
  const res = await fetch(`${gw.url}/v2/customer_sessions/${id}`, { method: 'PUT', headers: terminalHeaders(), body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, source: res.headers.get('x-storegate-source'), seq: res.headers.get('x-storegate-journal-seq'), text };
}

async function spoil(f: Faults): Promise<void> {
  await emu.setFaults({ corruptNext: 1, paths: ['/v2/customer_sessions'], ...f });
}

beforeAll(async () => {
  broker = await new Mosquitto().start();
  watcher = await TestClient.connect(broker.url);
  await watcher.subscribe(`${P}/alerts`);
  emu = await startEmulator({ apiKey: UPSTREAM_KEY, port: 0 });
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-checked-'));
  writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(rules()));
  gw = await startGateway(
    {
      mode: 'connected',
      upstream: { baseUrl: emu.url, apiKey: UPSTREAM_KEY, timeoutMs: 3000, retry: { attempts: 2, baseMs: 5, maxMs: 20 }, checkAnswers: { enabled: true } },
      mqtt: { url: broker.url, reconnect: { minMs: 50, spreadMs: 100, maxMs: 200 } },
      dataFiles: { rules: 'rules.json' },
    },
    { dir },
  );
});

afterAll(async () => {
  await gw?.stop();
  await emu?.close();
  await watcher?.close();
  await broker?.stop();
});

beforeEach(async () => {
  await emu.setFaults({});
});

describe('upstream.checkAnswers', () => {
  it('passes a sound answer on as Talon.One sent it, and counts it checked', async () => {
    const before = await metric('storegate_upstream_answers_checked_total{op="updateSession",outcome="ok"}');
    const r = await put('CHK-OK');
    expect(r.status).toBe(200);
    expect(r.source).toBe('upstream');
    expect(JSON.parse(r.text).effects.map((e: { effectType: string }) => e.effectType)).toContain('setDiscountPerItem');
    expect(await metric('storegate_upstream_answers_checked_total{op="updateSession",outcome="ok"}')).toBe(before + 1);
  });

  it('logs, counts, shows and alerts an answer with an unknown effect type, and passes it on (replace is off)', async () => {
    await spoil({ corrupt: 'unknownEffectType' });
    const r = await put('CHK-TYPE');
    expect(r.source).toBe('upstream');
    expect(r.text).toContain('teleportCart');

    const line = gw.logs.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'upstream answer failed its checks' && l.sessionId === 'CHK-TYPE');
    expect(line?.problems[0]).toMatchObject({ rule: 'effectType', path: expect.stringMatching(/^\/effects\/\d+\/effectType$/) });
    expect(line?.terminalId).toBe('T1');
    expect(await metric('storegate_upstream_answers_checked_total{op="updateSession",outcome="failed"}')).toBe(1);
    expect(await metric('storegate_upstream_answer_problems_total{rule="effectType"}')).toBe(1);
    const st = (await statusOf(gw.url)).answerChecks;
    expect(st).toMatchObject({ enabled: true, replace: false, failed: 1, lastFailure: { op: 'updateSession', sessionId: 'CHK-TYPE', replaced: false } });

    const alert = await watcher.next(`${P}/alerts`, (m) => m.json().kind === 'upstreamAnswerInvalid');
    expect(alert.json()).toMatchObject({ kind: 'upstreamAnswerInvalid', sessionId: 'CHK-TYPE', op: 'updateSession', replaced: false, heldBack: 0, store: STORE_ID });
  });

  it('finds a discount above the session total, a per-item discount on a line that does not exist, a broken schema and an answer that is not JSON', async () => {
    const cases: [Faults['corrupt'], string][] = [
      ['discountAboveTotal', 'discount'],
      ['badPosition', 'position'],
      ['missingEffects', 'schema'],
      ['notJson', 'json'],
    ];
    for (const [mode, rule] of cases) {
      await spoil({ corrupt: mode });
      const before = await metric(`storegate_upstream_answer_problems_total{rule="${rule}"}`);
      const r = await put(`CHK-${mode}`);
      expect(r.source, mode).toBe('upstream');
      expect(await metric(`storegate_upstream_answer_problems_total{rule="${rule}"}`), mode).toBeGreaterThan(before);
      const line = gw.logs.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'upstream answer failed its checks' && l.sessionId === `CHK-${mode}`);
      expect(line?.problems.map((p: { rule: string }) => p.rule), mode).toContain(rule);
    }
  });

  it('counts effects of campaigns the shop does not know without failing the answer, unless told to', async () => {
    await spoil({ corrupt: 'unknownCampaign' });
    const r = await put('CHK-NEW');
    expect(r.source).toBe('upstream');
    expect(await metric('storegate_upstream_answers_checked_total{op="updateSession",outcome="unknownCampaign"}')).toBe(1);
    expect((await statusOf(gw.url)).answerChecks.unknownCampaignEffects).toBeGreaterThan(0);

    expect((await pushConfig(gw.url, 20, { upstream: { checkAnswers: { enabled: true, replace: true, unknownCampaigns: 'fail' } } })).status).toBe(200);
    await spoil({ corrupt: 'unknownCampaign' });
    const strict = await put('CHK-NEW2');
    expect(strict.source).toBe('local');
    expect(await metric('storegate_upstream_answers_checked_total{op="updateSession",outcome="replaced"}')).toBe(1);
    expect((await pushConfig(gw.url, 21, { upstream: { checkAnswers: { enabled: true, replace: false, unknownCampaigns: 'count' } } })).status).toBe(200);
  });

  it('with replace: answers locally instead (journaled), and the session stays local until that record is delivered', async () => {
    expect((await pushConfig(gw.url, 30, { upstream: { checkAnswers: { enabled: true, replace: true } } })).status).toBe(200);
    await spoil({ corrupt: 'discountAboveTotal' });
    const r = await put('CHK-REPLACE');
    expect(r.status).toBe(200);
    expect(r.source).toBe('local');
    expect(Number(r.seq)).toBeGreaterThan(0);
    const body = JSON.parse(r.text) as { effects: { effectType: string; props: { value?: number } }[]; customerSession: { cartItems: unknown[] } };
    expect(body.customerSession.cartItems).toHaveLength(2);
    expect(body.effects.every((e) => e.effectType !== 'setDiscount' || (e.props.value ?? 0) <= 64)).toBe(true);
    const st = (await statusOf(gw.url)).answerChecks;
    expect(st.lastFailure).toMatchObject({ sessionId: 'CHK-REPLACE', replaced: true, problems: expect.arrayContaining([expect.objectContaining({ rule: 'discount', path: '/effects/3/props/value' })]) });
    // Its record is not delivered yet: the next update of the session is answered locally too (journal order).
    const next = await put('CHK-REPLACE');
    expect(next.source).toBe('local');
    // The record carries the live call's Idempotency-Key: Talon.One, which executed the call, answers it from its
    // stored (sound) answer, so it is not applied twice.
    const flushed = await fetch(`${gw.url}/admin/journal/flush?wait=30`, { method: 'POST', headers: { authorization: adminHeaders.authorization } });
    expect(flushed.status).toBe(200);
    const sent = emu.requests.filter((q) => q.path === '/v2/customer_sessions/CHK-REPLACE');
    expect(sent.length).toBeGreaterThanOrEqual(2);
    // The live call and its replacing record share one key (Talon.One answers the record from its stored answer);
    // the later update follows under its own.
    expect(sent[0]?.headers['idempotency-key']).toBe(sent[1]?.headers['idempotency-key']);
    expect(emu.getSession('CHK-REPLACE')?.customerSession).toMatchObject({ updateCount: 2 });
  });
});
