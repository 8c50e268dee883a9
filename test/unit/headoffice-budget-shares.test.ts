/**
 * Each store's share of a campaign-wide budget (src/headoffice/budget-shares.ts): what is left of the limit
 * (`Campaign.limits[]` `LimitConfig`) by its counter (`Campaign.budgets[]` `CampaignBudget{action, limit, counter}`,
 * Talon.One's Management API), times `budgets.offlineShare`, split among the stores holding the campaign by
 * `budgets.storeWeights`, rounded down to the action's unit; no share when the counter is unknown. Then what the
 * stores get: the rules push carries the share and the shop's own validation accepts it, the same counters read
 * again later push nothing, and the Application's collections go to every shop in one push the shop accepts (a
 * collection past what a shop takes in one push is left out and listed, not refused by every shop). Data sets are
 * checked with the shop's own list caps (a loyalty export of 250,000 balances is pushed).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseCollections } from '../../src/engine/ingest/collections.js';
import { parseRules } from '../../src/engine/ingest/rules.js';
import { storeShares, type BudgetSplit } from '../../src/headoffice/budget-shares.js';
import { Builder } from '../../src/headoffice/build.js';
import { PullCache } from '../../src/headoffice/cache.js';
import type { ManagementClient } from '../../src/headoffice/mgmt-client.js';
import { Publisher } from '../../src/headoffice/publish.js';
import { Puller } from '../../src/headoffice/pull.js';
import type { Obj } from '../../src/headoffice/shapes.js';
import { Streams } from '../../src/headoffice/streams.js';
import type { FleetBroker } from '../../src/mqtt/fleet-client.js';
import { ManualClock } from '../../src/platform/clock.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { ed25519PrivateKey, loadTrustedKeys, verifyPush } from '../../src/trust/index.js';
import { keyPair } from '../helpers/signing.js';

const STORES: Obj[] = [{ id: 1, integrationId: 'S1' }, { id: 2, integrationId: 'S2' }, { id: 3, integrationId: 'S3' }];
const EVEN: BudgetSplit = { offlineShare: 1, storeWeights: {} };
const READ_AT = 1_780_000_000_000;

/** A campaign with one campaign-wide limit and, when `counter` is given, Talon.One's counter of it. */
function campaign(o: { id?: number; action?: string; limit: number; counter?: number; linked?: number[]; entities?: string[]; period?: string; readAt?: number }): Obj {
  const action = o.action ?? 'setDiscount';
  return {
    id: o.id ?? 7,
    limits: [{ action, limit: o.limit, entities: o.entities ?? [], ...(o.period ? { period: o.period } : {}) }],
    ...(o.counter !== undefined ? { budgets: [{ action, limit: o.limit, counter: o.counter }], budgetsReadAt: o.readAt ?? READ_AT } : {}),
    ...(o.linked ? { linkedStoreIds: o.linked } : {}),
  };
}

const shareOf = (store: number, campaigns: Obj[], split = EVEN, cur = 'EUR') => storeShares(STORES[store - 1] as Obj, campaigns, STORES, split, cur)?.shares.map((s) => s.share);

describe('a store\'s budget share', () => {
  it('splits what is left of the limit equally among the stores holding the campaign, with the counters\' read time', () => {
    // 100 − 40 = 60 over three stores.
    const c = campaign({ limit: 100, counter: 40 });
    for (const s of [1, 2, 3]) expect(shareOf(s, [c])).toEqual([20]);
    expect(storeShares(STORES[0] as Obj, [c], STORES, EVEN, 'EUR')).toEqual({ readAt: READ_AT, shares: [{ campaignId: 7, action: 'setDiscount', share: 20 }] });
    // Linked to stores 1 and 2 only: store 3 does not hold it, the 60 go to two.
    expect(shareOf(1, [campaign({ limit: 100, counter: 40, linked: [1, 2] })])).toEqual([30]);
    // Spent (or overspent) already: nothing left.
    expect(shareOf(1, [campaign({ limit: 100, counter: 100 })])).toEqual([0]);
    expect(shareOf(1, [campaign({ limit: 100, counter: 130 })])).toEqual([0]);
  });

  it('follows the weights and keeps offlineShare of the remainder back for the live answers', () => {
    const c = campaign({ limit: 100, counter: 40 });
    const split: BudgetSplit = { offlineShare: 1, storeWeights: { S1: 3 } };
    // Weights 3 : 1 : 1 over 60.
    expect(shareOf(1, [c], split)).toEqual([36]);
    expect(shareOf(2, [c], split)).toEqual([12]);
    expect(shareOf(2, [c], { offlineShare: 0.5, storeWeights: { S1: 3 } })).toEqual([6]);
    // A store weighing 0 gets no share at all (so it gives nothing of that budget offline).
    expect(storeShares(STORES[2] as Obj, [c], STORES, { offlineShare: 1, storeWeights: { S3: 0 } }, 'EUR')).toBeNull();
    expect(shareOf(1, [c], { offlineShare: 1, storeWeights: { S3: 0 } })).toEqual([30]);
  });

  it('rounds down to the action\'s unit, so the stores\' shares never add up to more than what is left', () => {
    // 100 EUR over 3: 33.33 each (99.99 in all), not 33.34.
    expect(shareOf(1, [campaign({ limit: 100, counter: 0 })])).toEqual([33.33]);
    // Yen have no minor unit; Kuwaiti dinars three.
    expect(shareOf(1, [campaign({ limit: 100, counter: 0 })], EVEN, 'JPY')).toEqual([33]);
    expect(shareOf(1, [campaign({ limit: 100, counter: 0 })], EVEN, 'KWD')).toEqual([33.333]);
    // Counts are whole: 10 redemptions over 3 stores are 3 each.
    expect(shareOf(1, [campaign({ action: 'redeemCoupon', limit: 10, counter: 0 })])).toEqual([3]);
    // Loyalty points in hundredths.
    expect(shareOf(1, [campaign({ action: 'createLoyaltyPoints', limit: 1000, counter: 0 })])).toEqual([333.33]);
    // A counter with binary noise (59.9 left is 5989.999… cents): still no cent more than left.
    const noisy = campaign({ limit: 100, counter: 40.1 });
    expect(storeShares(STORES[0] as Obj, [noisy], [STORES[0] as Obj], EVEN, 'EUR')?.shares[0]?.share).toBe(59.9);
    for (const n of [7, 11, 13, 500]) {
      const stores = Array.from({ length: n }, (_, i) => ({ id: i + 1, integrationId: `T${i}` }));
      const c = campaign({ limit: 1234.56, counter: 0.01 });
      const total = stores.reduce((a, s) => a + Math.round((storeShares(s, [c], stores, { offlineShare: 0.9, storeWeights: { T0: 2.5 } }, 'EUR')?.shares[0]?.share ?? 0) * 100), 0);
      expect(total).toBeLessThanOrEqual(Math.floor((1234.55 * 0.9) * 100));
    }
  });

  it('gives no share of a budget whose counter Talon.One does not show, nor of limits that are not campaign-wide', () => {
    // No counter: unknown, so nothing (the shop then gives none of it offline).
    expect(storeShares(STORES[0] as Obj, [campaign({ limit: 100 })], STORES, EVEN, 'EUR')).toBeNull();
    // A counter of another limit value is not this limit's.
    const other = { id: 8, limits: [{ action: 'setDiscount', limit: 100, entities: [] }], budgets: [{ action: 'setDiscount', limit: 90, counter: 0 }], budgetsReadAt: READ_AT };
    expect(storeShares(STORES[0] as Obj, [other], STORES, EVEN, 'EUR')).toBeNull();
    // Per session (the shop counts it itself) and per profile (the campaign is not offline-capable): no share.
    expect(storeShares(STORES[0] as Obj, [campaign({ limit: 100, counter: 0, entities: ['Session'] }), campaign({ limit: 100, counter: 0, entities: ['Profile'] })], STORES, EVEN, 'EUR')).toBeNull();
    // An action never performed offline: no share.
    expect(storeShares(STORES[0] as Obj, [campaign({ action: 'createCoupon', limit: 100, counter: 0 })], STORES, EVEN, 'EUR')).toBeNull();
  });

  it('keeps the smaller share when two limits cannot be told apart, names the period, and claims the oldest read time', () => {
    // Two setDiscount limits of 100 (overall and daily) with counters 10 and 70: the higher counter counts for both.
    const twin = {
      id: 9,
      limits: [{ action: 'setDiscount', limit: 100, entities: [] }, { action: 'setDiscount', limit: 100, period: 'daily', entities: [] }],
      budgets: [{ action: 'setDiscount', limit: 100, counter: 10 }, { action: 'setDiscount', limit: 100, counter: 70 }],
      budgetsReadAt: READ_AT,
    };
    expect(storeShares(STORES[0] as Obj, [twin], STORES, EVEN, 'EUR')?.shares).toEqual([
      { campaignId: 9, action: 'setDiscount', share: 10 },
      { campaignId: 9, action: 'setDiscount', period: 'daily', share: 10 },
    ]);
    const old = campaign({ id: 10, limit: 30, counter: 0, readAt: READ_AT - 60_000 });
    expect(storeShares(STORES[0] as Obj, [twin, old], STORES, EVEN, 'EUR')?.readAt).toBe(READ_AT - 60_000);
  });
});

const quiet = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const keys = keyPair();
const trusted = loadTrustedKeys([keys.publicPem]);

class FakeBroker implements FleetBroker {
  connected = true;
  readonly sent: { topic: string; payload: string }[] = [];
  async publish(topic: string, payload: string | Buffer): Promise<void> {
    this.sent.push({ topic, payload: String(payload) });
  }
  onConnect(): void {}
  stats() {
    return { connected: true, since: null, reconnects: 0, broker: 'fake', lastError: null };
  }
}

const ruleset = (id: number) => ({ id: id * 10, promotionRules: [{ title: `r${id}`, blocks: [{ id: 'a', type: 'awardDiscount', name: 'x', value: 1, partial: false, target: { type: 'cart' } }] }], strikethroughRules: [] });

describe('what the stores get', () => {
  it('pushes each store its share with its rules (accepted by the shop), and nothing again when the counters did not move', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-ho-shares-'));
    const cache = await PullCache.open(dir);
    const stores = STORES.slice(0, 2);
    const budgeted = (readAt: number, counter: number) => ({ id: 10, name: 'ten off', state: 'enabled', activeRulesetId: 100, limits: [{ action: 'setDiscount', limit: 100, entities: [] }], budgets: [{ action: 'setDiscount', limit: 100, counter }], budgetsReadAt: readAt });
    await cache.record({ t: 'app', v: { currency: 'EUR', timezone: 'Europe/Berlin' } }, { t: 'stores', v: stores }, { t: 'filters', v: [] }, { t: 'campaigns', v: [budgeted(READ_AT, 40)] });
    await cache.record({ t: 'ruleset', campaignId: 10, rulesetId: 100, v: ruleset(10) }, { t: 'mark', key: 'fullDone', at: 1 });
    const clock = new ManualClock(READ_AT);
    const streams = new Streams(new FileSnapshotStore(dir));
    await streams.start();
    const broker = new FakeBroker();
    const builder = new Builder();
    builder.budgetSplit = { offlineShare: 1, storeWeights: { S1: 2 } };
    const pub = new Publisher({ broker, builder, cache, streams, signingKey: ed25519PrivateKey(keys.privatePem), signThreads: 0, topicPrefix: 'sg', maxMessageBytes: 8 << 20, concurrency: 4, clock, log: quiet, priceItems: () => [] });
    const rules = async () => {
      pub.schedule(['rules']);
      await pub.idle();
      const out = new Map<string, { data: Record<string, unknown>; version: number }>();
      for (const s of broker.sent.splice(0)) {
        const store = s.topic.split('/')[1] as string;
        const p = await verifyPush(s.payload, { keys: trusted, storeIntegrationId: store, kind: 'rules', maxBytes: 1 << 24 });
        out.set(store, { data: p.data as Record<string, unknown>, version: p.version });
      }
      return out;
    };
    const first = await rules();
    // 60 left, 2 : 1.
    expect(first.get('S1')?.data['budgets']).toEqual({ readAt: READ_AT, shares: [{ campaignId: 10, action: 'setDiscount', share: 40 }] });
    expect(first.get('S2')?.data['budgets']).toEqual({ readAt: READ_AT, shares: [{ campaignId: 10, action: 'setDiscount', share: 20 }] });
    // The counters are not part of the campaign the shop gets.
    expect((first.get('S1')?.data['campaigns'] as { campaign: Obj }[])[0]?.campaign['budgets']).toBeUndefined();
    const s1 = first.get('S1');
    expect(() => parseRules({ ...s1?.data, version: s1?.version })).not.toThrow();
    // Read again later, same counters: nothing to push (the shops keep the older readAt: they forget less, not more).
    await cache.record({ t: 'campaigns', v: [budgeted(READ_AT + 900_000, 40)] });
    expect((await rules()).size).toBe(0);
    // The counter moved: new shares, with the new read time.
    await cache.record({ t: 'campaigns', v: [budgeted(READ_AT + 1_800_000, 70)] });
    const moved = await rules();
    expect(moved.get('S2')?.data['budgets']).toEqual({ readAt: READ_AT + 1_800_000, shares: [{ campaignId: 10, action: 'setDiscount', share: 10 }] });
    pub.stop();
  });
});

/** A Management API client answering from a table of collections (paged as Talon.One pages). */
function fakeClient(collections: { app: Obj[]; account: Obj[]; items: Map<number, string[]> }, calls: string[]): ManagementClient {
  const client = {
    async *pages<T>(endpoint: string, p: string, _q: unknown, pageSize: number): AsyncGenerator<{ items: T[]; skip: number; next: number | null }> {
      calls.push(p);
      const all = endpoint.endsWith('/items') ? (collections.items.get(Number(p.split('/')[3])) ?? []).map((item) => ({ item })) : endpoint.startsWith('GET /v1/applications') ? collections.app : collections.account;
      for (let skip = 0; ; skip += pageSize) {
        const items = all.slice(skip, skip + pageSize) as T[];
        const next = skip + pageSize < all.length ? skip + pageSize : null;
        yield { items, skip, next };
        if (next === null) return;
      }
    },
  };
  return client as unknown as ManagementClient;
}

describe('collections pulled', () => {
  it('reads the items only of a collection that is new, whose modified moved or the audit log named, and pushes them to every shop', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-ho-coll-'));
    const cache = await PullCache.open(dir);
    const T = '2026-06-01T00:00:00Z';
    const data = {
      app: [{ id: 31, name: 'VIP', campaignId: 301, applicationId: 1, modified: T }] as Obj[],
      account: [{ id: 22, name: 'Berlin', subscribedApplicationsIds: [1], modified: T }, { id: 23, name: 'Other app', subscribedApplicationsIds: [2], modified: T }] as Obj[],
      items: new Map([[31, ['kim']], [22, Array.from({ length: 5 }, (_, i) => `c${i}`)], [23, ['x']]]),
    };
    const calls: string[] = [];
    const changed: string[] = [];
    const puller = new Puller({ client: fakeClient(data, calls), cache, applicationId: 1, pageSize: 2, clock: new ManualClock(READ_AT), log: quiet, changed: (k) => changed.push(...k) });
    await puller.collections();
    const itemCalls = () => calls.filter((c) => c.endsWith('/items'));
    // Collection 23 is another Application's: not read. Collection 22's five items come in three pages.
    expect(itemCalls()).toEqual(['/v1/collections/31/items', '/v1/collections/22/items']);
    expect(cache.collections.get(22)?.['payload']).toEqual(['c0', 'c1', 'c2', 'c3', 'c4']);
    expect(cache.marks.collectionsDone).toBe(READ_AT);
    expect(changed).toContain('collections');
    calls.length = 0;
    // Nothing moved: the two listings only.
    await puller.collections();
    expect(calls).toEqual(['/v1/applications/1/collections', '/v1/collections']);
    // An import moved 22's `modified`: only 22 again.
    data.items.set(22, ['eve']);
    data.account[0] = { ...data.account[0], modified: '2026-06-02T00:00:00Z' };
    calls.length = 0;
    await puller.collections();
    expect(itemCalls()).toEqual(['/v1/collections/22/items']);
    // The audit log named 31, whose modified did not move: read again all the same.
    data.items.set(31, ['kim', 'lea']);
    calls.length = 0;
    await puller.collections(undefined, new Set([31]));
    expect(itemCalls()).toEqual(['/v1/collections/31/items']);
    expect(cache.collections.get(31)?.['payload']).toEqual(['kim', 'lea']);
    // A collection deleted in Talon.One leaves the cache.
    data.app.length = 0;
    await puller.collections();
    expect([...cache.collections.keys()]).toEqual([22]);

    const streams = new Streams(new FileSnapshotStore(dir));
    await streams.start();
    const broker = new FakeBroker();
    const pub = new Publisher({ broker, builder: new Builder(), cache, streams, signingKey: ed25519PrivateKey(keys.privatePem), signThreads: 0, topicPrefix: 'sg', maxMessageBytes: 8 << 20, concurrency: 4, clock: new ManualClock(READ_AT), log: quiet, priceItems: () => [] });
    pub.schedule(['collections']);
    await pub.idle();
    expect(broker.sent.map((s) => s.topic)).toEqual(['sg/*/collections/set']);
    const p = await verifyPush(broker.sent[0]?.payload as string, { keys: trusted, storeIntegrationId: 'S1', kind: 'collections', maxBytes: 1 << 24 });
    const parsed = parseCollections({ ...(p.data as object), version: p.version });
    expect(parsed.collections).toEqual([{ id: 22, name: 'Berlin', modified: '2026-06-02T00:00:00Z', payload: ['eve'] }]);
    pub.stop();
  });
});

describe('the collections push', () => {
  it('leaves out, and lists, a collection past the items a shop takes in one push, instead of every shop refusing it', async () => {
    const cache = await PullCache.open(mkdtempSync(path.join(tmpdir(), 'sg-ho-big-')));
    const big = (id: number) => ({ id, name: `big ${id}`, modified: '2026-06-01T00:00:00Z', payload: Array.from({ length: 400_000 }, (_, i) => `${id}-${i}`) });
    await cache.record({ t: 'collection', v: big(1) }, { t: 'collection', v: big(2) }, { t: 'collection', v: big(3) }, { t: 'collection', v: { id: 4, name: 'small', modified: '2026-06-01T00:00:00Z', payload: ['a'] } });
    await cache.record({ t: 'mark', key: 'collectionsDone', at: READ_AT });
    const builder = new Builder();
    const [t] = builder.collections(cache);
    // 1,000,000 items at most: collections 1 and 2 (800,000) and the small one go; 3 would make 1,200,001.
    expect(t?.collections).toBe(3);
    expect(builder.problems).toEqual([{ kind: 'collections', what: 'collection 3', error: expect.stringContaining('1000000 items') }]);
    const parsed = parseCollections({ ...(JSON.parse(t?.text() as string) as object), version: 1 });
    expect(parsed.collections.map((c) => c.id)).toEqual([1, 2, 4]);
  });
});

describe("head office checks data with the shop's own list caps", () => {
  it('pushes a loyalty export of 250,000 balances (shops take 1,000,000; the JSON guard alone stops at 200,000)', async () => {
    const cache = await PullCache.open(mkdtempSync(path.join(tmpdir(), 'sg-ho-cap-')));
    const balances = Array.from({ length: 250_000 }, (_, i) => ({ programId: 1, profileId: `p${i}`, activePoints: i % 100 }));
    await cache.record({ t: 'loyalty', v: { readAt: READ_AT, programs: [{ id: 1 }], balances } });
    const builder = new Builder();
    expect(builder.loyalty(cache)).toHaveLength(1);
    expect(builder.problems).toEqual([]);
  });
});
