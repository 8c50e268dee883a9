/**
 * What head office keeps of Talon.One's Management API objects: the fields the shops' payloads carry (README
 * "Local data"), nothing volatile. A `Campaign` as listed carries counters that change with every redemption
 * (`couponRedemptionCount`, `discountCount`, `lastActivity`…) and a `frontendState` that moves with the clock;
 * kept, they would change the shops' rules payload all day long and re-push it for nothing.
 */
export type Obj = Record<string, unknown>;

/** Campaign fields of the rules payload (README "Local data": `id`, `name`, `state`, times, `linkedStoreIds`, `features`, `limits`) and what rules may read. */
const CAMPAIGN_FIELDS = ['id', 'name', 'description', 'state', 'startTime', 'endTime', 'linkedStoreIds', 'features', 'limits', 'activeRulesetId', 'attributes', 'type', 'tags', 'campaignGroups', 'couponAttributes', 'reevaluateOnReturn'] as const;
/**
 * Kept in the cache but not in what shops get as the campaign: `budgets` (`CampaignBudget{action, limit, counter}`,
 * whose counters move with every sale) and when they were read — head office turns them into each store's share
 * (build.ts), a part of the rules payload of its own.
 */
const VOLATILE = ['budgets', 'budgetsReadAt'] as const;
/** Talon.One `Collection` fields the shops' collections payload carries (src/engine/ingest/collections.ts), besides `payload`. */
const COLLECTION_FIELDS = ['id', 'name', 'description', 'campaignId', 'applicationId', 'modified'] as const;
const STORE_FIELDS = ['id', 'integrationId', 'name', 'attributes'] as const;
/** Talon.One `Coupon` fields the shop's coupons payload reads (src/engine/ingest/coupons.ts). */
const COUPON_FIELDS = ['id', 'value', 'campaignId', 'usageLimit', 'usageCounter', 'startDate', 'expiryDate', 'recipientIntegrationId', 'attributes', 'discountLimit'] as const;
const PROGRAM_FIELDS = ['id', 'name', 'title', 'description', 'cardBased', 'timezone', 'tiers', 'subscribedApplications', 'allowSubledger'] as const;
const APP_FIELDS = ['currency', 'timezone', 'caseSensitivity', 'defaultDiscountScope', 'enableCascadingDiscounts', 'enablePartialDiscounts', 'attributes'] as const;

function pick(o: Obj, keys: readonly string[]): Obj {
  const out: Obj = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

/** Empty values (null, "", [], {}) say nothing a shop reads; left out, a campaign is a third smaller. */
function compact(o: Obj, keep: readonly string[]): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(o)) {
    if (keep.includes(k)) {
      out[k] = v;
      continue;
    }
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return out;
}

/** A `RulesetV2` as shops read it: its rules (and selectors, bundles, parameters when there are any), not its audit fields. */
export const shopRuleset = (r: Obj): Obj => compact(pick(r, ['id', 'campaignId', 'promotionRules', 'strikethroughRules', 'selectors', 'bundles', 'parameters']), ['id', 'promotionRules']);
/** A campaign as shops read it (the kept fields, empty ones left out; those a shop requires always kept). */
export const shopCampaign = (c: Obj): Obj => {
  const out = compact(c, ['id', 'name', 'state']);
  for (const k of VOLATILE) delete out[k];
  return out;
};

/** A campaign as cached: its kept fields, and its budget counters with the time they were read (`readAt`, ms). */
export const trimCampaign = (c: Obj, readAt?: number): Obj => {
  const out = pick(c, CAMPAIGN_FIELDS);
  if (Array.isArray(c['budgets']) && (c['budgets'] as unknown[]).length > 0 && readAt !== undefined) {
    out['budgets'] = c['budgets'];
    out['budgetsReadAt'] = readAt;
  }
  return out;
};
/** A collection as shops read it (its items added as `payload`). */
export const trimCollection = (c: Obj): Obj => pick(c, COLLECTION_FIELDS);
export const trimStore = (s: Obj): Obj => pick(s, STORE_FIELDS);
export const trimCoupon = (k: Obj): Obj => pick(k, COUPON_FIELDS);
export const trimProgram = (p: Obj): Obj => pick(p, PROGRAM_FIELDS);
/** The Application settings a shop evaluates with (README "Local data": `application`). */
export const appSettings = (a: Obj): Obj => pick(a, APP_FIELDS);

/** A campaign the shops should hold: enabled and not over (running, or scheduled to start). */
export function wanted(c: Obj, now: number): boolean {
  if (c['state'] !== 'enabled') return false;
  const end = typeof c['endTime'] === 'string' ? Date.parse(c['endTime']) : Infinity;
  return !(end <= now);
}

export function hasCoupons(c: Obj): boolean {
  return Array.isArray(c['features']) && (c['features'] as unknown[]).includes('coupons');
}

export function linkedStores(c: Obj): number[] {
  return Array.isArray(c['linkedStoreIds']) ? (c['linkedStoreIds'] as unknown[]).filter((x): x is number => typeof x === 'number') : [];
}
