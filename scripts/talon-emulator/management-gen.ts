/**
 * A generated chain for tests and the head-office benchmark (`POST /_emulator/management/generate`): N stores,
 * M campaigns (every `storeSpecificEvery`-th linked to one to three stores, the rest to none), coupons spread
 * over the first `couponCampaigns` campaigns linked to no store, and profile balances in one loyalty program.
 * Deterministic (same options, same data), with rules the shop's engine evaluates offline.
 */
import type { ManagementData, MgmtBalance, Obj } from './management.js';

export interface GenerateOptions {
  stores: number;
  campaigns: number;
  coupons: number;
  balances: number;
  /** Every n-th campaign is linked to stores (0 = none is). */
  storeSpecificEvery?: number;
  /** How many campaigns (linked to no store) carry the coupons. */
  couponCampaigns?: number;
}

export const STORE_ID_BASE = 1000;
export const CAMPAIGN_ID_BASE = 10_000;

export function storeIntegrationId(i: number): string {
  return `store-${String(i + 1).padStart(4, '0')}`;
}

/** A RulesetV2 the shop's engine runs offline: a threshold and a fixed discount (with a coupon when `coupon`). */
export function simpleRuleset(campaignId: number, amount: number, threshold: number, coupon = false): Obj {
  const blocks: Obj[] = [];
  if (coupon) blocks.push({ id: `c${campaignId}`, type: 'checkCoupon', redeem: true });
  blocks.push({ id: `t${campaignId}`, type: 'checkAttribute', attribute: '$Session.CartItemTotal', operator: 'greaterThanOrEqual', value: threshold });
  blocks.push({ id: `d${campaignId}`, type: 'awardDiscount', name: `${amount} off (campaign ${campaignId})`, value: amount, partial: false, target: { type: 'cart' } });
  return { promotionRules: [{ id: `r-${campaignId}`, title: `${amount} off over ${threshold}`, blocks }], strikethroughRules: [] };
}

export function generateManagementData(o: GenerateOptions): ManagementData {
  const every = o.storeSpecificEvery ?? 10;
  const stores: Obj[] = [];
  for (let i = 0; i < o.stores; i++) {
    stores.push({ id: STORE_ID_BASE + i, name: `Store ${i + 1}`, integrationId: storeIntegrationId(i), attributes: { region: i % 2 === 0 ? 'north' : 'south' } });
  }
  const ids: number[] = [];
  const linked = new Map<number, number[]>();
  for (let c = 0; c < o.campaigns; c++) {
    const id = CAMPAIGN_ID_BASE + c;
    ids.push(id);
    if (every > 0 && o.stores > 0 && c % every === every - 1) {
      const n = 1 + (c % 3);
      linked.set(id, Array.from({ length: n }, (_, k) => STORE_ID_BASE + ((c * 7 + k * 13) % o.stores)));
    }
  }
  const couponHolders = ids.filter((id) => !linked.has(id)).slice(0, Math.max(0, o.couponCampaigns ?? 50));
  const perCampaign = couponHolders.length > 0 ? Math.ceil(o.coupons / couponHolders.length) : 0;
  let made = 0;
  const campaigns = ids.map((id, c) => {
    const withCoupons = couponHolders.includes(id);
    const coupons: Obj[] = [];
    for (let k = 0; withCoupons && k < perCampaign && made < o.coupons; k++, made++) {
      coupons.push({ id: 5_000_000 + made, value: `C${id}-${String(k).padStart(6, '0')}`, usageLimit: 1, usageCounter: k % 17 === 0 ? 1 : 0, created: '2026-01-01T00:00:00Z', expiryDate: '2030-01-01T00:00:00Z', attributes: {} });
    }
    return {
      campaign: { id, name: `Generated campaign ${id}`, state: 'enabled', startTime: '2026-01-01T00:00:00Z', features: withCoupons ? ['coupons'] : [], linkedStoreIds: linked.get(id) ?? [], created: '2026-01-01T00:00:00Z' },
      ruleset: { id: 20_000 + c, ...simpleRuleset(id, 1 + (c % 5), 1000 + c, withCoupons) },
      coupons,
    };
  });
  const balances: MgmtBalance[] = [];
  for (let b = 0; b < o.balances; b++) balances.push({ programId: 1, profileId: `cust-${String(b).padStart(6, '0')}`, currentBalance: (b * 37) % 5000, pendingBalance: b % 3 === 0 ? 10 : 0 });
  return {
    application: { name: 'Generated chain', currency: 'EUR', timezone: 'Europe/Berlin' },
    stores,
    campaigns,
    cartItemFilters: [],
    loyaltyPrograms: [{ id: 1, name: 'points', title: 'Points', cardBased: false }],
    balances,
    evaluationTree: { id: 1, version: 1, set: { type: 'SET', name: 'Application', operator: 'ALL', evaluationMode: 'stackable', evaluationScope: 'session', groupId: 1, locked: false, elements: ids.map((campaignId) => ({ type: 'CAMPAIGN', campaignId })) } },
  };
}
