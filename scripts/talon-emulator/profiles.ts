/**
 * Profile-scoped routes: track event V2, update customer profile V2, customer inventory, loyalty balances
 * (https://docs.talon.one/integration-api#tag/Events/operation/trackEventV2,
 * https://docs.talon.one/integration-api#tag/Customer-profiles/operation/updateCustomerProfileV2,
 * https://docs.talon.one/integration-api#tag/Customer-profiles/operation/getCustomerInventory,
 * https://docs.talon.one/integration-api#tag/Loyalty/operation/getLoyaltyBalances).
 * Profiles are created implicitly, as upstream does.
 */
import { ApiError, badParam, notFound } from './errors.js';
import type { Reply } from './sessions.js';
import type { State } from './state.js';
import { couponJson, loyaltyJson, profileJson } from './state.js';
import type { JsonObject } from './types.js';
import { parseEventRequest, parseProfileRequest } from './validate.js';

function bool(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw badParam(name, `${name} must be true or false`);
}

export function trackEvent(st: State, query: URLSearchParams, rawBody: unknown): Reply {
  const silent = query.get('silent') ?? 'yes';
  if (silent !== 'yes' && silent !== 'no') throw badParam('silent', 'silent must be "yes" or "no"');
  const dry = bool(query, 'dry');
  const ev = parseEventRequest(rawBody);
  const p = dry ? st.profile(ev.profileId, false) : st.profile(ev.profileId, true);
  if (p) p.lastActivity = st.iso();
  const id = dry ? 0 : st.nextEventId();
  if (silent === 'yes') return { status: 204 };
  const event: JsonObject = {
    id, created: st.iso(), applicationId: st.cfg.applicationId, profileId: ev.profileId, type: ev.type,
    attributes: ev.attributes as JsonObject, effects: [], meta: { campaigns: {}, coupons: {} },
  };
  if (ev.storeIntegrationId !== undefined) event['storeIntegrationId'] = ev.storeIntegrationId;
  const body: Record<string, unknown> = { effects: [], createdCoupons: [], createdReferrals: [], event };
  if (ev.content.has('customerProfile') && p) body['customerProfile'] = profileJson(p, st.cfg.accountId);
  if (ev.content.has('loyalty') && ev.profileId !== '') body['loyalty'] = loyaltyJson(st, ev.profileId);
  if (ev.content.has('triggeredCampaigns')) body['triggeredCampaigns'] = [];
  return { status: 200, body };
}

export function updateProfile(st: State, integrationId: string, query: URLSearchParams, rawBody: unknown): Reply {
  const runRuleEngine = bool(query, 'runRuleEngine');
  const dry = bool(query, 'dry');
  if (dry && !runRuleEngine) throw badParam('dry', 'dry can only be used with runRuleEngine=true');
  const req = parseProfileRequest(rawBody);
  if (req.content.size > 0 && !runRuleEngine) throw badParam('responseContent', 'responseContent can only be used with runRuleEngine=true');
  if (integrationId === '') throw badParam('integrationId', 'integrationId must not be empty');
  const existing = st.profile(integrationId, false);
  // A dry run works on a copy so nothing is stored.
  const p = dry
    ? existing
      ? { ...existing, attributes: { ...existing.attributes }, audiences: new Map(existing.audiences) }
      : { id: 0, integrationId, created: st.iso(), attributes: {}, closedSessions: 0, totalSalesCents: 0, lastActivity: st.iso(), sessions: 0, audiences: new Map() }
    : st.profile(integrationId, true)!;
  if (req.attributes) Object.assign(p.attributes, req.attributes);
  for (const a of req.adds) p.audiences.set(a, { audienceId: a, joinedAt: st.iso() });
  for (const d of req.deletes) p.audiences.delete(d);
  p.lastActivity = st.iso();
  const body: Record<string, unknown> = { customerProfile: profileJson(p, st.cfg.accountId), effects: [], createdCoupons: [], createdReferrals: [] };
  if (req.content.has('loyalty')) body['loyalty'] = loyaltyJson(st, integrationId);
  if (req.content.has('triggeredCampaigns')) body['triggeredCampaigns'] = [];
  return { status: 200, body };
}

export function inventory(st: State, integrationId: string, query: URLSearchParams): Reply {
  const p = st.profile(integrationId, false);
  if (!p) throw notFound(`customer profile "${integrationId}"`);
  const body: Record<string, unknown> = {};
  if (bool(query, 'profile')) body['profile'] = profileJson(p, st.cfg.accountId);
  if (bool(query, 'loyalty')) body['loyalty'] = loyaltyJson(st, integrationId);
  if (bool(query, 'coupons')) {
    const now = st.now();
    const list: JsonObject[] = [];
    for (const rec of st.coupons.values()) {
      const mine = rec.redemptions.has(integrationId) || rec.def.recipientIntegrationId === integrationId;
      if (!mine) continue;
      const j = couponJson(rec, integrationId);
      const expired = rec.def.expiryDate !== undefined && now >= Date.parse(rec.def.expiryDate);
      const used = rec.def.usageLimit > 0 && rec.usageCounter >= rec.def.usageLimit;
      j['state'] = expired ? 'expired' : used ? 'used' : rec.def.startDate !== undefined && now < Date.parse(rec.def.startDate) ? 'pending' : 'active';
      list.push(j);
    }
    body['coupons'] = list;
  }
  if (bool(query, 'referrals')) body['referrals'] = [];
  if (bool(query, 'giveaways')) body['giveaways'] = [];
  if (bool(query, 'achievements')) body['achievements'] = [];
  return { status: 200, body };
}

export function balances(st: State, programIdRaw: string, integrationId: string, query: URLSearchParams): Reply {
  const programId = Number(programIdRaw);
  if (!Number.isInteger(programId)) throw badParam('loyaltyProgramId', 'loyaltyProgramId must be an integer');
  if (!st.cfg.programs.some((p) => p.id === programId)) throw notFound(`loyalty program ${programId}`);
  const endDate = query.get('endDate');
  if (endDate !== null && Number.isNaN(Date.parse(endDate))) throw badParam('endDate', 'endDate must be an RFC 3339 date-time');
  const b = st.balance(programId, integrationId, false);
  if (!b && !st.profile(integrationId, false)) {
    throw new ApiError(404, `customer profile "${integrationId}" not found in loyalty program ${programId}`);
  }
  const balance = b ?? { activePoints: 0, pendingPoints: 0, spentPoints: 0, expiredPoints: 0, negativePoints: 0 };
  return { status: 200, body: { balance: { ...balance }, subledgerBalances: {} } };
}
