import type { CouponLedger, LedgerOp } from './coupon-ledger.js';
import { normalizeCode, type CouponIndex } from './coupons.js';
import type { CompiledCampaign } from './compile-rules.js';
import type { Coupon, Effect, SessionState } from './types.js';

export const MAX_COUPON_CODES = 100;

export interface CouponCandidate {
  code: string;
  coupon: Coupon;
}

/** Talon.One's rejection effect. */
export function rejectCoupon(code: string, reason: string, c: CompiledCampaign | undefined, extra: Record<string, unknown> = {}, couponId?: number): Effect {
  const e: Effect = {
    campaignId: c ? c.id : -1,
    rulesetId: c ? c.rulesetId : -1,
    ruleIndex: c ? 0 : -1,
    ruleName: c ? c.firstRuleName : '',
    effectType: 'rejectCoupon',
    props: { value: code, rejectionReason: reason, ...extra },
  };
  if (couponId !== undefined) e.triggeredByCoupon = couponId;
  return e;
}

/**
 * First pass over the session's codes: unknown, not running, not started, expired, wrong recipient and
 * limit reached (snapshot `usageCounter` + local holds/uses of other sessions ≥ `usageLimit`) are
 * rejected; the first valid code of each campaign becomes its candidate. Codes of campaigns that cannot
 * be evaluated offline get no effect (reported in `skipped`).
 */
export function screenCoupons(args: {
  codes: readonly string[];
  index: CouponIndex;
  caseSensitivity: 'sensitive' | 'insensitive-uppercase' | 'insensitive-lowercase' | undefined;
  campaigns: ReadonlyMap<number, CompiledCampaign>;
  eligible: (c: CompiledCampaign) => boolean;
  now: number;
  profileId: string | undefined;
  sessionId: string;
  ledger: CouponLedger;
  /** False when the campaign's redemption budget has nothing left for this session (budgets.ts). */
  canRedeem?: (campaignId: number) => boolean;
}): { rejected: Effect[]; candidates: Map<number, CouponCandidate>; skipped: Set<number> } {
  const rejected: Effect[] = [];
  const candidates = new Map<number, CouponCandidate>();
  const skipped = new Set<number>();
  const seen = new Set<string>();
  for (const raw of args.codes.slice(0, MAX_COUPON_CODES)) {
    if (typeof raw !== 'string' || raw.length === 0) continue;
    const norm = normalizeCode(raw, args.caseSensitivity);
    if (seen.has(norm)) continue;
    seen.add(norm);
    const coupon = args.index.get(raw, args.caseSensitivity);
    if (!coupon) { rejected.push(rejectCoupon(raw, 'CouponNotFound', undefined)); continue; }
    const c = args.campaigns.get(coupon.campaignId);
    if (!c || !args.eligible(c)) { rejected.push(rejectCoupon(raw, 'CouponPartOfNotRunningCampaign', c, {}, coupon.id)); continue; }
    if (coupon.startDate && Date.parse(coupon.startDate) > args.now) { rejected.push(rejectCoupon(raw, 'CouponStartDateInFuture', c, {}, coupon.id)); continue; }
    if (coupon.expiryDate && Date.parse(coupon.expiryDate) <= args.now) { rejected.push(rejectCoupon(raw, 'CouponExpired', c, {}, coupon.id)); continue; }
    if (coupon.recipientIntegrationId && coupon.recipientIntegrationId !== args.profileId) { rejected.push(rejectCoupon(raw, 'CouponRecipientDoesNotMatch', c, {}, coupon.id)); continue; }
    const limit = coupon.usageLimit ?? 0;
    if (limit > 0 && (coupon.usageCounter ?? 0) + args.ledger.countExcluding(coupon.value, args.sessionId) >= limit) {
      rejected.push(rejectCoupon(raw, 'CouponLimitReached', c, {}, coupon.id));
      continue;
    }
    if (!c.offlineCapable) { skipped.add(c.id); continue; }
    // "CampaignLimitReached: The campaign-wide coupon code redemption limit has been reached."
    if (c.budget !== undefined && args.canRedeem?.(c.id) === false) { rejected.push(rejectCoupon(raw, 'CampaignLimitReached', c, {}, coupon.id)); continue; }
    if (candidates.has(c.id)) { rejected.push(rejectCoupon(raw, 'CouponPartOfNotTriggeredCampaign', c, {}, coupon.id)); continue; }
    candidates.set(c.id, { code: coupon.value, coupon });
  }
  return { rejected, candidates, skipped };
}

/**
 * Ledger ops that bring the ledger in line with this session: `redeemed` are the codes (ledger keys:
 * the coupon's stored value) accepted with redemption.
 */
export function ledgerOps(args: { ledger: CouponLedger; sessionId: string; terminalId: string | undefined; now: number; state: SessionState; redeemed: ReadonlySet<string> }): LedgerOp[] {
  const { ledger, sessionId, now, state, redeemed } = args;
  const ops: LedgerOp[] = [];
  const base = { sessionId, at: now, ...(args.terminalId !== undefined ? { terminalId: args.terminalId } : {}) };
  const held = ledger.heldBy(sessionId);
  const holdOf = (code: string) => ledger.holdOf(code, sessionId);
  if (state === 'partially_returned') return ops;
  if (state === 'cancelled') {
    for (const code of held) ops.push({ op: 'release', code, ...(holdOf(code) ?? base) });
    for (const code of ledger.usedBy(sessionId)) ops.push({ op: 'unredeem', code, ...base });
    return ops;
  }
  for (const code of held) if (!redeemed.has(code)) ops.push({ op: 'release', code, ...(holdOf(code) ?? base) });
  if (state === 'open') {
    for (const code of redeemed) if (!held.includes(code)) ops.push({ op: 'hold', code, ...base });
  } else {
    const used = new Set(ledger.usedBy(sessionId));
    for (const code of redeemed) {
      if (used.has(code)) continue;
      const h = held.includes(code) ? holdOf(code) : undefined;
      ops.push(h ? { op: 'redeem', code, ...base, fromHold: h } : { op: 'redeem', code, ...base });
    }
  }
  return ops;
}
