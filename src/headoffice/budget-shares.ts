/**
 * Each store's share of the campaign-wide budgets of the campaigns it holds (README "Head office sync", budget
 * shares; the shop side is src/engine/budgets.ts). Talon.One counts a campaign's budgets centrally
 * (`Campaign.budgets[]`: `CampaignBudget{action, limit, counter}`, listed with the campaign); a shop answering
 * offline cannot ask, so head office gives each store a part of what is left, which the shop never exceeds offline:
 *
 *   share = (limit − counter) × `budgets.offlineShare` × weight(store) / Σ weight(stores holding the campaign)
 *
 * rounded down to the action's unit. A limit whose counter is not in `Campaign.budgets` (or cannot be told apart
 * from another limit of the same action and value) is unknown: no share, so the shop gives nothing of it offline.
 * Only campaign-wide limits (no `entities`) get shares; per-session ones the shop counts itself, and the others make
 * the campaign not offline-capable. `readAt` is the oldest read time of the counters used: a shop forgets its
 * offline spending only once counters read after that spending reached Talon.One come back in a share.
 */
import { OFFLINE_ACTIONS, scaleOf, shareKey } from '../engine/budgets.js';
import { currency } from '../engine/money.js';
import { linkedStores, type Obj } from './shapes.js';

export interface BudgetSplit {
  offlineShare: number;
  storeWeights: Record<string, number>;
}

export interface StoreShares {
  readAt: number;
  shares: { campaignId: number; action: string; period?: string; share: number }[];
}

const weight = (split: BudgetSplit, store: Obj): number => split.storeWeights[String(store['integrationId'])] ?? 1;

/**
 * The shares of `store` for the campaigns it holds, or null when none of them has a campaign-wide budget.
 * `totals` (one map per build, shared by every store's call) keeps each campaign's sum of weights.
 */
export function storeShares(store: Obj, campaigns: readonly Obj[], stores: readonly Obj[], split: BudgetSplit, currencyCode: string | undefined, totals: Map<Obj, number> = new Map()): StoreShares | null {
  const shares: StoreShares['shares'] = [];
  let readAt = Infinity;
  const cur = currency(currencyCode);
  for (const c of campaigns) {
    const limits = Array.isArray(c['limits']) ? (c['limits'] as Obj[]) : [];
    const counters = Array.isArray(c['budgets']) ? (c['budgets'] as Obj[]) : [];
    for (const l of limits) {
      const action = l['action'];
      const limit = l['limit'];
      const entities = Array.isArray(l['entities']) ? (l['entities'] as unknown[]) : [];
      if (typeof action !== 'string' || typeof limit !== 'number' || entities.length > 0) continue;
      const unit = OFFLINE_ACTIONS[action];
      if (unit === undefined) continue;
      const same = counters.filter((b) => b['action'] === action && b['limit'] === limit && typeof b['counter'] === 'number');
      if (same.length === 0) continue; // the counter is unknown: no share (conservative)
      // Two limits of one action and value cannot be told apart: the higher counter (the smaller remainder) counts.
      const counter = Math.max(...same.map((b) => b['counter'] as number));
      let total = totals.get(c);
      if (total === undefined) {
        const linked = new Set(linkedStores(c));
        const holders = linked.size === 0 ? stores : stores.filter((s) => linked.has(s['id'] as number));
        total = holders.reduce((a, s) => a + weight(split, s), 0);
        totals.set(c, total);
      }
      const w = weight(split, store);
      if (total <= 0 || w <= 0) continue;
      const scale = scaleOf(unit, cur);
      const share = Math.floor((Math.max(0, limit - counter) * split.offlineShare * w * scale) / total + 1e-9) / scale;
      const period = typeof l['period'] === 'string' ? l['period'] : undefined;
      shares.push({ campaignId: c['id'] as number, action, ...(period && period !== 'overall' ? { period } : {}), share });
      const at = c['budgetsReadAt'];
      readAt = Math.min(readAt, typeof at === 'number' ? at : 0);
    }
  }
  if (shares.length === 0) return null;
  // Two limits of one action and period: the smaller share holds for both.
  const byKey = new Map<string, StoreShares['shares'][number]>();
  for (const s of shares) {
    const k = shareKey(s.campaignId, s.action, s.period);
    const had = byKey.get(k);
    if (!had || s.share < had.share) byKey.set(k, s);
  }
  return { readAt: Number.isFinite(readAt) ? readAt : 0, shares: [...byKey.values()] };
}
