/**
 * Request body validation for the emulated routes. Problems are collected and answered as one
 * 400 `{"message":"The submitted data was invalid","errors":[{title, details, source:{pointer}}]}`.
 * Limits are the documented ones (https://docs.talon.one/oas/integration.yaml, `NewCustomerSessionV2`): ≤1000 cart
 * items, Σquantity ≤ 10000 (`cartItems`), loyaltyCards ≤1, identifiers ≤5 (`maxItems`), storeIntegrationId 1..1000
 * chars (`IntegrationStoreEntity`).
 */
import { toCents } from './campaigns.js';
import type { ApiErrorItem } from './errors.js';
import { invalid, problem } from './errors.js';
import type { CartLine, SessionState } from './state.js';

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface SessionPatch {
  profileId?: string;
  storeIntegrationId?: string;
  couponCodes?: string[];
  referralCode?: string;
  loyaltyCards?: string[];
  identifiers?: string[];
  attributes?: Obj;
  additionalCosts?: Obj;
  evaluableCampaignIds?: number[];
  experimentVariantAllocations?: unknown[];
  state?: SessionState;
  cartItems?: CartLine[];
}

const STATES: SessionState[] = ['open', 'closed', 'partially_returned', 'cancelled'];
const SESSION_CONTENT = new Set(['customerSession', 'customerProfile', 'coupons', 'triggeredCampaigns', 'referral', 'loyalty', 'event', 'awardedGiveaways', 'ruleFailureReasons', 'previousReturns', 'campaignEligibility', 'achievements']);
const RETURN_CONTENT = new Set(['customerSession', 'customerProfile', 'coupons', 'triggeredCampaigns', 'referral', 'loyalty', 'event', 'previousReturns']);
const EVENT_CONTENT = new Set(['customerProfile', 'triggeredCampaigns', 'loyalty', 'event', 'awardedGiveaways', 'ruleFailureReasons', 'campaignEligibility', 'achievements']);

class Checker {
  errs: ApiErrorItem[] = [];
  add(pointer: string, title: string, details: string): void {
    this.errs.push(problem(pointer, title, details));
  }
  strings(v: unknown, ptr: string, max?: number): string[] | undefined {
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      this.add(ptr, 'Invalid type', `${ptr.split('/').pop()} must be an array of strings`);
      return undefined;
    }
    if (max !== undefined && v.length > max) this.add(ptr, 'maxItems', `${ptr.split('/').pop()} must have at most ${max} items`);
    return v as string[];
  }
  string(v: unknown, ptr: string, min = 0, max = Infinity): string | undefined {
    if (typeof v !== 'string') { this.add(ptr, 'Invalid type', `${ptr.split('/').pop()} must be a string`); return undefined; }
    if (v.length < min || v.length > max) this.add(ptr, 'Invalid length', `${ptr.split('/').pop()} must be ${min}..${max} characters`);
    return v;
  }
  object(v: unknown, ptr: string): Obj | undefined {
    if (!isObj(v)) { this.add(ptr, 'Invalid type', `${ptr.split('/').pop()} must be an object`); return undefined; }
    return v;
  }
  content(v: unknown, allowed: Set<string>): Set<string> {
    if (v === undefined) return new Set();
    const list = this.strings(v, '/responseContent') ?? [];
    for (const [i, s] of list.entries()) {
      if (!allowed.has(s)) this.add(`/responseContent/${i}`, 'enum', `responseContent must be one of: ${[...allowed].join(', ')}`);
    }
    return new Set(list);
  }
}

function costCents(c: Checker, v: unknown, ptr: string): number {
  const o = c.object(v, ptr);
  let sum = 0;
  for (const [k, cost] of Object.entries(o ?? {})) {
    const price = isObj(cost) ? cost['price'] : undefined;
    if (typeof price !== 'number' || !Number.isFinite(price)) c.add(`${ptr}/${k}/price`, 'Invalid type', 'price is required and must be a number');
    else sum += toCents(price);
  }
  return sum;
}

function cartItems(c: Checker, v: unknown): CartLine[] | undefined {
  const ptr = '/customerSession/cartItems';
  if (!Array.isArray(v)) { c.add(ptr, 'Invalid type', 'cartItems must be an array'); return undefined; }
  if (v.length > 1000) c.add(ptr, 'maxItems', 'cartItems must have at most 1000 items');
  const lines: CartLine[] = [];
  let units = 0;
  for (let i = 0; i < v.length; i++) {
    const it: unknown = v[i];
    const p = `${ptr}/${i}`;
    if (!isObj(it)) { c.add(p, 'Invalid type', 'a cart item must be an object'); continue; }
    const { sku, quantity, price, category } = it;
    if (typeof sku !== 'string' || sku.length < 1) c.add(`${p}/sku`, 'required', 'sku is required (a non-empty string)');
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1) c.add(`${p}/quantity`, 'minimum', 'quantity is required (an integer ≥ 1)');
    if (price !== undefined && (typeof price !== 'number' || !Number.isFinite(price))) c.add(`${p}/price`, 'Invalid type', 'price must be a number');
    if (category !== undefined && typeof category !== 'string') c.add(`${p}/category`, 'Invalid type', 'category must be a string');
    const unitCostCents = it['additionalCosts'] === undefined ? 0 : costCents(c, it['additionalCosts'], `${p}/additionalCosts`);
    // The echo is the item without its read-only fields, then the server's values of them. A parsed item
    // without them (the usual case; the body is ours) gets them added in place rather than copied.
    let json: Obj = it;
    if ('position' in it || 'returnedQuantity' in it || 'remainingQuantity' in it || Object.hasOwn(it, '__proto__')) {
      json = {};
      for (const k in it) if (k !== 'position' && k !== 'returnedQuantity' && k !== 'remainingQuantity') json[k] = it[k];
    }
    const q = typeof quantity === 'number' ? quantity : 0;
    units += q;
    json['position'] = i;
    json['returnedQuantity'] = 0;
    json['remainingQuantity'] = q;
    lines.push({
      json, sku: String(sku), category: typeof category === 'string' ? category : undefined,
      priceCents: typeof price === 'number' ? toCents(price) : 0, quantity: q, returnedQuantity: 0, unitCostCents,
    });
  }
  if (units > 10_000) c.add(ptr, 'maximum', 'the sum of all cart items\' quantity must not exceed 10000');
  return lines;
}

/** `IntegrationRequest` → patch. 400s here use `ErrorResponse` (no StatusCode), as upstream does for this route. */
export function parseSessionRequest(body: unknown): { patch: SessionPatch; content: Set<string> } {
  const c = new Checker();
  const patch: SessionPatch = {};
  let content = new Set<string>();
  if (!isObj(body)) throw invalid([problem('/', 'Invalid type', 'the body must be a JSON object')], false);
  const s = body['customerSession'];
  if (!isObj(s)) {
    c.add('/customerSession', 'required', 'customerSession is required (an object)');
  } else {
    const P = '/customerSession';
    if (s['profileId'] !== undefined) patch.profileId = c.string(s['profileId'], `${P}/profileId`);
    if (s['storeIntegrationId'] !== undefined) patch.storeIntegrationId = c.string(s['storeIntegrationId'], `${P}/storeIntegrationId`, 1, 1000);
    if (s['couponCodes'] !== undefined) patch.couponCodes = c.strings(s['couponCodes'], `${P}/couponCodes`);
    if (s['referralCode'] !== undefined) patch.referralCode = c.string(s['referralCode'], `${P}/referralCode`, 0, 100);
    if (s['loyaltyCards'] !== undefined) patch.loyaltyCards = c.strings(s['loyaltyCards'], `${P}/loyaltyCards`, 1);
    if (s['identifiers'] !== undefined) patch.identifiers = c.strings(s['identifiers'], `${P}/identifiers`, 5);
    if (s['attributes'] !== undefined) patch.attributes = c.object(s['attributes'], `${P}/attributes`);
    if (s['additionalCosts'] !== undefined) { costCents(c, s['additionalCosts'], `${P}/additionalCosts`); patch.additionalCosts = s['additionalCosts'] as Obj; }
    if (s['evaluableCampaignIds'] !== undefined) {
      const v = s['evaluableCampaignIds'];
      if (!Array.isArray(v) || v.some((n) => !Number.isInteger(n))) c.add(`${P}/evaluableCampaignIds`, 'Invalid type', 'evaluableCampaignIds must be an array of integers');
      else patch.evaluableCampaignIds = v as number[];
    }
    if (s['experimentVariantAllocations'] !== undefined) {
      if (!Array.isArray(s['experimentVariantAllocations'])) c.add(`${P}/experimentVariantAllocations`, 'Invalid type', 'must be an array');
      else patch.experimentVariantAllocations = s['experimentVariantAllocations'];
    }
    if (s['state'] !== undefined) {
      if (typeof s['state'] !== 'string' || !STATES.includes(s['state'] as SessionState)) {
        c.add(`${P}/state`, 'enum', 'state must be one of the following: "open", "closed", "partially_returned", "cancelled"');
      } else patch.state = s['state'] as SessionState;
    }
    if (s['cartItems'] !== undefined) patch.cartItems = cartItems(c, s['cartItems']);
  }
  content = c.content(body['responseContent'], SESSION_CONTENT);
  if (c.errs.length) throw invalid(c.errs, false);
  return { patch, content };
}

export interface ReturnRequest { items: { position: number; quantity: number; sku?: string }[]; content: Set<string> }

export function parseReturnRequest(body: unknown): ReturnRequest {
  const c = new Checker();
  const items: ReturnRequest['items'] = [];
  if (!isObj(body)) throw invalid([problem('/', 'Invalid type', 'the body must be a JSON object')]);
  const r = body['return'];
  const list = isObj(r) ? r['returnedCartItems'] : undefined;
  if (!Array.isArray(list)) c.add('/return/returnedCartItems', 'required', 'return.returnedCartItems is required (an array)');
  else {
    list.forEach((it: unknown, i) => {
      const p = `/return/returnedCartItems/${i}`;
      if (!isObj(it)) return c.add(p, 'Invalid type', 'must be an object');
      const { position, quantity, sku } = it;
      if (typeof position !== 'number' || !Number.isInteger(position) || position < 0) return c.add(`${p}/position`, 'required', 'position is required (an integer ≥ 0)');
      const q = quantity === undefined ? 1 : quantity;
      if (typeof q !== 'number' || !Number.isInteger(q) || q < 1) return c.add(`${p}/quantity`, 'minimum', 'quantity must be an integer ≥ 1');
      if (sku !== undefined && (typeof sku !== 'string' || sku.length < 1)) return c.add(`${p}/sku`, 'Invalid type', 'sku must be a non-empty string');
      items.push(sku === undefined ? { position, quantity: q } : { position, quantity: q, sku: sku as string });
    });
  }
  const content = c.content(body['responseContent'], RETURN_CONTENT);
  if (c.errs.length) throw invalid(c.errs);
  return { items, content };
}

export interface EventRequest { profileId: string; type: string; storeIntegrationId?: string; attributes: Obj; loyaltyCards?: string[]; content: Set<string> }

export function parseEventRequest(body: unknown): EventRequest {
  const c = new Checker();
  if (!isObj(body)) throw invalid([problem('/', 'Invalid type', 'the body must be a JSON object')]);
  const profileId = body['profileId'] === undefined ? undefined : c.string(body['profileId'], '/profileId');
  if (body['profileId'] === undefined) c.add('/profileId', 'required', 'profileId is required');
  const type = body['type'] === undefined ? undefined : c.string(body['type'], '/type', 1);
  if (body['type'] === undefined) c.add('/type', 'required', 'type is required');
  const ev: EventRequest = { profileId: profileId ?? '', type: type ?? '', attributes: {}, content: new Set() };
  if (body['storeIntegrationId'] !== undefined) ev.storeIntegrationId = c.string(body['storeIntegrationId'], '/storeIntegrationId', 1, 1000);
  if (body['attributes'] !== undefined) ev.attributes = c.object(body['attributes'], '/attributes') ?? {};
  if (body['loyaltyCards'] !== undefined) ev.loyaltyCards = c.strings(body['loyaltyCards'], '/loyaltyCards', 1);
  ev.content = c.content(body['responseContent'], EVENT_CONTENT);
  if (c.errs.length) throw invalid(c.errs);
  return ev;
}

export interface ProfileRequest { attributes?: Obj; adds: number[]; deletes: number[]; content: Set<string> }

export function parseProfileRequest(body: unknown): ProfileRequest {
  const c = new Checker();
  if (body === undefined) body = {};
  if (!isObj(body)) throw invalid([problem('/', 'Invalid type', 'the body must be a JSON object')]);
  const req: ProfileRequest = { adds: [], deletes: [], content: new Set() };
  if (body['attributes'] !== undefined) req.attributes = c.object(body['attributes'], '/attributes');
  const ac = body['audiencesChanges'];
  if (ac !== undefined) {
    const o = c.object(ac, '/audiencesChanges') ?? {};
    for (const k of ['adds', 'deletes'] as const) {
      const v = o[k];
      if (v === undefined) continue;
      if (!Array.isArray(v) || v.some((n) => !Number.isInteger(n))) c.add(`/audiencesChanges/${k}`, 'Invalid type', `${k} must be an array of integers`);
      else req[k] = v as number[];
    }
  }
  req.content = c.content(body['responseContent'], EVENT_CONTENT);
  if (c.errs.length) throw invalid(c.errs);
  return req;
}
