/**
 * The emulated Management API over HTTP: `ManagementKey-v1 <key>` authentication, the per-endpoint rate limit
 * (3 requests per second by default; `429` with `Retry-After` past it), the routes of management-routes.ts, and
 * the admin operations tests use (`/_emulator/management/*`, `/_emulator/notify`, `/_emulator/ratelimit`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, invalid, notFound, problem, unauthorized } from './errors.js';
import { ManagementState, type ManagementData, type MgmtBalance, type Obj } from './management.js';
import { generateManagementData, type GenerateOptions } from './management-gen.js';
import { matchManagement } from './management-routes.js';
import { Notifier, type NotificationKind, type NotificationTarget, type SentNotification } from './notify.js';
import { ManagementRateLimit, type EndpointCounters } from './rate-limit.js';

/** What tests reach in process (`emu.management`) and over `/_emulator/management/*`. */
export interface ManagementApi {
  /** Replaces the parts of the dataset given (a seed: no change log, no notification). */
  load(d: ManagementData): void;
  generate(o: GenerateOptions): { campaigns: number; coupons: number; stores: number; balances: number };
  /** A campaign created in the Campaign Manager: logged in `/v1/changes` and notified. */
  createCampaign(campaign: Obj, ruleset: Obj, coupons?: Obj[]): Obj;
  updateCampaign(id: number, patch: Obj, ruleset?: Obj): Obj | undefined;
  deleteCampaign(id: number): boolean;
  putCoupons(campaignId: number, coupons: Obj[]): number | undefined;
  putStore(store: Obj): Obj;
  setBalances(b: MgmtBalance[]): void;
  setEvaluationTree(tree: Obj): void;
  /** A collection's items replaced (a CSV import): logged in `/v1/changes` under the collection's path. */
  importCollection(id: number, items: string[]): Obj | undefined;
  /** Per endpoint: requests, accepted, 429s, the most in any second, arrivals that ignored a Retry-After. */
  rateLimit(): Record<string, EndpointCounters>;
  resetRateLimit(): void;
  setNotificationTargets(t: NotificationTarget[]): void;
  /** Sends `body` to `url`, or to the registered targets of `kind`. */
  notify(o: { kind?: NotificationKind; url?: string; body: unknown; headers?: Record<string, string>; uuid?: string }): Promise<SentNotification[]>;
  sentNotifications(): SentNotification[];
  state(): ManagementState;
}

export interface ManagementHttp {
  api: ManagementApi;
  /** Handles a Management API request; false when the path is not one. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string, q: URLSearchParams, done: (status: number) => void): boolean;
  /** `/_emulator/management…`, `/_emulator/notify`, `/_emulator/ratelimit`; undefined when not one of them. */
  admin(method: string, head: string, rest: string[], body: unknown): Promise<{ status: number; body?: unknown }> | undefined;
  reset(): void;
}

export interface ManagementOptions {
  /** Key of `ManagementKey-v1 <key>`; undefined = every Management API request is 401. */
  key: string | undefined;
  perSecond: number;
  now: () => number;
  seed?: ManagementData;
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid([problem(path, 'Invalid type', `${path} must be an object`)]);
  return v as Obj;
}

export function createManagement(o: ManagementOptions): ManagementHttp {
  let st = new ManagementState(o.now);
  if (o.seed) st.load(o.seed);
  const limit = new ManagementRateLimit(o.perSecond);
  const notifier = new Notifier();
  const auth = o.key === undefined ? undefined : `ManagementKey-v1 ${o.key}`;

  const api: ManagementApi = {
    load: (d) => st.load(d),
    generate: (g) => {
      const d = generateManagementData(g);
      st.load(d);
      return { campaigns: d.campaigns?.length ?? 0, coupons: [...st.coupons.values()].reduce((n, l) => n + l.length, 0), stores: st.stores.size, balances: st.balances.length };
    },
    createCampaign: (c, r, coupons = []) => {
      const { campaign, events } = st.createCampaign(c, r, coupons);
      notifier.emit(events);
      return st.view(campaign);
    },
    updateCampaign: (id, patch, ruleset) => {
      const out = st.updateCampaign(id, patch, ruleset);
      if (!out) return undefined;
      notifier.emit(out.events);
      return st.view(out.campaign);
    },
    deleteCampaign: (id) => {
      const events = st.deleteCampaign(id);
      if (events) notifier.emit(events);
      return events !== undefined;
    },
    putCoupons: (id, coupons) => st.putCoupons(id, coupons),
    putStore: (s) => st.putStore(s),
    setBalances: (b) => st.setBalances(b),
    setEvaluationTree: (t) => notifier.emit(st.setTree(t)),
    importCollection: (id, items) => st.importCollection(id, items),
    rateLimit: () => limit.counters(),
    resetRateLimit: () => limit.reset(),
    setNotificationTargets: (t) => notifier.setTargets(t),
    notify: async (n) => {
      if (n.url) return [await notifier.send(n.url, n.body, { headers: n.headers ?? {}, kind: n.kind ?? 'custom', ...(n.uuid ? { uuid: n.uuid } : {}) })];
      return notifier.broadcast(n.kind ?? 'strikethrough', n.body, n.uuid);
    },
    sentNotifications: () => [...notifier.sent],
    state: () => st,
  };

  function reply(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}, csv = false): void {
    if (res.destroyed) return;
    const text = csv ? String(body) : JSON.stringify(body);
    res.writeHead(status, { 'content-type': csv ? 'application/csv' : 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...extra });
    res.end(text);
  }

  return {
    api,
    reset: () => {
      st = new ManagementState(o.now);
      if (o.seed) st.load(o.seed);
      limit.reset();
      notifier.setTargets([]);
    },
    handle(req, res, pathname, q, done) {
      const hit = matchManagement(req.method ?? 'GET', pathname);
      if (!hit) return false;
      const fail = (e: ApiError, headers: Record<string, string> = {}): void => {
        reply(res, e.status, e.body(), headers);
        done(e.status);
      };
      if (auth === undefined || req.headers.authorization !== auth) {
        fail(unauthorized());
        return true;
      }
      const retryAfter = limit.arrive(hit.route.endpoint);
      if (retryAfter !== null) {
        fail(new ApiError(429, 'Too many requests: the Management API allows 3 requests per second per endpoint'), { 'retry-after': String(retryAfter) });
        return true;
      }
      try {
        const r = hit.route.run(st, hit.m, q);
        reply(res, r.status, r.body, {}, r.csv === true);
        done(r.status);
      } catch (e) {
        fail(e instanceof ApiError ? e : new ApiError(500, `emulator bug: ${String(e)}`));
      }
      return true;
    },
    admin(method, head, rest, body) {
      const key = `${method} ${[head, ...rest.map((r, i) => (i === 1 && /^\d+$/.test(r) ? ':id' : r))].join('/')}`;
      const run = async (): Promise<{ status: number; body?: unknown }> => {
        switch (key) {
          case 'PUT management': api.load(obj(body, '/') as ManagementData); return { status: 204 };
          case 'POST management/generate': return { status: 200, body: api.generate(obj(body, '/') as unknown as GenerateOptions) };
          case 'POST management/campaigns': {
            const b = obj(body, '/');
            const coupons = Array.isArray(b['coupons']) ? (b['coupons'] as Obj[]) : [];
            return { status: 201, body: api.createCampaign(obj(b['campaign'], '/campaign'), obj(b['ruleset'] ?? {}, '/ruleset'), coupons) };
          }
          case 'PUT management/campaigns/:id': {
            const b = obj(body, '/');
            const c = api.updateCampaign(Number(rest[1]), obj(b['campaign'] ?? {}, '/campaign'), b['ruleset'] === undefined ? undefined : obj(b['ruleset'], '/ruleset'));
            if (!c) throw notFound(`campaign ${rest[1]}`);
            return { status: 200, body: c };
          }
          case 'DELETE management/campaigns/:id':
            if (!api.deleteCampaign(Number(rest[1]))) throw notFound(`campaign ${rest[1]}`);
            return { status: 204 };
          case 'POST management/coupons': {
            const b = obj(body, '/');
            const n = api.putCoupons(Number(b['campaignId']), Array.isArray(b['coupons']) ? (b['coupons'] as Obj[]) : []);
            if (n === undefined) throw notFound(`campaign ${String(b['campaignId'])}`);
            return { status: 200, body: { coupons: n } };
          }
          case 'POST management/stores': return { status: 201, body: api.putStore(obj(body, '/')) };
          case 'PUT management/collections/:id/items': {
            const items = (obj(body, '/')['items'] ?? []) as string[];
            const c = api.importCollection(Number(rest[1]), items);
            if (!c) throw notFound(`collection ${rest[1]}`);
            return { status: 200, body: c };
          }
          case 'PUT management/balances': api.setBalances((obj(body, '/')['balances'] ?? []) as MgmtBalance[]); return { status: 204 };
          case 'PUT management/evaluation_tree': api.setEvaluationTree(obj(body, '/')); return { status: 204 };
          case 'GET management/changes': return { status: 200, body: st.changes };
          case 'PUT notifications': api.setNotificationTargets((obj(body, '/')['targets'] ?? []) as NotificationTarget[]); return { status: 204 };
          case 'GET notifications': return { status: 200, body: { targets: notifier.targets(), sent: api.sentNotifications() } };
          case 'POST notify': {
            const b = obj(body, '/');
            return { status: 200, body: await api.notify(b as never) };
          }
          case 'GET ratelimit': return { status: 200, body: api.rateLimit() };
          case 'DELETE ratelimit': api.resetRateLimit(); return { status: 204 };
          default: throw notFound(`emulator admin route ${method} /_emulator/${[head, ...rest].join('/')}`);
        }
      };
      if (!['management', 'notifications', 'notify', 'ratelimit'].includes(head)) return undefined;
      return run();
    },
  };
}
