import type { Effect, ProfileInput } from '../engine/index.js';
import type { LocalSession } from './local-sessions.js';

/**
 * Talon.One's answer shapes (Integration API models, e.g. `IntegrationStateV2`), built from local state, so a
 * terminal cannot tell a local answer from an upstream one except by `X-Storegate-Source`. Numeric ids that
 * only Talon.One assigns (session `id`, `applicationId`, event ids) are 0 in local answers.
 */

/** Sums in integer minor units so a 20-line cart never shows 59.699999999999996. */
function total(items: LocalSession['cartItems'], returned: Record<number, number> = {}): number {
  let cents = 0;
  items.forEach((it, i) => {
    const qty = it.quantity - (returned[i] ?? 0);
    cents += Math.round((it.price ?? 0) * 100) * qty;
  });
  return cents / 100;
}

function costs(c: LocalSession['additionalCosts']): number {
  let cents = 0;
  for (const v of Object.values(c)) cents += Math.round(v.price * 100);
  return cents / 100;
}

export function customerSessionJson(s: LocalSession): Record<string, unknown> {
  const cartItemTotal = total(s.cartItems, s.returned);
  const additionalCostTotal = costs(s.additionalCosts);
  const out: Record<string, unknown> = {
    id: 0,
    integrationId: s.integrationId,
    created: s.created,
    applicationId: 0,
    profileId: s.profileId,
    storeIntegrationId: s.storeIntegrationId,
    couponCodes: s.couponCodes,
    loyaltyCards: s.loyaltyCards,
    state: s.state,
    cartItems: s.cartItems.map((it, position) => ({
      ...it,
      position,
      returnedQuantity: s.returned[position] ?? 0,
      remainingQuantity: it.quantity - (s.returned[position] ?? 0),
    })),
    additionalCosts: s.additionalCosts,
    identifiers: s.identifiers,
    attributes: s.attributes,
    firstSession: s.profileId === '',
    updateCount: s.updateCount,
    total: Math.round((cartItemTotal + additionalCostTotal) * 100) / 100,
    cartItemTotal,
    additionalCostTotal,
    cartItemAdditionalCostTotal: 0,
    updated: s.updated,
  };
  if (s.referralCode !== undefined) out.referralCode = s.referralCode;
  return out;
}

export function customerProfileJson(p: ProfileInput | undefined, id: string, now: number): Record<string, unknown> {
  const at = new Date(now).toISOString();
  return {
    id: 0,
    created: at,
    integrationId: id,
    attributes: p?.attributes ?? {},
    accountId: 0,
    closedSessions: 0,
    totalSales: 0,
    loyaltyMemberships: null,
    audienceMemberships: p?.audienceMemberships ?? [],
    lastActivity: at,
  };
}

/** `IntegrationStateV2`: `effects`, `createdCoupons` and `createdReferrals` always; the rest on request. */
export function integrationState(
  effects: readonly Effect[],
  parts: { responseContent?: readonly string[]; session?: LocalSession; profile?: Record<string, unknown>; loyalty?: Record<string, unknown>; ruleFailureReasons?: readonly unknown[]; extra?: Record<string, unknown> },
): Record<string, unknown> {
  const want = new Set(parts.responseContent ?? []);
  const out: Record<string, unknown> = { effects, createdCoupons: [], createdReferrals: [] };
  if (parts.session && want.has('customerSession')) out.customerSession = customerSessionJson(parts.session);
  if (parts.profile && want.has('customerProfile')) out.customerProfile = parts.profile;
  if (parts.loyalty && want.has('loyalty')) out.loyalty = parts.loyalty;
  if (want.has('triggeredCampaigns')) out.triggeredCampaigns = [];
  if (want.has('coupons')) out.coupons = [];
  // Talon.One's `RuleFailureReason`s, from an explained evaluation (src/engine/explain.ts).
  if (want.has('ruleFailureReasons')) out.ruleFailureReasons = parts.ruleFailureReasons ?? [];
  return { ...out, ...parts.extra };
}

/** Rollback effects for what a return or a reopen takes back (Talon.One Integration API, `rollbackDiscount` etc.). */
export function rollbackEffects(effects: readonly Effect[], positions?: ReadonlySet<number>): Effect[] {
  const out: Effect[] = [];
  for (const e of effects) {
    if (e.effectType === 'setDiscountPerItem') {
      const pos = e.props.position as number | undefined;
      if (positions && (pos === undefined || !positions.has(pos))) continue;
      out.push({ ...e, effectType: 'rollbackDiscount', props: { name: e.props.name, value: e.props.value, cartItemPosition: pos, cartItemSubPosition: e.props.subPosition ?? 0 } });
    } else if (e.effectType === 'setDiscount' && !positions) {
      out.push({ ...e, effectType: 'rollbackDiscount', props: { name: e.props.name, value: e.props.value } });
    } else if (e.effectType === 'acceptCoupon' && !positions) {
      out.push({ ...e, effectType: 'rollbackCoupon', props: { value: e.props.value } });
    }
  }
  return out;
}
