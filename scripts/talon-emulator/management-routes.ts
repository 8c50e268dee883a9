/**
 * The Management API routes head office pulls (GET only), with Talon.One's paging (`pageSize` ≤ 1000, `skip`;
 * list bodies `{totalResultSize, data}` or, for the `no_total` and `hasMore` variants, `{hasMore, data}`) and
 * its filters (https://docs.talon.one/oas/management.yaml). Authorization is `ManagementKey-v1 <key>`; each route is one
 * rate-limited endpoint (rate-limit.ts), named by its template.
 */
import { ApiError, badParam, notFound } from './errors.js';
import type { ManagementState, Obj } from './management.js';

export interface MgmtReply {
  status: number;
  body: unknown;
  /** CSV exports answer text. */
  csv?: boolean;
}

export interface MgmtRoute {
  /** The endpoint's name for the rate limit and the counters: method and path template. */
  endpoint: string;
  re: RegExp;
  run: (st: ManagementState, m: string[], q: URLSearchParams) => MgmtReply;
}

function int(q: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const v = q.get(name);
  if (v === null) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw badParam(name, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

function time(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw badParam(name, `${name} must be an RFC3339 timestamp`);
  return t;
}

function app(st: ManagementState, id: string): void {
  if (Number(id) !== st.applicationId) throw notFound(`application ${id}`);
}

function page<T>(all: T[], q: URLSearchParams, maxPage = 1000): { items: T[]; hasMore: boolean } {
  const size = int(q, 'pageSize', maxPage, 1, maxPage);
  const skip = int(q, 'skip', 0, 0, Number.MAX_SAFE_INTEGER);
  return { items: all.slice(skip, skip + size), hasMore: skip + size < all.length };
}

function sorted(list: Obj[], q: URLSearchParams): Obj[] {
  const s = q.get('sort');
  if (!s) return list;
  const desc = s.startsWith('-');
  const key = desc ? s.slice(1) : s;
  return [...list].sort((a, b) => {
    const x = a[key] as string | number;
    const y = b[key] as string | number;
    const c = x < y ? -1 : x > y ? 1 : 0;
    return desc ? -c : c;
  });
}

const APP = '/v1/applications/{applicationId}';

export const MANAGEMENT_ROUTES: MgmtRoute[] = [
  {
    endpoint: `GET ${APP}`,
    re: /^\/v1\/applications\/([^/]+)$/,
    run: (st, m) => {
      app(st, m[0]!);
      return { status: 200, body: { ...st.application, loyaltyPrograms: [...st.programs.values()] } };
    },
  },
  {
    endpoint: `GET ${APP}/campaigns`,
    re: /^\/v1\/applications\/([^/]+)\/campaigns$/,
    run: (st, m, q) => {
      app(st, m[0]!);
      const state = q.get('campaignState');
      const storeId = q.get('storeId');
      const after = time(q, 'createdAfter');
      let list = [...st.campaigns.values()];
      if (state) {
        list = list.filter((c) => {
          const fs = st.frontendState(c);
          // `enabled`: "Campaigns that are scheduled, running (activated), or expired".
          return state === 'enabled' ? c['state'] === 'enabled' : fs === state;
        });
      }
      if (storeId !== null) list = list.filter((c) => ((c['linkedStoreIds'] as number[] | undefined) ?? []).includes(Number(storeId)));
      if (after !== undefined) list = list.filter((c) => Date.parse(c['created'] as string) > after);
      const all = sorted(list, q);
      const { items } = page(all, q);
      return { status: 200, body: { totalResultSize: all.length, data: items.map((c) => st.view(c)) } };
    },
  },
  {
    endpoint: `GET ${APP}/campaigns/{campaignId}`,
    re: /^\/v1\/applications\/([^/]+)\/campaigns\/(\d+)$/,
    run: (st, m) => {
      app(st, m[0]!);
      const c = st.campaigns.get(Number(m[1]));
      if (!c) throw notFound(`campaign ${m[1]}`);
      return { status: 200, body: st.view(c) };
    },
  },
  {
    endpoint: 'GET /v2/applications/{applicationId}/campaigns/{campaignId}/rulesets/{rulesetId}',
    re: /^\/v2\/applications\/([^/]+)\/campaigns\/(\d+)\/rulesets\/(\d+)$/,
    run: (st, m) => {
      app(st, m[0]!);
      const rs = st.rulesets.get(Number(m[2]));
      if (!rs || rs['campaignId'] !== Number(m[1])) throw notFound(`ruleset ${m[2]} of campaign ${m[1]}`);
      return { status: 200, body: rs };
    },
  },
  {
    endpoint: `GET ${APP}/campaigns/{campaignId}/coupons/no_total`,
    re: /^\/v1\/applications\/([^/]+)\/campaigns\/(\d+)\/coupons\/no_total$/,
    run: (st, m, q) => {
      app(st, m[0]!);
      const list = st.coupons.get(Number(m[1]));
      if (!list) throw notFound(`campaign ${m[1]}`);
      const after = time(q, 'createdAfter');
      const all = sorted(after === undefined ? list : list.filter((k) => Date.parse(k['created'] as string) > after), q);
      const { items, hasMore } = page(all, q);
      return { status: 200, body: { hasMore, data: items } };
    },
  },
  {
    endpoint: `GET ${APP}/stores`,
    re: /^\/v1\/applications\/([^/]+)\/stores$/,
    run: (st, m, q) => {
      app(st, m[0]!);
      const all = sorted([...st.stores.values()], q);
      const { items, hasMore } = page(all, q);
      return { status: 200, body: q.get('withTotalResultSize') === 'true' ? { totalResultSize: all.length, hasMore, data: items } : { hasMore, data: items } };
    },
  },
  {
    endpoint: `GET ${APP}/cart_item_filters`,
    re: /^\/v1\/applications\/([^/]+)\/cart_item_filters$/,
    run: (st, m, q) => {
      app(st, m[0]!);
      const { items, hasMore } = page([...st.filters.values()].map((f) => f.filter), q, 50);
      return { status: 200, body: { hasMore, data: items } };
    },
  },
  {
    endpoint: `GET ${APP}/cart_item_filters/{cartItemFilterId}/expressions/{expressionId}`,
    re: /^\/v1\/applications\/([^/]+)\/cart_item_filters\/(\d+)\/expressions\/(\d+)$/,
    run: (st, m) => {
      app(st, m[0]!);
      const f = st.filters.get(Number(m[1]));
      if (!f || f.expression['id'] !== Number(m[2])) throw notFound(`cart item filter expression ${m[2]}`);
      return { status: 200, body: f.expression };
    },
  },
  {
    // "List campaign-level collections from all campaigns in a given Application."
    endpoint: `GET ${APP}/collections`,
    re: /^\/v1\/applications\/([^/]+)\/collections$/,
    run: (st, m, q) => {
      app(st, m[0]!);
      const all = sorted([...st.collections.values()].map((c) => c.collection).filter((c) => typeof c['campaignId'] === 'number'), q);
      const { items, hasMore } = page(all, q);
      return { status: 200, body: q.get('withTotalResultSize') === 'true' ? { totalResultSize: all.length, hasMore, data: items } : { hasMore, data: items } };
    },
  },
  {
    // "List account-level collections in the account."
    endpoint: 'GET /v1/collections',
    re: /^\/v1\/collections$/,
    run: (st, _m, q) => {
      const all = sorted([...st.collections.values()].map((c) => c.collection).filter((c) => typeof c['campaignId'] !== 'number'), q);
      const { items, hasMore } = page(all, q);
      return { status: 200, body: q.get('withTotalResultSize') === 'true' ? { totalResultSize: all.length, hasMore, data: items } : { hasMore, data: items } };
    },
  },
  {
    // "Retrieve items from a given collection" (account-level and campaign-level): `{hasMore, data: [{item}]}`.
    endpoint: 'GET /v1/collections/{collectionId}/items',
    re: /^\/v1\/collections\/(\d+)\/items$/,
    run: (st, m, q) => {
      const c = st.collections.get(Number(m[0]));
      if (!c) throw notFound(`collection ${m[0]}`);
      const { items, hasMore } = page(c.items, q);
      return { status: 200, body: { hasMore, data: items.map((item) => ({ item })) } };
    },
  },
  {
    endpoint: 'GET /v1/loyalty_programs',
    re: /^\/v1\/loyalty_programs$/,
    run: (st) => ({ status: 200, body: { totalResultSize: st.programs.size, data: [...st.programs.values()] } }),
  },
  {
    endpoint: 'GET /v1/loyalty_programs/{loyaltyProgramId}/export_customer_balances',
    re: /^\/v1\/loyalty_programs\/([^/]+)\/export_customer_balances$/,
    run: (st, m) => {
      const p = st.programs.get(Number(m[0]));
      if (!p) throw notFound(`loyalty program ${m[0]}`);
      const rows = st.balances.filter((b) => b.programId === p['id'] && b.profileId !== undefined);
      const lines = ['loyaltyProgramID,loyaltySubledger,profileIntegrationID,currentBalance,pendingBalance,expiredBalance,spentBalance,currentTier'];
      for (const b of rows) lines.push(`${b.programId},${csvCell(b.subledger ?? '')},${csvCell(b.profileId!)},${b.currentBalance.toFixed(2)},${(b.pendingBalance ?? 0).toFixed(2)},0.00,0.00,`);
      return { status: 200, body: `${lines.join('\n')}\n`, csv: true };
    },
  },
  {
    endpoint: 'GET /v1/loyalty_programs/{loyaltyProgramId}/export_card_balances',
    re: /^\/v1\/loyalty_programs\/([^/]+)\/export_card_balances$/,
    run: (st, m) => {
      const p = st.programs.get(Number(m[0]));
      if (!p) throw notFound(`loyalty program ${m[0]}`);
      if (p['cardBased'] !== true) throw new ApiError(400, 'The loyalty program is not card-based');
      const rows = st.balances.filter((b) => b.programId === p['id'] && b.cardId !== undefined);
      const lines = ['loyaltyProgramID,loyaltySubledger,cardIdentifier,cardState,currentBalance,pendingBalance,expiredBalance,spentBalance'];
      for (const b of rows) lines.push(`${b.programId},${csvCell(b.subledger ?? '')},${csvCell(b.cardId!)},active,${b.currentBalance},${b.pendingBalance ?? 0},0,0`);
      return { status: 200, body: `${lines.join('\n')}\n`, csv: true };
    },
  },
  {
    endpoint: 'GET /v1/changes',
    re: /^\/v1\/changes$/,
    run: (st, _m, q) => {
      const appId = q.get('applicationId');
      const after = time(q, 'createdAfter');
      let list = st.changes.filter((c) => (appId === null || c.applicationId === Number(appId)) && (after === undefined || Date.parse(c.created) > after));
      if (q.get('includeOld') === 'false') list = list.map(({ old: _o, ...rest }) => rest);
      const all = sorted(list as unknown as Obj[], q);
      const { items, hasMore } = page(all, q);
      return { status: 200, body: q.get('withTotalResultSize') === 'true' ? { totalResultSize: all.length, hasMore, data: items } : { hasMore, data: items } };
    },
  },
];

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The route a GET path names, with its decoded parameters. */
export function matchManagement(method: string, pathname: string): { route: MgmtRoute; m: string[] } | undefined {
  if (method !== 'GET') return undefined;
  for (const route of MANAGEMENT_ROUTES) {
    const hit = route.re.exec(pathname);
    if (hit) return { route, m: hit.slice(1).map((s) => decodeURIComponent(s)) };
  }
  return undefined;
}
