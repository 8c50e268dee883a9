/**
 * What head office reads from Talon.One's Management API, and when (README "Head office sync"):
 *
 * - the listing: the Application, its stores, cart item filters (with their active expression), and the
 *   campaigns shops should hold (`campaignState` `running` and `scheduled`); then the `RulesetV2` of each
 *   campaign whose `activeRulesetId` is not cached yet — an unchanged campaign costs no request;
 * - coupons of each campaign with the `coupons` feature (`coupons/no_total`, paged), page by page durably, so
 *   a restart continues at the page it stopped at;
 * - loyalty: the programs of the Application and each one's balances as one CSV export;
 * - collections: the Application's campaign-level ones and the account-level ones enabled for it, listed (two
 *   requests), and the items of each one that is new or was modified since it was read;
 * - incrementally, the audit log (`GET /v1/changes`, `createdAfter` the last change seen): it names the entity
 *   every edit was made on (a campaign, its rules, a store, a filter), so one request a minute finds what changed
 *   and only that is read again. Creation filters (`createdAfter` on campaigns) would miss edits, and
 *   `startAfter` filters on a campaign's start, not its changes. Coupon redemptions are not edits: usage
 *   counters are refreshed by reading the coupons again on their own schedule.
 *
 * Every step writes what it read to the cache (cache.ts) before the next request, so a pull killed midway
 * resumes where it stopped.
 */
import { isStoregateError } from '../core/errors.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { PullCache } from './cache.js';
import { parseCsv } from './csv.js';
import type { ManagementClient } from './mgmt-client.js';
import { hasCoupons, trimCampaign, trimCollection, trimCoupon, trimProgram, trimStore, wanted, type Obj } from './shapes.js';

export type DataKind = 'rules' | 'coupons' | 'loyalty' | 'collections';

export interface PullerDeps {
  client: ManagementClient;
  cache: PullCache;
  applicationId: number;
  pageSize: number;
  clock: Clock;
  log: Logger;
  /** Called after the cache changed in a way that changes what shops get. */
  changed: (kinds: readonly DataKind[]) => void;
}

const E = {
  app: 'GET /v1/applications/{applicationId}',
  campaigns: 'GET /v1/applications/{applicationId}/campaigns',
  campaign: 'GET /v1/applications/{applicationId}/campaigns/{campaignId}',
  ruleset: 'GET /v2/applications/{applicationId}/campaigns/{campaignId}/rulesets/{rulesetId}',
  coupons: 'GET /v1/applications/{applicationId}/campaigns/{campaignId}/coupons/no_total',
  stores: 'GET /v1/applications/{applicationId}/stores',
  filters: 'GET /v1/applications/{applicationId}/cart_item_filters',
  expression: 'GET /v1/applications/{applicationId}/cart_item_filters/{cartItemFilterId}/expressions/{expressionId}',
  programs: 'GET /v1/loyalty_programs',
  customerBalances: 'GET /v1/loyalty_programs/{loyaltyProgramId}/export_customer_balances',
  cardBalances: 'GET /v1/loyalty_programs/{loyaltyProgramId}/export_card_balances',
  changes: 'GET /v1/changes',
  appCollections: 'GET /v1/applications/{applicationId}/collections',
  accountCollections: 'GET /v1/collections',
  collectionItems: 'GET /v1/collections/{collectionId}/items',
} as const;

/** Requests in flight per step: enough that the rate limit, not the round trip, sets the pace. */
const WORKERS = 4;
/** Audit log entries are read from a little before the last one seen (clocks, late commits); ids dedupe. */
const CHANGES_OVERLAP_MS = 5000;

export class Puller {
  readonly #d: PullerDeps;
  readonly #app: string;
  readonly #couponRuns = new Map<number, Promise<void>>();
  #collectionsRun: Promise<void> = Promise.resolve();

  constructor(d: PullerDeps) {
    this.#d = d;
    this.#app = `/v1/applications/${d.applicationId}`;
  }

  /**
   * The first sync, or its resumption after a restart: the lists, then the missing rulesets, the coupons and the
   * loyalty balances side by side (different endpoints, each at its own rate).
   */
  async initial(signal?: AbortSignal): Promise<void> {
    await this.#list(signal);
    await Promise.all([this.#finishListing(signal), this.coupons(signal, true), this.loyalty(signal, true)]);
  }

  /** App, stores, filters and campaigns; then the rulesets not cached yet. */
  async listing(signal?: AbortSignal): Promise<void> {
    await this.#list(signal);
    await this.#finishListing(signal);
  }

  async #list(signal?: AbortSignal): Promise<void> {
    const c = this.#d.cache;
    const resume = c.marks.fullStarted > c.marks.fullDone;
    if (!resume) await c.record({ t: 'mark', key: 'fullStarted', at: this.#d.clock.now() });
    // The audit log is read from the start of the first listing on: what changed during it is read again.
    if (c.cursor.at === null) await c.record({ t: 'cursor', at: new Date(c.marks.fullStarted).toISOString(), ids: [0] });
    const [app, stores, filters, campaigns] = await Promise.all([this.#getApp(signal), this.#getStores(signal), this.#getFilters(signal), this.#listCampaigns(signal)]);
    await c.record({ t: 'app', v: app }, { t: 'stores', v: stores }, { t: 'filters', v: filters }, { t: 'campaigns', v: campaigns });
  }

  async #finishListing(signal?: AbortSignal): Promise<void> {
    const c = this.#d.cache;
    await this.rulesets(signal);
    // Coupon campaigns that appeared since the last coupon pass get theirs now (not at the next refresh).
    if (c.marks.couponsDone > 0) await this.#each([...c.campaigns.values()].filter((k) => hasCoupons(k) && !c.coupons.has(k['id'] as number)), (k) => this.couponsOf(k['id'] as number, signal));
    await c.record({ t: 'mark', key: 'fullDone', at: this.#d.clock.now() });
    this.#d.changed(['rules', 'coupons']);
  }

  /** The RulesetV2 of every campaign whose active ruleset is not cached. */
  async rulesets(signal?: AbortSignal): Promise<void> {
    const c = this.#d.cache;
    const todo = [...c.campaigns.values()].filter((k) => typeof k['activeRulesetId'] === 'number' && c.rulesets.get(k['id'] as number)?.rulesetId !== k['activeRulesetId']);
    await this.#each(todo, (k) => this.#ruleset(k, signal));
  }

  /** A campaign again (a notification or the audit log named it): itself, its rules when they changed, its coupons when new. */
  async campaign(id: number, signal?: AbortSignal): Promise<void> {
    const c = this.#d.cache;
    let k: Obj;
    try {
      const readAt = this.#d.clock.now();
      k = trimCampaign(await this.#d.client.json<Obj>(E.campaign, `${this.#app}/campaigns/${id}`, {}, signal), readAt);
    } catch (err) {
      if (isStoregateError(err) && err.code === 'SG_ERR_NOT_FOUND') return this.dropCampaign(id);
      throw err;
    }
    if (!wanted(k, this.#d.clock.now())) return this.dropCampaign(id);
    await c.record({ t: 'campaign', v: k });
    if (typeof k['activeRulesetId'] === 'number' && c.rulesets.get(id)?.rulesetId !== k['activeRulesetId']) await this.#ruleset(k, signal);
    if (hasCoupons(k) && !c.coupons.has(id)) await this.couponsOf(id, signal);
    this.#d.changed(['rules', 'coupons']);
  }

  async dropCampaign(id: number): Promise<void> {
    if (!this.#d.cache.campaigns.has(id)) return;
    await this.#d.cache.record({ t: 'campaignGone', id });
    this.#d.changed(['rules', 'coupons']);
  }

  /**
   * Every coupon campaign's coupons (usage counters included). `onlyIfDue`: only when no complete pass has run
   * since the last one started (the first sync, or one interrupted by a restart, which then resumes).
   */
  async coupons(signal?: AbortSignal, onlyIfDue = false): Promise<void> {
    const c = this.#d.cache;
    const resume = c.marks.couponsStarted > c.marks.couponsDone;
    if (onlyIfDue && !resume && c.marks.couponsDone > 0) return;
    if (!resume) await c.record({ t: 'mark', key: 'couponsStarted', at: this.#d.clock.now() });
    const since = c.marks.couponsStarted;
    // Done in this pass already (before a restart): skipped.
    const todo = [...c.campaigns.values()].filter((k) => hasCoupons(k) && !((c.coupons.get(k['id'] as number)?.readAt ?? -1) >= since));
    await this.#each(todo, (k) => this.couponsOf(k['id'] as number, signal));
    for (const id of [...c.coupons.keys()]) {
      const k = c.campaigns.get(id);
      if (!k || !hasCoupons(k)) await c.record({ t: 'couponsDrop', campaignId: id });
    }
    await c.record({ t: 'mark', key: 'couponsDone', at: this.#d.clock.now() });
    await c.compact(true);
    this.#d.changed(['coupons']);
  }

  /**
   * One campaign's coupons, page by page; a run interrupted earlier continues at its next page. One run per
   * campaign at a time: a second caller shares the run in progress.
   */
  couponsOf(id: number, signal?: AbortSignal): Promise<void> {
    const running = this.#couponRuns.get(id);
    if (running) return running;
    const p = this.#couponsOf(id, signal).finally(() => this.#couponRuns.delete(id));
    this.#couponRuns.set(id, p);
    return p;
  }

  async #couponsOf(id: number, signal?: AbortSignal): Promise<void> {
    const c = this.#d.cache;
    const run = c.runs.get(id);
    const startedAt = run?.startedAt ?? this.#d.clock.now();
    try {
      for await (const page of this.#d.client.pages<Obj>(E.coupons, `${this.#app}/campaigns/${id}/coupons/no_total`, {}, this.#d.pageSize, run?.next ?? 0, signal)) {
        await c.record({ t: 'couponsPage', campaignId: id, startedAt, skip: page.skip, next: page.next, v: page.items.map(trimCoupon) });
      }
    } catch (err) {
      if (isStoregateError(err) && err.code === 'SG_ERR_NOT_FOUND') return this.dropCampaign(id);
      throw err;
    }
    await c.record({ t: 'couponsDone', campaignId: id });
  }

  /** The loyalty programs of the Application and their balances (`onlyIfDue` as for coupons). */
  async loyalty(signal?: AbortSignal, onlyIfDue = false): Promise<void> {
    const c = this.#d.cache;
    const resume = c.marks.loyaltyStarted > c.marks.loyaltyDone;
    if (onlyIfDue && !resume && c.marks.loyaltyDone > 0) return;
    const readAt = this.#d.clock.now();
    await c.record({ t: 'mark', key: 'loyaltyStarted', at: readAt });
    const list = await this.#d.client.json<{ data?: Obj[] }>(E.programs, '/v1/loyalty_programs', {}, signal);
    const programs = (list.data ?? []).filter((p) => !Array.isArray(p['subscribedApplications']) || (p['subscribedApplications'] as unknown[]).includes(this.#d.applicationId));
    const balances: Obj[] = [];
    for (const p of programs) {
      const id = p['id'] as number;
      const card = p['cardBased'] === true;
      const csv = await this.#d.client.text(card ? E.cardBalances : E.customerBalances, `/v1/loyalty_programs/${id}/${card ? 'export_card_balances' : 'export_customer_balances'}`, {}, signal);
      for (const row of parseCsv(csv)) {
        const active = Number(row['currentBalance']);
        const pending = Number(row['pendingBalance'] || 0);
        const who = card ? row['cardIdentifier'] : row['profileIntegrationID'];
        // A subledger row is that subledger's balance (a holder of its own in the shop); an inactive card cannot be used at a till.
        const sub = row['loyaltySubledger'];
        if (!who || (card && row['cardState'] === 'inactive') || !Number.isFinite(active)) continue;
        balances.push({ programId: id, [card ? 'cardId' : 'profileId']: who, ...(sub ? { subledgerId: sub } : {}), activePoints: active, ...(Number.isFinite(pending) && pending !== 0 ? { pendingPoints: pending } : {}) });
      }
    }
    await c.record({ t: 'loyalty', v: { readAt, programs: programs.map(trimProgram), balances } }, { t: 'mark', key: 'loyaltyDone', at: this.#d.clock.now() });
    this.#d.changed(['loyalty']);
  }

  /**
   * The collections rules may name: the Application's campaign-level ones and the account-level ones enabled for it
   * (`subscribedApplicationsIds`). Items are read only for a collection that is new or whose `modified` moved since
   * it was read (a CSV import replaces a collection's content and moves it), so a pass over unchanged collections is
   * two requests. A collection the audit log named (`force`) has its items read again even if its `modified` did
   * not move (Talon.One does not document that an import moves it). A collection is recorded once all its items
   * are read: a pass cut by a restart reads it again.
   */
  collections(signal?: AbortSignal, force: ReadonlySet<number> = new Set()): Promise<void> {
    // One pass at a time (the collections lane and the audit log both start them): a pass listed before a
    // collection was created must not drop what a later pass read.
    const run = this.#collectionsRun.catch(() => undefined).then(() => this.#collections(signal, force));
    this.#collectionsRun = run;
    return run;
  }

  async #collections(signal: AbortSignal | undefined, force: ReadonlySet<number>): Promise<void> {
    const c = this.#d.cache;
    await c.record({ t: 'mark', key: 'collectionsStarted', at: this.#d.clock.now() });
    const listed: Obj[] = [];
    for await (const p of this.#d.client.pages<Obj>(E.appCollections, `${this.#app}/collections`, {}, this.#d.pageSize, 0, signal)) listed.push(...p.items);
    for await (const p of this.#d.client.pages<Obj>(E.accountCollections, '/v1/collections', {}, this.#d.pageSize, 0, signal)) {
      for (const k of p.items) {
        const apps = k['subscribedApplicationsIds'];
        if (!Array.isArray(apps) || apps.includes(this.#d.applicationId)) listed.push(k);
      }
    }
    let changed = false;
    const keep = new Set<number>();
    for (const k of listed) {
      const id = k['id'];
      if (typeof id !== 'number') continue;
      keep.add(id);
      const had = c.collections.get(id);
      if (had && !force.has(id) && had['modified'] === k['modified'] && had['name'] === k['name']) continue;
      const payload: string[] = [];
      for await (const p of this.#d.client.pages<{ item?: unknown }>(E.collectionItems, `/v1/collections/${id}/items`, {}, this.#d.pageSize, 0, signal)) {
        for (const it of p.items) if (typeof it?.item === 'string') payload.push(it.item);
      }
      await c.record({ t: 'collection', v: { ...trimCollection(k), payload } });
      changed = true;
    }
    const gone = [...c.collections.keys()].filter((id) => !keep.has(id));
    if (gone.length > 0) {
      await c.record({ t: 'collectionsGone', ids: gone });
      changed = true;
    }
    await c.record({ t: 'mark', key: 'collectionsDone', at: this.#d.clock.now() });
    if (changed) this.#d.log.info({ collections: c.collections.size }, 'collections read');
    this.#d.changed(['collections']);
  }

  /** Reads the audit log since the cursor and re-reads what each change names. Returns how many changes. */
  async changes(signal?: AbortSignal): Promise<number> {
    const c = this.#d.cache;
    if (c.cursor.at === null) return 0;
    const lastId = c.cursor.ids[0] ?? 0;
    const from = new Date(Date.parse(c.cursor.at) - CHANGES_OVERLAP_MS).toISOString();
    const found: Obj[] = [];
    for await (const page of this.#d.client.pages<Obj>(E.changes, '/v1/changes', { applicationId: this.#d.applicationId, createdAfter: from, includeOld: false, sort: 'created' }, this.#d.pageSize, 0, signal)) {
      found.push(...page.items.filter((ch) => typeof ch['id'] === 'number' && (ch['id'] as number) > lastId));
    }
    if (found.length === 0) return 0;
    const campaigns = new Set<number>();
    const couponCampaigns = new Set<number>();
    let stores = false;
    let filters = false;
    let listing = false;
    let collections = false;
    const namedCollections = new Set<number>();
    for (const ch of found) {
      const entity = String(ch['entity'] ?? '');
      const appOf = /^\/v1\/applications\/(\d+)(\/.*)?$/.exec(entity);
      if (appOf && Number(appOf[1]) !== this.#d.applicationId) continue;
      // A collection edited or imported (account-level, or campaign-level under its campaign): read the collections.
      const named = /^\/v1\/collections\/(\d+)/.exec(entity) ?? /\/campaigns\/\d+\/collections(?:\/(\d+))?(?:\/|$)/.exec(entity);
      if (named) {
        collections = true;
        if (named[1] !== undefined) namedCollections.add(Number(named[1]));
        continue;
      }
      const campaign = /^\/v1\/applications\/\d+\/campaigns\/(\d+)(\/.*)?$/.exec(entity);
      if (campaign) {
        campaigns.add(Number(campaign[1]));
        if ((campaign[2] ?? '').startsWith('/coupons')) couponCampaigns.add(Number(campaign[1]));
      } else if (/^\/v1\/applications\/\d+\/stores/.test(entity)) stores = true;
      else if (/^\/v1\/applications\/\d+\/cart_item_filters/.test(entity)) filters = true;
      else if (appOf) listing = true; // the Application itself, or something else of it: list again
    }
    const newest = found.reduce((a, ch) => (String(ch['created']) > a ? String(ch['created']) : a), c.cursor.at);
    const maxId = found.reduce((a, ch) => Math.max(a, ch['id'] as number), lastId);
    this.#d.log.info({ changes: found.length, campaigns: campaigns.size, stores, filters, listing, collections }, 'Talon.One audit log: reading what changed');
    if (collections) await this.collections(signal, namedCollections);
    if (listing) await this.listing(signal);
    else {
      if (stores) await this.#d.cache.record({ t: 'stores', v: await this.#getStores(signal) });
      if (filters) await this.#d.cache.record({ t: 'filters', v: await this.#getFilters(signal) });
      if (stores || filters) this.#d.changed(['rules']);
      for (const id of campaigns) await this.campaign(id, signal);
      for (const id of couponCampaigns) if (this.#d.cache.campaigns.has(id)) await this.couponsOf(id, signal);
      if (couponCampaigns.size > 0) this.#d.changed(['coupons']);
    }
    await c.record({ t: 'cursor', at: newest, ids: [maxId] });
    return found.length;
  }

  async #ruleset(k: Obj, signal?: AbortSignal): Promise<void> {
    const id = k['id'] as number;
    const rs = k['activeRulesetId'] as number;
    try {
      const v = await this.#d.client.json<Obj>(E.ruleset, `/v2/applications/${this.#d.applicationId}/campaigns/${id}/rulesets/${rs}`, {}, signal);
      await this.#d.cache.record({ t: 'ruleset', campaignId: id, rulesetId: rs, v });
    } catch (err) {
      // A campaign deleted or re-ruled between the listing and now: the next listing or change sorts it out.
      if (isStoregateError(err) && err.code === 'SG_ERR_NOT_FOUND') return;
      throw err;
    }
  }

  #getApp(signal?: AbortSignal): Promise<Obj> {
    return this.#d.client.json<Obj>(E.app, this.#app, {}, signal);
  }

  async #getStores(signal?: AbortSignal): Promise<Obj[]> {
    const out: Obj[] = [];
    for await (const p of this.#d.client.pages<Obj>(E.stores, `${this.#app}/stores`, {}, this.#d.pageSize, 0, signal)) out.push(...p.items.map(trimStore));
    return out;
  }

  async #getFilters(signal?: AbortSignal): Promise<Obj[]> {
    const filters: Obj[] = [];
    for await (const p of this.#d.client.pages<Obj>(E.filters, `${this.#app}/cart_item_filters`, {}, Math.min(50, this.#d.pageSize), 0, signal)) filters.push(...p.items);
    const out: Obj[] = [];
    for (const f of filters) {
      if (typeof f['activeExpressionId'] !== 'number') continue;
      const x = await this.#d.client.json<Obj>(E.expression, `${this.#app}/cart_item_filters/${String(f['id'])}/expressions/${f['activeExpressionId']}`, {}, signal);
      if (Array.isArray(x['expression'])) out.push({ name: f['name'], expression: x['expression'] });
    }
    return out;
  }

  async #listCampaigns(signal?: AbortSignal): Promise<Obj[]> {
    const out = new Map<number, Obj>();
    const now = this.#d.clock.now();
    for (const campaignState of ['running', 'scheduled']) {
      // Budget counters are at least as fresh as the moment each page was asked for.
      const readAt = this.#d.clock.now();
      for await (const p of this.#d.client.pages<Obj>(E.campaigns, `${this.#app}/campaigns`, { campaignState }, this.#d.pageSize, 0, signal)) {
        for (const k of p.items) if (typeof k['id'] === 'number' && wanted(k, now)) out.set(k['id'], trimCampaign(k, readAt));
      }
    }
    return [...out.values()];
  }

  /** Runs `f` over `items` with WORKERS in flight; the first failure stops the rest and is thrown. */
  async #each<T>(items: T[], f: (x: T) => Promise<void>): Promise<void> {
    let i = 0;
    let failed: unknown = null;
    const worker = async () => {
      while (failed === null && i < items.length) {
        const x = items[i++] as T;
        try {
          await f(x);
        } catch (err) {
          failed ??= err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WORKERS, items.length) }, worker));
    if (failed !== null) throw failed;
  }
}
