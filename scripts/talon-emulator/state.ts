/**
 * In-memory state of the emulated Application: sessions, profiles, coupons, loyalty ledgers and
 * stored idempotent responses. Nothing here knows about HTTP.
 */
import type { CouponRecord, Effect, EmulatorConfig } from './campaigns.js';
import { fromCents } from './campaigns.js';
import type { JsonObject } from './types.js';

export type SessionState = 'open' | 'closed' | 'partially_returned' | 'cancelled';

export interface CartLine {
  /**
   * The item as echoed in responses: as sent (minus read-only fields), then `position`, `returnedQuantity`
   * and `remainingQuantity` (kept up to date by `returnUnits`). Serialised as is; copied for the admin API.
   */
  json: Record<string, unknown>;
  sku: string;
  category: string | undefined;
  priceCents: number;
  quantity: number;
  returnedQuantity: number;
  /** Sum of the item's additionalCosts prices per unit, cents. */
  unitCostCents: number;
}

/** Records `units` more returned units of a cart line. */
export function returnUnits(l: CartLine, units: number): void {
  l.returnedQuantity += units;
  l.json['returnedQuantity'] = l.returnedQuantity;
  l.json['remainingQuantity'] = l.quantity - l.returnedQuantity;
}

export interface Totals { totalCents: number; cartItemTotalCents: number; additionalCostTotalCents: number; cartItemAdditionalCostTotalCents: number }

export interface ReturnRecord {
  id: number; created: string; eventId: number;
  returnedCartItems: { position: number; quantity: number; sku?: string }[];
}

export interface SessionRecord {
  id: number;
  integrationId: string;
  created: string;
  updated: string;
  profileId: string;
  storeIntegrationId: string | undefined;
  couponCodes: string[];
  referralCode: string | undefined;
  loyaltyCards: string[];
  identifiers: string[];
  attributes: Record<string, unknown>;
  additionalCosts: Record<string, unknown>;
  evaluableCampaignIds: number[] | undefined;
  experimentVariantAllocations: unknown[] | undefined;
  state: SessionState;
  cartItems: CartLine[];
  totals: Totals;
  firstSession: boolean;
  updateCount: number;
  /** Effects valid now (after rollbacks). */
  effects: Effect[];
  /** Coupons redeemed when the session closed (released on cancel/reopen). */
  redeemed: CouponRecord[];
  /** Loyalty points credited on close (taken back on cancel/reopen). */
  awarded: { programId: number; value: number }[];
  /** What the session added to its profile's totalSales on close, cents. */
  salesCents: number;
  returns: ReturnRecord[];
}

export interface ProfileRecord {
  id: number;
  integrationId: string;
  created: string;
  attributes: Record<string, unknown>;
  closedSessions: number;
  totalSalesCents: number;
  lastActivity: string;
  sessions: number;
  audiences: Map<number, { audienceId: number; joinedAt: string }>;
}

export interface Balance { activePoints: number; pendingPoints: number; spentPoints: number; expiredPoints: number; negativePoints: number }

/** A stored idempotent answer: the serialised body as sent (one flat string), undefined when empty. */
export interface StoredResponse { status: number; body: string | undefined; at: number }

const DAY_MS = 24 * 60 * 60 * 1000;
// Stored answers are whole response bodies (~5 KB for a 20-line cart): cap memory for long benchmarks. Nothing
// else is kept per key (the answer string is a leaf for the collector).
const MAX_IDEMPOTENCY_KEYS = 50_000;

export class State {
  sessions = new Map<string, SessionRecord>();
  profiles = new Map<string, ProfileRecord>();
  coupons = new Map<string, CouponRecord>();
  balances = new Map<string, Balance>();
  idempotency = new Map<string, StoredResponse>();
  private ids = { session: 0, profile: 0, event: 0, ret: 0 };
  // iso() is called several times per request with the same clock value: format each value once.
  private isoAt = NaN;
  private isoText = '';

  constructor(readonly cfg: EmulatorConfig, readonly now: () => number) {
    this.reset();
  }

  iso(): string {
    const t = this.now();
    if (t !== this.isoAt) {
      this.isoText = new Date(t).toISOString();
      this.isoAt = t;
    }
    return this.isoText;
  }

  reset(): void {
    this.sessions.clear();
    this.profiles.clear();
    this.coupons.clear();
    this.balances.clear();
    this.idempotency.clear();
    this.ids = { session: 0, profile: 0, event: 0, ret: 0 };
    const created = this.iso();
    for (const def of this.cfg.coupons) {
      this.coupons.set(this.couponKey(def.value), { def, usageCounter: 0, created, redemptions: new Map() });
    }
    for (const p of this.cfg.profiles) Object.assign(this.profile(p.integrationId, true)!.attributes, p.attributes);
    for (const b of this.cfg.balances) {
      this.profile(b.profileId, true);
      const { programId, profileId, ...rest } = b;
      this.balances.set(`${programId}|${profileId}`, { ...rest });
    }
  }

  nextSessionId(): number { return ++this.ids.session; }
  nextEventId(): number { return ++this.ids.event; }
  nextReturnId(): number { return ++this.ids.ret; }

  couponKey(code: string): string {
    return this.cfg.couponsCaseInsensitive ? code.toUpperCase() : code;
  }

  coupon(code: string): CouponRecord | undefined {
    return this.coupons.get(this.couponKey(code));
  }

  /** Finds a profile; with `create`, makes it (Talon.One creates profiles implicitly). "" is anonymous. */
  profile(integrationId: string, create: boolean): ProfileRecord | undefined {
    if (integrationId === '') return undefined;
    let p = this.profiles.get(integrationId);
    if (!p && create) {
      const t = this.iso();
      p = {
        id: ++this.ids.profile, integrationId, created: t, attributes: {}, closedSessions: 0,
        totalSalesCents: 0, lastActivity: t, sessions: 0, audiences: new Map(),
      };
      this.profiles.set(integrationId, p);
    }
    return p;
  }

  balance(programId: number, profileId: string, create: boolean): Balance | undefined {
    const k = `${programId}|${profileId}`;
    let b = this.balances.get(k);
    if (!b && create) {
      b = { activePoints: 0, pendingPoints: 0, spentPoints: 0, expiredPoints: 0, negativePoints: 0 };
      this.balances.set(k, b);
    }
    return b;
  }

  /** Applies (sign +1) or takes back (sign -1) what closing a session did to coupons, profile and loyalty. */
  commitClose(s: SessionRecord, sign: 1 | -1): void {
    const p = this.profile(s.profileId, sign === 1);
    if (sign === 1) {
      s.redeemed = [];
      for (const c of new Set(s.effects.filter((e) => e.effectType === 'acceptCoupon').map((e) => String(e.props['value'])))) {
        const rec = this.coupon(c);
        if (!rec) continue;
        rec.usageCounter++;
        rec.redemptions.set(s.profileId, (rec.redemptions.get(s.profileId) ?? 0) + 1);
        s.redeemed.push(rec);
      }
      s.salesCents = s.totals.totalCents;
    } else {
      for (const rec of s.redeemed) {
        rec.usageCounter = Math.max(0, rec.usageCounter - 1);
        const n = (rec.redemptions.get(s.profileId) ?? 1) - 1;
        if (n > 0) rec.redemptions.set(s.profileId, n);
        else rec.redemptions.delete(s.profileId);
      }
      s.redeemed = [];
    }
    for (const a of s.awarded) {
      const b = this.balance(a.programId, s.profileId, true)!;
      b.activePoints = Math.round((b.activePoints + sign * a.value) * 100) / 100;
    }
    if (sign === -1) s.awarded = [];
    if (p) {
      p.closedSessions = Math.max(0, p.closedSessions + sign);
      p.totalSalesCents += sign * s.salesCents;
    }
    if (sign === -1) s.salesCents = 0;
  }

  /** A stored idempotent response, if one exists and is younger than 24 h (emulator time). */
  replay(key: string): StoredResponse | undefined {
    const r = this.idempotency.get(key);
    if (!r) return undefined;
    if (this.now() - r.at >= DAY_MS) {
      this.idempotency.delete(key);
      return undefined;
    }
    return r;
  }

  remember(key: string, status: number, body: string | undefined): void {
    const now = this.now();
    this.idempotency.set(key, { status, body, at: now });
    if (this.idempotency.size > MAX_IDEMPOTENCY_KEYS) {
      // Map iterates in insertion order: drop expired keys, then the oldest tenth if still too many.
      let drop = Math.floor(MAX_IDEMPOTENCY_KEYS / 10);
      for (const [k, v] of this.idempotency) {
        if (now - v.at < DAY_MS && drop <= 0) break;
        this.idempotency.delete(k);
        drop--;
      }
    }
  }
}

/** CustomerProfile JSON (integration.yaml `CustomerProfile`). */
export function profileJson(p: ProfileRecord, accountId: number): JsonObject {
  return {
    id: p.id,
    created: p.created,
    integrationId: p.integrationId,
    attributes: p.attributes as JsonObject,
    accountId,
    closedSessions: p.closedSessions,
    totalSales: fromCents(p.totalSalesCents),
    loyaltyMemberships: null,
    audienceMemberships: [...p.audiences.values()].map((a) => ({ id: a.audienceId, name: `audience-${a.audienceId}` })),
    lastActivity: p.lastActivity,
    sandbox: true,
  };
}

/** `Loyalty` JSON (`{programs: {id: LoyaltyProgramLedgers}}`) for a profile; `tentative` adds open-session points. */
export function loyaltyJson(st: State, profileId: string, tentative: { programId: number; value: number }[] = []): JsonObject {
  const programs: JsonObject = {};
  for (const prog of st.cfg.programs) {
    const b = st.balance(prog.id, profileId, false);
    const current = b?.activePoints ?? 0;
    const extra = tentative.filter((t) => t.programId === prog.id).reduce((a, t) => a + t.value, 0);
    programs[String(prog.id)] = {
      id: prog.id, title: prog.title, name: prog.name,
      ledger: {
        currentBalance: current, pendingBalance: b?.pendingPoints ?? 0, negativeBalance: b?.negativePoints ?? 0,
        expiredBalance: 0, spentBalance: 0, tentativeCurrentBalance: current + extra,
        tentativePendingBalance: b?.pendingPoints ?? 0, tentativeNegativeBalance: b?.negativePoints ?? 0,
      },
    };
  }
  return { programs, cards: [] };
}

/** Coupon JSON (integration.yaml `Coupon`, plus `profileRedemptionCount` for `IntegrationCoupon`/`InventoryCoupon`). */
export function couponJson(rec: CouponRecord, profileId?: string): JsonObject {
  const d = rec.def;
  const j: JsonObject = {
    id: d.id, created: rec.created, campaignId: d.campaignId, value: d.value, usageLimit: d.usageLimit,
    usageCounter: rec.usageCounter, attributes: d.attributes as JsonObject, reservation: true, isReservationMandatory: false,
  };
  if (d.startDate) j['startDate'] = d.startDate;
  if (d.expiryDate) j['expiryDate'] = d.expiryDate;
  if (d.recipientIntegrationId) j['recipientIntegrationId'] = d.recipientIntegrationId;
  if (profileId !== undefined) j['profileRedemptionCount'] = rec.redemptions.get(profileId) ?? 0;
  return j;
}
