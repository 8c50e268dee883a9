/**
 * Campaigns: the emulator's own small file format (README.md beside this file) and the evaluation
 * that turns a session into Talon.One effects (the `Effect` envelope and the `…EffectProps` models of
 * https://docs.talon.one/oas/integration.yaml).
 * Money is integer cents throughout; `fromCents` is applied only when building JSON.
 */
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface Effect {
  campaignId: number;
  rulesetId: number;
  ruleIndex: number;
  ruleName: string;
  effectType: string;
  props: Record<string, unknown>;
  triggeredByCoupon?: number;
}

interface CampaignBase {
  id: number;
  rulesetId: number;
  name: string;
  ruleName: string;
  effectName: string;
  storeIntegrationIds?: string[];
  startTime?: number;
  endTime?: number;
}
export type Campaign = CampaignBase &
  (
    | { kind: 'cartPercent'; minTotalCents: number; percent: number }
    | { kind: 'cartAmount'; minTotalCents: number; amountCents: number }
    | { kind: 'coupon' }
    | { kind: 'itemPercent'; percent: number; categories?: string[]; skus?: string[] }
    | { kind: 'loyaltyPoints'; programId: number; pointsPerUnit: number; minTotalCents: number }
  );

export interface CouponDef {
  id: number;
  campaignId: number;
  value: string;
  usageLimit: number;
  amountCents?: number;
  percent?: number;
  startDate?: string;
  expiryDate?: string;
  recipientIntegrationId?: string;
  attributes: Record<string, unknown>;
}

export interface LoyaltyProgram { id: number; name: string; title: string }
export interface SeedBalance {
  programId: number; profileId: string; activePoints: number; pendingPoints: number;
  spentPoints: number; expiredPoints: number; negativePoints: number;
}

export interface EmulatorConfig {
  applicationId: number;
  accountId: number;
  couponsCaseInsensitive: boolean;
  campaigns: Campaign[];
  coupons: CouponDef[];
  programs: LoyaltyProgram[];
  balances: SeedBalance[];
  profiles: { integrationId: string; attributes: Record<string, unknown> }[];
}

export const toCents = (n: number): number => Math.round(n * 100 + (n >= 0 ? 1e-7 : -1e-7));
export const fromCents = (c: number): number => c / 100;
const percentOf = (cents: number, pct: number): number => Math.round((cents * pct) / 100);

// ---------------------------------------------------------------------------------------------
// Loading

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function num(o: Obj, key: string, where: string, dflt?: number): number {
  const v = o[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`campaigns: ${where}.${key} must be a number`);
  return v;
}
function str(o: Obj, key: string, where: string, dflt?: string): string {
  const v = o[key];
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string') throw new Error(`campaigns: ${where}.${key} must be a string`);
  return v;
}
function strList(o: Obj, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new Error(`campaigns: ${where}.${key} must be a list of strings`);
  return v as string[];
}
function time(o: Obj, key: string, where: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new Error(`campaigns: ${where}.${key} must be an RFC 3339 time`);
  return t;
}

function loadCoupon(c: unknown, campaign: Obj, campaignId: number, where: string, value?: string, id?: number): CouponDef {
  if (!isObj(c)) throw new Error(`campaigns: ${where} must be an object`);
  const def: CouponDef = {
    id: id ?? num(c, 'id', where),
    campaignId,
    value: value ?? str(c, 'value', where),
    usageLimit: num(c, 'usageLimit', where, 1),
    attributes: isObj(c['attributes']) ? c['attributes'] : {},
  };
  const amount = c['discountAmount'] ?? campaign['discountAmount'];
  const percent = c['discountPercent'] ?? campaign['discountPercent'];
  if (typeof amount === 'number') def.amountCents = toCents(amount);
  else if (typeof percent === 'number') def.percent = percent;
  else throw new Error(`campaigns: ${where} needs discountAmount or discountPercent (on the coupon or its campaign)`);
  for (const k of ['startDate', 'expiryDate', 'recipientIntegrationId'] as const) {
    if (c[k] !== undefined) {
      if (k !== 'recipientIntegrationId') time(c, k, where);
      def[k] = str(c, k, where);
    }
  }
  return def;
}

/** Validates and normalises a parsed campaigns document. Throws with the offending path. */
export function parseConfig(doc: unknown): EmulatorConfig {
  if (!isObj(doc)) throw new Error('campaigns: the document must be a JSON object');
  const cfg: EmulatorConfig = {
    applicationId: num(doc, 'applicationId', '$', 1),
    accountId: num(doc, 'accountId', '$', 1),
    couponsCaseInsensitive: doc['couponsCaseInsensitive'] === true,
    campaigns: [], coupons: [], programs: [], balances: [], profiles: [],
  };
  const list = doc['campaigns'] ?? [];
  if (!Array.isArray(list)) throw new Error('campaigns: $.campaigns must be a list');
  list.forEach((raw: unknown, i) => {
    const w = `$.campaigns[${i}]`;
    if (!isObj(raw)) throw new Error(`campaigns: ${w} must be an object`);
    const name = str(raw, 'name', w);
    const id = num(raw, 'id', w);
    const base: CampaignBase = {
      id, name, rulesetId: num(raw, 'rulesetId', w, id * 10),
      ruleName: str(raw, 'ruleName', w, name), effectName: str(raw, 'effectName', w, name),
    };
    const stores = strList(raw, 'storeIntegrationIds', w);
    if (stores) base.storeIntegrationIds = stores;
    const st = time(raw, 'startTime', w); if (st !== undefined) base.startTime = st;
    const et = time(raw, 'endTime', w); if (et !== undefined) base.endTime = et;
    const kind = str(raw, 'kind', w);
    const minTotalCents = toCents(num(raw, 'minTotal', w, 0));
    switch (kind) {
      case 'cartPercent': cfg.campaigns.push({ ...base, kind, minTotalCents, percent: num(raw, 'percent', w) }); break;
      case 'cartAmount': cfg.campaigns.push({ ...base, kind, minTotalCents, amountCents: toCents(num(raw, 'amount', w)) }); break;
      case 'itemPercent': {
        const c: Campaign = { ...base, kind, percent: num(raw, 'percent', w) };
        const cats = strList(raw, 'categories', w); if (cats) c.categories = cats;
        const skus = strList(raw, 'skus', w); if (skus) c.skus = skus;
        if (!cats && !skus) throw new Error(`campaigns: ${w} (itemPercent) needs categories or skus`);
        cfg.campaigns.push(c); break;
      }
      case 'loyaltyPoints':
        cfg.campaigns.push({ ...base, kind, minTotalCents, programId: num(raw, 'programId', w), pointsPerUnit: num(raw, 'pointsPerUnit', w, 1) });
        break;
      case 'coupon': {
        cfg.campaigns.push({ ...base, kind });
        const coupons = raw['coupons'] ?? [];
        if (!Array.isArray(coupons)) throw new Error(`campaigns: ${w}.coupons must be a list`);
        coupons.forEach((c: unknown, j) => cfg.coupons.push(loadCoupon(c, raw, id, `${w}.coupons[${j}]`)));
        const batches = raw['batches'] ?? [];
        if (!Array.isArray(batches)) throw new Error(`campaigns: ${w}.batches must be a list`);
        batches.forEach((b: unknown, j) => {
          const bw = `${w}.batches[${j}]`;
          if (!isObj(b)) throw new Error(`campaigns: ${bw} must be an object`);
          const prefix = str(b, 'prefix', bw);
          const count = num(b, 'count', bw);
          const firstId = num(b, 'firstId', bw);
          if (count < 0 || count > 1_000_000) throw new Error(`campaigns: ${bw}.count must be 0..1000000`);
          const width = String(count).length;
          for (let k = 1; k <= count; k++) {
            cfg.coupons.push(loadCoupon(b, raw, id, bw, prefix + String(k).padStart(width, '0'), firstId + k - 1));
          }
        });
        break;
      }
      default:
        throw new Error(`campaigns: ${w}.kind must be one of cartPercent, cartAmount, coupon, itemPercent, loyaltyPoints`);
    }
  });
  const seen = new Set<string>();
  for (const c of cfg.coupons) {
    const k = cfg.couponsCaseInsensitive ? c.value.toUpperCase() : c.value;
    if (seen.has(k)) throw new Error(`campaigns: duplicate coupon code ${c.value}`);
    seen.add(k);
  }
  for (const [i, p] of (Array.isArray(doc['loyaltyPrograms']) ? doc['loyaltyPrograms'] : []).entries()) {
    const w = `$.loyaltyPrograms[${i}]`;
    if (!isObj(p)) throw new Error(`campaigns: ${w} must be an object`);
    const name = str(p, 'name', w);
    cfg.programs.push({ id: num(p, 'id', w), name, title: str(p, 'title', w, name) });
  }
  for (const [i, b] of (Array.isArray(doc['loyaltyBalances']) ? doc['loyaltyBalances'] : []).entries()) {
    const w = `$.loyaltyBalances[${i}]`;
    if (!isObj(b)) throw new Error(`campaigns: ${w} must be an object`);
    cfg.balances.push({
      programId: num(b, 'programId', w), profileId: str(b, 'profileId', w),
      activePoints: num(b, 'activePoints', w, 0), pendingPoints: num(b, 'pendingPoints', w, 0),
      spentPoints: num(b, 'spentPoints', w, 0), expiredPoints: num(b, 'expiredPoints', w, 0),
      negativePoints: num(b, 'negativePoints', w, 0),
    });
  }
  for (const [i, p] of (Array.isArray(doc['profiles']) ? doc['profiles'] : []).entries()) {
    const w = `$.profiles[${i}]`;
    if (!isObj(p)) throw new Error(`campaigns: ${w} must be an object`);
    cfg.profiles.push({ integrationId: str(p, 'integrationId', w), attributes: isObj(p['attributes']) ? p['attributes'] : {} });
  }
  return cfg;
}

export function loadConfigFile(file: string): EmulatorConfig {
  return parseConfig(JSON.parse(readFileSync(file, 'utf8')) as unknown);
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/** A cart line as evaluated; its position is its index in `EvalInput.items`. */
export interface EvalItem { sku: string; category: string | undefined; priceCents: number; quantity: number }
export interface EvalInput {
  items: readonly EvalItem[];
  totalCents: number;
  couponCodes: string[];
  profileId: string;
  storeIntegrationId: string | undefined;
  now: number;
  /** Session integration id; seeds stable ids (e.g. loyalty transactionUUID) so equal requests give equal effects. */
  sessionId: string;
}
/** A coupon and its live counters, owned by the state. */
export interface CouponRecord { def: CouponDef; usageCounter: number; created: string; redemptions: Map<string, number> }
export interface EvalResult {
  effects: Effect[];
  /** Coupons accepted by this evaluation (redeemed if the session closes with them). */
  accepted: CouponRecord[];
  points: { programId: number; value: number }[];
  triggered: number[];
}

const uuids = new Map<string, string>();
const MAX_UUIDS = 100_000;

/** A UUID-shaped id derived from `seed` (deterministic, so replays and comparisons see the same value; memoised). */
function stableUuid(seed: string): string {
  let u = uuids.get(seed);
  if (u === undefined) {
    const h = hash('sha1', seed, 'hex');
    u = `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
    if (uuids.size >= MAX_UUIDS) uuids.clear();
    uuids.set(seed, u);
  }
  return u;
}

function running(c: Campaign, input: EvalInput): boolean {
  if (c.startTime !== undefined && input.now < c.startTime) return false;
  if (c.endTime !== undefined && input.now >= c.endTime) return false;
  if (c.storeIntegrationIds && !(input.storeIntegrationId && c.storeIntegrationIds.includes(input.storeIntegrationId))) return false;
  return true;
}

function envelope(c: Campaign, effectType: string, props: Record<string, unknown>, coupon?: number): Effect {
  const e: Effect = { campaignId: c.id, rulesetId: c.rulesetId, ruleIndex: 0, ruleName: c.ruleName, effectType, props };
  if (coupon !== undefined) e.triggeredByCoupon = coupon;
  return e;
}

function rejectReason(rec: CouponRecord, input: EvalInput): string | undefined {
  const d = rec.def;
  if (d.startDate && input.now < Date.parse(d.startDate)) return 'CouponStartDateInFuture';
  if (d.expiryDate && input.now >= Date.parse(d.expiryDate)) return 'CouponExpired';
  if (d.recipientIntegrationId && d.recipientIntegrationId !== input.profileId) return 'CouponRecipientDoesNotMatch';
  if (d.usageLimit > 0 && rec.usageCounter >= d.usageLimit) return 'CouponLimitReached';
  return undefined;
}

/**
 * Campaigns are evaluated in file order, each on the undiscounted session (no cascading discounts).
 * Codes that match no coupon are rejected with `campaignId: -1` after all campaigns.
 */
export function evaluate(cfg: EmulatorConfig, input: EvalInput, lookup: (code: string) => CouponRecord | undefined): EvalResult {
  const out: EvalResult = { effects: [], accepted: [], points: [], triggered: [] };
  const codes = [...new Set(input.couponCodes)];
  const records = codes.map((code) => ({ code, rec: lookup(code) }));
  for (const c of cfg.campaigns) {
    const before = out.effects.length;
    const live = running(c, input);
    switch (c.kind) {
      case 'cartPercent':
        if (live && input.totalCents > 0 && input.totalCents >= c.minTotalCents) {
          out.effects.push(envelope(c, 'setDiscount', { name: c.effectName, value: fromCents(percentOf(input.totalCents, c.percent)) }));
        }
        break;
      case 'cartAmount':
        if (live && input.totalCents > 0 && input.totalCents >= c.minTotalCents) {
          out.effects.push(envelope(c, 'setDiscount', { name: c.effectName, value: fromCents(Math.min(c.amountCents, input.totalCents)) }));
        }
        break;
      case 'itemPercent':
        if (!live) break;
        for (let position = 0; position < input.items.length; position++) {
          const it = input.items[position]!;
          const hit = (c.skus?.includes(it.sku) ?? false) || (it.category !== undefined && (c.categories?.includes(it.category) ?? false));
          const line = it.priceCents * it.quantity;
          if (hit && line > 0) {
            out.effects.push(envelope(c, 'setDiscountPerItem', { name: `${c.effectName}#${position}`, value: fromCents(percentOf(line, c.percent)), position }));
          }
        }
        break;
      case 'loyaltyPoints':
        if (live && input.profileId !== '' && input.totalCents >= c.minTotalCents) {
          const value = Math.floor((input.totalCents * c.pointsPerUnit) / 100);
          if (value > 0) {
            out.points.push({ programId: c.programId, value });
            out.effects.push(envelope(c, 'addLoyaltyPoints', {
              name: c.effectName, programId: c.programId, subLedgerId: '', value,
              recipientIntegrationId: input.profileId, transactionUUID: stableUuid(`${input.sessionId}|${c.id}|${c.programId}`), startDate: 'immediate', expiryDate: 'unlimited',
            }));
          }
        }
        break;
      case 'coupon':
        for (const { code, rec } of records) {
          if (!rec || rec.def.campaignId !== c.id) continue;
          const reason = live ? rejectReason(rec, input) : 'CouponPartOfNotRunningCampaign';
          if (reason) {
            out.effects.push(envelope(c, 'rejectCoupon', { value: code, rejectionReason: reason }, rec.def.id));
            continue;
          }
          out.accepted.push(rec);
          out.effects.push(envelope(c, 'acceptCoupon', { value: code }, rec.def.id));
          const d = rec.def;
          const cents = d.amountCents !== undefined ? Math.min(d.amountCents, Math.max(input.totalCents, 0)) : percentOf(input.totalCents, d.percent ?? 0);
          out.effects.push(envelope(c, 'setDiscount', { name: `${c.effectName} ${code}`, value: fromCents(cents) }, d.id));
        }
        break;
    }
    if (out.effects.length > before) out.triggered.push(c.id);
  }
  for (const { code, rec } of records) {
    if (rec) continue;
    out.effects.push({ campaignId: -1, rulesetId: -1, ruleIndex: -1, ruleName: '', effectType: 'rejectCoupon', props: { value: code, rejectionReason: 'CouponNotFound' } });
  }
  return out;
}
