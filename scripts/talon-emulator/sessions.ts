/**
 * Customer session routes of Talon.One's Integration API
 * (https://docs.talon.one/integration-api#tag/Customer-sessions): update (PUT semantics, state machine, dry runs),
 * get, return cart items, reopen.
 *
 * State machine: open→open|closed|cancelled via update; closed→cancelled and
 * partially_returned→cancelled via update; closed|partially_returned→partially_returned via returns;
 * closed→open via reopen: the transitions listed for `NewCustomerSessionV2.state` in
 * https://docs.talon.one/oas/integration.yaml, plus further returns. Any other change of a closed, partially
 * returned or cancelled session is answered 400 (ErrorResponse, title "Invalid state transition", pointer
 * /customerSession/state): what Talon.One answers then is not in its public docs, so this is the emulator's choice.
 */
import type { Effect, EvalResult } from './campaigns.js';
import { evaluate, fromCents } from './campaigns.js';
import { ApiError, badParam, invalid, notFound, problem } from './errors.js';
import type { ReturnRecord, SessionRecord, State, Totals } from './state.js';
import { couponJson, loyaltyJson, profileJson, returnUnits } from './state.js';
import type { JsonObject } from './types.js';
import type { SessionPatch } from './validate.js';
import { parseReturnRequest, parseSessionRequest } from './validate.js';

export interface Reply { status: number; body?: unknown }

const RESULT_BASE = () => ({ effects: [] as Effect[], createdCoupons: [] as unknown[], createdReferrals: [] as unknown[] });

function transitionError(id: string, from: string, to: string): ApiError {
  const details =
    to === 'partially_returned' && from !== 'closed' ? `state "partially_returned" is only reached through POST /v2/customer_sessions/{id}/returns on a closed session`
    : from === 'new' ? `a new customer session can only be created as "open" or "closed", not "${to}"`
    : from === 'cancelled' ? `customer session "${id}" is cancelled; a cancelled session is final`
    : from === 'partially_returned' ? `customer session "${id}" is partially_returned; it can only be cancelled (state "cancelled") or get more returns`
    : `customer session "${id}" is closed and cannot be modified; reopen it (PUT /v2/customer_sessions/{id}/reopen) or cancel it (state "cancelled")`;
  return invalid([problem('/customerSession/state', 'Invalid state transition', details)], false);
}

function totalsOf(s: Pick<SessionRecord, 'cartItems' | 'additionalCosts'>): Totals {
  let items = 0, itemCosts = 0, costs = 0;
  for (const l of s.cartItems) { items += l.priceCents * l.quantity; itemCosts += l.unitCostCents * l.quantity; }
  for (const c of Object.values(s.additionalCosts)) {
    const p = (c as { price?: unknown }).price;
    if (typeof p === 'number') costs += Math.round(p * 100);
  }
  return { totalCents: items + itemCosts + costs, cartItemTotalCents: items, additionalCostTotalCents: costs, cartItemAdditionalCostTotalCents: itemCosts };
}

function blank(st: State, integrationId: string, id: number): SessionRecord {
  const t = st.iso();
  return {
    id, integrationId, created: t, updated: t, profileId: '', storeIntegrationId: undefined, couponCodes: [], referralCode: undefined,
    loyaltyCards: [], identifiers: [], attributes: {}, additionalCosts: {}, evaluableCampaignIds: undefined,
    experimentVariantAllocations: undefined, state: 'open', cartItems: [], totals: totalsOf({ cartItems: [], additionalCosts: {} }),
    firstSession: true, updateCount: 0, effects: [], redeemed: [], awarded: [], salesCents: 0, returns: [],
  };
}

function merge(s: SessionRecord, p: SessionPatch): void {
  if (p.profileId !== undefined) s.profileId = p.profileId;
  if (p.storeIntegrationId !== undefined) s.storeIntegrationId = p.storeIntegrationId;
  if (p.couponCodes !== undefined) s.couponCodes = p.couponCodes;
  if (p.referralCode !== undefined) s.referralCode = p.referralCode === '' ? undefined : p.referralCode;
  if (p.loyaltyCards !== undefined) s.loyaltyCards = p.loyaltyCards;
  if (p.identifiers !== undefined) s.identifiers = p.identifiers;
  if (p.attributes !== undefined) s.attributes = { ...s.attributes, ...p.attributes };
  if (p.additionalCosts !== undefined) s.additionalCosts = p.additionalCosts;
  if (p.evaluableCampaignIds !== undefined) s.evaluableCampaignIds = p.evaluableCampaignIds;
  if (p.experimentVariantAllocations !== undefined) s.experimentVariantAllocations = p.experimentVariantAllocations;
  if (p.cartItems !== undefined) s.cartItems = p.cartItems;
  s.totals = totalsOf(s);
}

function run(st: State, s: SessionRecord, now: number): EvalResult {
  return evaluate(st.cfg, {
    items: s.cartItems,
    totalCents: s.totals.totalCents, couponCodes: s.couponCodes, profileId: s.profileId, storeIntegrationId: s.storeIntegrationId, now, sessionId: s.integrationId,
  }, (code) => st.coupon(code));
}

/**
 * The rollback effect of one effect, or undefined when it has none: the rollback effects integration.yaml
 * describes (`RollbackCouponEffectProps`, `RollbackDiscountEffectProps`, `RollbackAddedLoyaltyPointsEffectProps`),
 * issued when a session is cancelled, has items returned or is reopened
 * (https://docs.talon.one/integration-api#tag/Customer-sessions/operation/reopenCustomerSession).
 */
function rollbackOf(e: Effect, value?: number): Effect | undefined {
  const base = { ...e };
  const v = value ?? (e.props['value'] as number);
  switch (e.effectType) {
    case 'acceptCoupon': return { ...base, effectType: 'rollbackCoupon', props: { value: e.props['value'] } };
    case 'setDiscount': return { ...base, effectType: 'rollbackDiscount', props: { name: e.props['name'], value: v } };
    case 'setDiscountPerItem':
      return { ...base, effectType: 'rollbackDiscount', props: { name: e.props['name'], value: v, cartItemPosition: e.props['position'] } };
    case 'addLoyaltyPoints': {
      const { programId, subLedgerId, recipientIntegrationId, transactionUUID } = e.props;
      return { ...base, effectType: 'rollbackAddedLoyaltyPoints', props: { programId, subLedgerId, value: v, recipientIntegrationId, transactionUUID } };
    }
    default: return undefined;
  }
}

function rollbacks(effects: Effect[]): Effect[] {
  const out: Effect[] = [];
  for (const e of effects) { const r = rollbackOf(e); if (r) out.push(r); }
  return out;
}

/**
 * `CustomerSessionV2` JSON. Answers serialise it at once, so it shares the session's cart line objects;
 * `copy` gives the admin API its own copies.
 */
export function sessionJson(st: State, s: SessionRecord, copy = false): JsonObject {
  const items: unknown[] = [];
  for (const l of s.cartItems) items.push(copy ? { ...l.json } : l.json);
  const j: Record<string, unknown> = {
    id: s.id, integrationId: s.integrationId, created: s.created, applicationId: st.cfg.applicationId,
    profileId: s.profileId, couponCodes: s.couponCodes, loyaltyCards: s.loyaltyCards, state: s.state,
    cartItems: items,
    additionalCosts: s.additionalCosts, identifiers: s.identifiers, attributes: s.attributes,
    firstSession: s.firstSession, updateCount: s.updateCount,
    total: fromCents(s.totals.totalCents), cartItemTotal: fromCents(s.totals.cartItemTotalCents),
    additionalCostTotal: fromCents(s.totals.additionalCostTotalCents), cartItemAdditionalCostTotal: fromCents(s.totals.cartItemAdditionalCostTotalCents),
    updated: s.updated,
  };
  if (s.storeIntegrationId !== undefined) j['storeIntegrationId'] = s.storeIntegrationId;
  if (s.referralCode !== undefined) j['referralCode'] = s.referralCode;
  if (s.evaluableCampaignIds !== undefined) j['evaluableCampaignIds'] = s.evaluableCampaignIds;
  if (s.experimentVariantAllocations !== undefined) j['experimentVariantAllocations'] = s.experimentVariantAllocations;
  return j as JsonObject;
}

function returnJson(st: State, s: SessionRecord, r: ReturnRecord): JsonObject {
  const j: JsonObject = {
    id: r.id, created: r.created, applicationId: st.cfg.applicationId, accountId: st.cfg.accountId,
    returnedCartItems: r.returnedCartItems, eventId: r.eventId, sessionId: s.id, sessionIntegrationId: s.integrationId,
  };
  const p = st.profile(s.profileId, false);
  if (p) { j['profileId'] = p.id; j['profileIntegrationId'] = p.integrationId; }
  return j;
}

export function campaignJson(st: State, id: number): JsonObject | undefined {
  const c = st.cfg.campaigns.find((x) => x.id === id);
  if (!c) return undefined;
  return {
    id: c.id, created: '2020-01-01T00:00:00Z', applicationId: st.cfg.applicationId, userId: 1, name: c.name, description: '',
    ...(c.startTime !== undefined ? { startTime: new Date(c.startTime).toISOString() } : {}),
    ...(c.endTime !== undefined ? { endTime: new Date(c.endTime).toISOString() } : {}),
    attributes: {}, state: 'enabled', activeRulesetId: c.rulesetId, tags: [],
    features: c.kind === 'coupon' ? ['coupons'] : c.kind === 'loyaltyPoints' ? ['loyalty'] : [],
    limits: [], type: c.kind === 'itemPercent' ? 'cartItem' : 'advanced', frontendState: 'running', storesImported: false,
  };
}

/** Adds the `responseContent` parts the emulator models. */
function withContent(st: State, s: SessionRecord, content: Set<string>, body: Record<string, unknown>, triggered: number[], points: EvalResult['points']): void {
  body['customerSession'] = sessionJson(st, s);
  const p = st.profile(s.profileId, false);
  if (content.has('customerProfile') && p) body['customerProfile'] = profileJson(p, st.cfg.accountId);
  if (content.has('loyalty') && s.profileId !== '') body['loyalty'] = loyaltyJson(st, s.profileId, s.state === 'open' ? points : []);
  if (content.has('coupons')) {
    body['coupons'] = s.couponCodes.flatMap((c) => { const r = st.coupon(c); return r ? [couponJson(r, s.profileId)] : []; });
  }
  if (content.has('triggeredCampaigns')) body['triggeredCampaigns'] = triggered.flatMap((id) => campaignJson(st, id) ?? []);
  if (content.has('previousReturns')) body['previousReturns'] = s.returns.map((r) => returnJson(st, s, r));
}

function parseNow(st: State, query: URLSearchParams, dry: boolean): number {
  const raw = query.get('now');
  if (raw === null) return st.now();
  const t = Date.parse(raw);
  if (!dry) throw badParam('now', '"now" can only be used with dry=true');
  if (Number.isNaN(t) || !/^\d{4}-\d\d-\d\dT/.test(raw)) throw badParam('now', '"now" must be an RFC 3339 date-time');
  if (t <= st.now()) throw badParam('now', '"now" must be in the future');
  return t;
}

export function updateSession(st: State, id: string, query: URLSearchParams, rawBody: unknown): Reply {
  const dry = query.get('dry') === 'true';
  const now = parseNow(st, query, dry);
  const { patch, content } = parseSessionRequest(rawBody);
  const existing = st.sessions.get(id);
  const body: Record<string, unknown> = RESULT_BASE();

  if (dry) {
    // With dry=true "the endpoint considers only the payload that you pass" (parameter `dry` of
    // https://docs.talon.one/integration-api#tag/Customer-sessions/operation/updateCustomerSessionV2): no merge, nothing stored.
    const s = blank(st, id, existing?.id ?? 0);
    if (existing) { s.created = existing.created; s.updateCount = existing.updateCount; }
    merge(s, patch);
    s.state = patch.state ?? 'open';
    const res = run(st, s, now);
    s.effects = res.effects;
    body['effects'] = res.effects;
    withContent(st, s, content, body, res.triggered, res.points);
    return { status: 200, body };
  }

  const from = existing?.state;
  const to = patch.state ?? (from === undefined ? 'open' : from);
  if (existing && from !== 'open') {
    if (to !== 'cancelled' || from === 'cancelled') throw transitionError(id, from!, to);
    // closed|partially_returned → cancelled: roll back, release coupons and points; other fields are ignored.
    const rb = rollbacks(existing.effects);
    st.commitClose(existing, -1);
    existing.state = 'cancelled';
    existing.effects = [];
    existing.updateCount++;
    existing.updated = st.iso();
    body['effects'] = rb;
    withContent(st, existing, content, body, [], []);
    return { status: 200, body };
  }
  if (to === 'partially_returned' || (!existing && to === 'cancelled')) throw transitionError(id, from ?? 'new', to);

  let s = existing;
  if (!s) {
    s = blank(st, id, st.nextSessionId());
    st.sessions.set(id, s);
    const pid = patch.profileId ?? '';
    const prof = st.profile(pid, true);
    s.firstSession = prof ? prof.sessions === 0 : true;
    if (prof) prof.sessions++;
  }
  merge(s, patch);
  const prof = st.profile(s.profileId, true);
  if (prof) prof.lastActivity = st.iso();
  s.updateCount++;
  s.updated = st.iso();
  if (to === 'cancelled') {
    s.state = 'cancelled';
    s.effects = [];
    withContent(st, s, content, body, [], []);
    return { status: 200, body };
  }
  const res = run(st, s, now);
  s.effects = res.effects;
  s.state = to;
  if (to === 'closed') {
    s.awarded = res.points;
    st.commitClose(s, 1);
  }
  body['effects'] = res.effects;
  withContent(st, s, content, body, res.triggered, res.points);
  return { status: 200, body };
}

export function getSession(st: State, id: string): Reply {
  const s = st.sessions.get(id);
  if (!s) throw notFound(`customer session "${id}"`);
  return { status: 200, body: { customerSession: sessionJson(st, s), effects: s.effects } };
}

export function returnItems(st: State, id: string, query: URLSearchParams, rawBody: unknown): Reply {
  const s = st.sessions.get(id);
  if (!s) throw notFound(`customer session "${id}"`);
  const { items, content } = parseReturnRequest(rawBody);
  if (s.state !== 'closed' && s.state !== 'partially_returned') {
    throw invalid([problem('/customerSession/state', 'Invalid state transition', `only closed or partially returned sessions accept returns; "${id}" is ${s.state}`)]);
  }
  // Plan first (validation can still fail), apply afterwards unless dry.
  const want = new Map<number, number>();
  const errs = [];
  for (const [i, it] of items.entries()) {
    const line = s.cartItems[it.position];
    if (!line) { errs.push(problem(`/return/returnedCartItems/${i}/position`, 'Invalid position', `no cart item at position ${it.position}`)); continue; }
    if (it.sku !== undefined && it.sku !== line.sku) errs.push(problem(`/return/returnedCartItems/${i}/sku`, 'Invalid sku', `cart item ${it.position} has sku "${line.sku}"`));
    const q = (want.get(it.position) ?? 0) + it.quantity;
    if (q > line.quantity - line.returnedQuantity) errs.push(problem(`/return/returnedCartItems/${i}/quantity`, 'Invalid quantity', `only ${line.quantity - line.returnedQuantity} unit(s) of position ${it.position} can be returned`));
    want.set(it.position, q);
  }
  if (errs.length) throw invalid(errs);

  const effects: Effect[] = [];
  const kept: Effect[] = [];
  for (const e of s.effects) {
    const pos = e.effectType === 'setDiscountPerItem' ? (e.props['position'] as number) : -1;
    const q = want.get(pos);
    if (q === undefined) { kept.push(e); continue; }
    const line = s.cartItems[pos]!;
    const remainingUnits = line.quantity - line.returnedQuantity;
    const cents = Math.round((e.props['value'] as number) * 100);
    const back = q === remainingUnits ? cents : Math.round((cents * q) / remainingUnits);
    effects.push(rollbackOf(e, fromCents(back))!);
    if (cents - back > 0) kept.push({ ...e, props: { ...e.props, value: fromCents(cents - back) } });
  }
  let returnedCents = 0;
  for (const [pos, q] of want) { const l = s.cartItems[pos]!; returnedCents += (l.priceCents + l.unitCostCents) * q; }
  const r: ReturnRecord = {
    id: query.get('dry') === 'true' ? 0 : st.nextReturnId(), created: st.iso(), eventId: query.get('dry') === 'true' ? 0 : st.nextEventId(),
    returnedCartItems: items.map((it) => ({ ...it, sku: it.sku ?? s.cartItems[it.position]!.sku })),
  };
  if (query.get('dry') !== 'true') {
    for (const [pos, q] of want) returnUnits(s.cartItems[pos]!, q);
    s.effects = kept;
    s.state = 'partially_returned';
    s.returns.push(r);
    s.updated = st.iso();
    const p = st.profile(s.profileId, false);
    if (p) p.totalSalesCents -= returnedCents;
    s.salesCents -= returnedCents;
  }
  const body: Record<string, unknown> = { ...RESULT_BASE(), effects, return: returnJson(st, s, r) };
  withContent(st, s, content, body, [], []);
  return { status: 200, body };
}

export function reopenSession(st: State, id: string): Reply {
  const s = st.sessions.get(id);
  if (!s) throw notFound(`customer session "${id}"`);
  if (s.state !== 'closed') {
    throw invalid([problem('/customerSession/state', 'Invalid state transition', `only closed sessions can be reopened; "${id}" is ${s.state}`)]);
  }
  const effects = rollbacks(s.effects);
  st.commitClose(s, -1);
  s.state = 'open';
  s.effects = [];
  s.updated = st.iso();
  return { status: 200, body: { effects } };
}
