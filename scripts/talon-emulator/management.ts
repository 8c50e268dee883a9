/**
 * The emulated Management API's data: one Application with its campaigns (Management API `Campaign`), their
 * active rulesets (`RulesetV2`, the JSON block format of `getRulesetV2`), stores, cart item filters, coupons
 * (Management `Coupon`), loyalty programs and balances, collections (`Collection`: account-level ones enabled for
 * the Application, and campaign-level ones) with their items, the campaign evaluation tree, and the audit log that
 * `GET /v1/changes` returns. Field names follow Talon.One's Management API spec (https://docs.talon.one/oas/management.yaml); the emulator fills the required
 * fields a test leaves out.
 *
 * It is its own model, apart from the Integration API side (campaigns.json): it is what head office pulls.
 * Tests change it through `/_emulator/management/*` (admin.ts), and each change is logged as a `Change` and,
 * like Talon.One's Application notifications, POSTed to the registered notification targets (notify.ts).
 */
import type { JsonObject } from './types.js';

export type Obj = Record<string, unknown>;

export interface MgmtCampaignEntry {
  campaign: Obj;
  ruleset: Obj;
}

export interface MgmtBalance {
  programId: number;
  profileId?: string;
  cardId?: string;
  /** A subledger's balance (the exports' `loyaltySubledger` column); absent: the program's main ledger. */
  subledger?: string;
  currentBalance: number;
  pendingBalance?: number;
}

/** A dataset as given to `PUT /_emulator/management` (missing parts stay as they are). */
export interface ManagementData {
  application?: Obj;
  campaigns?: { campaign: Obj; ruleset: Obj; coupons?: Obj[] }[];
  stores?: Obj[];
  cartItemFilters?: { filter: Obj; expression: Obj }[];
  loyaltyPrograms?: Obj[];
  balances?: MgmtBalance[];
  evaluationTree?: Obj | null;
  /** Collections (Management `Collection` without `payload`) and their items; `campaignId` makes one campaign-level. */
  collections?: { collection: Obj; items: string[] }[];
}

export interface Change {
  id: number;
  created: string;
  userId: number;
  applicationId: number;
  entity: string;
  old?: unknown;
  new?: unknown;
  managementKeyId?: number;
}

/** What a mutation asks the notifier to send (campaign events, in Talon.One's `Event` names). */
export type MgmtEvent =
  | { kind: 'campaign'; event: 'campaign_created' | 'campaign_edited' | 'campaign_state_changed' | 'campaign_ruleset_changed' | 'campaign_deleted'; item: Obj }
  | { kind: 'tree'; item: Obj };

const T0 = '2026-01-01T00:00:00Z';

export class ManagementState {
  readonly applicationId: number;
  application: Obj;
  readonly campaigns = new Map<number, Obj>();
  /** By ruleset id (a campaign's `activeRulesetId` names one). */
  readonly rulesets = new Map<number, Obj>();
  readonly stores = new Map<number, Obj>();
  readonly filters = new Map<number, { filter: Obj; expression: Obj }>();
  /** Coupons by campaign, in creation order. */
  readonly coupons = new Map<number, Obj[]>();
  readonly programs = new Map<number, Obj>();
  balances: MgmtBalance[] = [];
  evaluationTree: Obj | null = null;
  /** Collections by id, with their items in import order. */
  readonly collections = new Map<number, { collection: Obj; items: string[] }>();
  readonly changes: Change[] = [];
  #nextId = 1_000_000;
  readonly #now: () => number;

  constructor(now: () => number, applicationId = 1) {
    this.#now = now;
    this.applicationId = applicationId;
    this.application = this.#app({});
  }

  iso(): string {
    return new Date(this.#now()).toISOString();
  }

  #id(): number {
    return this.#nextId++;
  }

  #app(a: Obj): Obj {
    return { id: this.applicationId, created: T0, modified: T0, accountId: 1, name: 'Emulated application', timezone: 'Europe/Berlin', currency: 'EUR', caseSensitivity: 'insensitive-uppercase', defaultDiscountScope: 'sessionTotal', enableCascadingDiscounts: true, enablePartialDiscounts: false, loyaltyPrograms: [], attributes: {}, limits: [], ...a };
  }

  #campaign(c: Obj, rulesetId: number): Obj {
    const id = typeof c['id'] === 'number' ? c['id'] : this.#id();
    return {
      id, created: this.iso(), applicationId: this.applicationId, userId: 1, name: `Campaign ${id}`, description: '', attributes: {}, state: 'enabled',
      tags: [], reevaluateOnReturn: false, features: [], limits: [], campaignGroups: [], type: 'advanced', linkedStoreIds: [], storesImported: false,
      couponRedemptionCount: 0, updated: this.iso(), ...c, activeRulesetId: rulesetId,
    };
  }

  #ruleset(r: Obj, campaignId: number): Obj {
    const id = typeof r['id'] === 'number' ? r['id'] : this.#id();
    return { id, created: this.iso(), userId: 1, campaignId, promotionRules: [], strikethroughRules: [], selectors: [], bundles: [], parameters: [], ...r };
  }

  #coupon(k: Obj, campaignId: number): Obj {
    return { id: typeof k['id'] === 'number' ? k['id'] : this.#id(), created: this.iso(), campaignId, usageLimit: 1, usageCounter: 0, limits: [], attributes: {}, ...k };
  }

  /** Replaces the parts given (`PUT /_emulator/management`); logs nothing and notifies nobody (a seed). */
  load(d: ManagementData): void {
    if (d.application) this.application = this.#app(d.application);
    if (d.campaigns) {
      this.campaigns.clear();
      this.rulesets.clear();
      this.coupons.clear();
      for (const e of d.campaigns) this.#put(e.campaign, e.ruleset, e.coupons ?? []);
    }
    if (d.stores) {
      this.stores.clear();
      for (const s of d.stores) this.#putStore(s);
    }
    if (d.cartItemFilters) {
      this.filters.clear();
      for (const f of d.cartItemFilters) {
        const id = typeof f.filter['id'] === 'number' ? f.filter['id'] : this.#id();
        const exprId = typeof f.expression['id'] === 'number' ? f.expression['id'] : this.#id();
        this.filters.set(id, {
          filter: { id, created: T0, applicationId: this.applicationId, ...f.filter, activeExpressionId: exprId },
          expression: { id: exprId, created: T0, applicationId: this.applicationId, cartItemFilterId: id, ...f.expression },
        });
      }
    }
    if (d.loyaltyPrograms) {
      this.programs.clear();
      for (const p of d.loyaltyPrograms) {
        const id = p['id'] as number;
        this.programs.set(id, { id, created: T0, title: `Program ${id}`, description: '', subscribedApplications: [this.applicationId], defaultValidity: 'unlimited', defaultPending: 'immediate', allowSubledger: false, sandbox: false, accountID: 1, name: `program${id}`, timezone: 'UTC', cardBased: false, ...p });
      }
    }
    if (d.balances) this.balances = d.balances.map((b) => ({ ...b }));
    if (d.evaluationTree !== undefined) this.evaluationTree = d.evaluationTree;
    if (d.collections) {
      this.collections.clear();
      for (const c of d.collections) this.#putCollection(c.collection, c.items);
    }
  }

  #putCollection(c: Obj, items: string[]): Obj {
    const id = typeof c['id'] === 'number' ? c['id'] : this.#id();
    const campaign = typeof c['campaignId'] === 'number' ? { campaignId: c['campaignId'], applicationId: this.applicationId } : { subscribedApplicationsIds: [this.applicationId] };
    const collection = { id, created: T0, accountId: 1, createdBy: 1, name: `Collection ${id}`, description: '', ...campaign, ...c, modified: this.iso() };
    this.collections.set(id, { collection, items: [...items] });
    return collection;
  }

  /**
   * A collection's items replaced by a CSV import ("The import replaces the initial content of the collection"):
   * its `modified` moves, and the change is logged on the collection's path (campaign-level: under its campaign).
   */
  importCollection(id: number, items: string[]): Obj | undefined {
    const c = this.collections.get(id);
    if (!c) return undefined;
    const next = this.#putCollection(c.collection, items);
    const cid = next['campaignId'];
    this.#log(typeof cid === 'number' ? `${this.#campaignPath(cid)}/collections/${id}` : `/v1/collections/${id}`, undefined, { items: items.length });
    return next;
  }

  #put(c: Obj, r: Obj, coupons: Obj[]): Obj {
    const rsId = typeof r['id'] === 'number' ? r['id'] : this.#id();
    const campaign = this.#campaign(c, rsId);
    const id = campaign['id'] as number;
    this.campaigns.set(id, campaign);
    this.rulesets.set(rsId, this.#ruleset({ ...r, id: rsId }, id));
    this.coupons.set(id, coupons.map((k) => this.#coupon(k, id)));
    return campaign;
  }

  #putStore(s: Obj): Obj {
    const id = typeof s['id'] === 'number' ? s['id'] : this.#id();
    const store = { id, created: T0, name: `Store ${id}`, description: '', attributes: {}, applicationId: this.applicationId, updated: T0, ...s };
    this.stores.set(id, store);
    return store;
  }

  #log(entity: string, oldV: unknown, newV: unknown): void {
    this.changes.push({ id: this.changes.length + 1, created: this.iso(), userId: 1, applicationId: this.applicationId, entity, ...(oldV !== undefined ? { old: oldV } : {}), ...(newV !== undefined ? { new: newV } : {}) });
  }

  #campaignPath(id: number): string {
    return `/v1/applications/${this.applicationId}/campaigns/${id}`;
  }

  /** A campaign created in the Campaign Manager: logged, and a `campaign_created` notification. */
  createCampaign(c: Obj, r: Obj, coupons: Obj[] = []): { campaign: Obj; events: MgmtEvent[] } {
    const campaign = this.#put(c, r, coupons);
    const id = campaign['id'] as number;
    this.#log(this.#campaignPath(id), undefined, campaign);
    const events: MgmtEvent[] = [{ kind: 'campaign', event: 'campaign_created', item: { campaign: this.view(campaign), ruleset: this.#v1Ruleset(id) } }];
    if (this.evaluationTree) events.push(...this.#appendToTree(id));
    return { campaign, events };
  }

  /**
   * Edits a campaign (fields of `Campaign`) and, with `ruleset`, replaces its rules by a new ruleset (a new id,
   * as a new revision in Talon.One). Logged; notified as a state change, a ruleset change or an edit.
   */
  updateCampaign(id: number, patch: Obj, ruleset?: Obj): { campaign: Obj; events: MgmtEvent[] } | undefined {
    const old = this.campaigns.get(id);
    if (!old) return undefined;
    const next: Obj = { ...old, ...patch, id, updated: this.iso() };
    const events: MgmtEvent[] = [];
    if (ruleset) {
      const rsId = this.#id();
      this.rulesets.set(rsId, this.#ruleset({ ...ruleset, id: rsId }, id));
      next['activeRulesetId'] = rsId;
      this.#log(`${this.#campaignPath(id)}/rulesets`, undefined, { id: rsId });
      events.push({ kind: 'campaign', event: 'campaign_ruleset_changed', item: { campaign: this.view(next), ruleset: this.#v1Ruleset(id) } });
    }
    this.campaigns.set(id, next);
    this.#log(this.#campaignPath(id), old, next);
    if (patch['state'] !== undefined && patch['state'] !== old['state']) {
      events.push({ kind: 'campaign', event: 'campaign_state_changed', item: { campaign: this.view(next), oldState: this.frontendState(old), newState: this.frontendState(next), ruleset: this.#v1Ruleset(id) } });
    } else if (Object.keys(patch).length > 0) {
      events.push({ kind: 'campaign', event: 'campaign_edited', item: { campaign: this.view(next), oldCampaign: this.view(old), ruleset: this.#v1Ruleset(id) } });
    }
    return { campaign: next, events };
  }

  deleteCampaign(id: number): MgmtEvent[] | undefined {
    const old = this.campaigns.get(id);
    if (!old) return undefined;
    this.campaigns.delete(id);
    this.coupons.delete(id);
    this.#log(this.#campaignPath(id), old, undefined);
    return [{ kind: 'campaign', event: 'campaign_deleted', item: { campaign: this.view(old), deletedAt: this.iso() } }];
  }

  /** Coupons created (or, with the same `value`, replaced) in a campaign: logged under the campaign's coupons. */
  putCoupons(campaignId: number, coupons: Obj[]): number | undefined {
    const list = this.coupons.get(campaignId);
    if (!list) return undefined;
    for (const k of coupons) {
      const at = list.findIndex((x) => x['value'] === k['value']);
      if (at >= 0) list[at] = { ...list[at], ...k };
      else list.push(this.#coupon(k, campaignId));
    }
    this.#log(`${this.#campaignPath(campaignId)}/coupons`, undefined, { count: coupons.length });
    return list.length;
  }

  putStore(s: Obj): Obj {
    const store = this.#putStore(s);
    this.#log(`/v1/applications/${this.applicationId}/stores/${String(store['id'])}`, undefined, store);
    return store;
  }

  setBalances(b: MgmtBalance[]): void {
    this.balances = b.map((x) => ({ ...x }));
  }

  setTree(tree: Obj): MgmtEvent[] {
    const old = this.evaluationTree;
    this.evaluationTree = tree;
    return [{ kind: 'tree', item: { event: 'campaign_evaluation_tree_changed', applicationId: this.applicationId, oldEvaluationTree: old, evaluationTree: tree } }];
  }

  /** Talon.One adds a new campaign to the evaluation tree (here: at the end of the root set) and notifies it. */
  #appendToTree(id: number): MgmtEvent[] {
    const tree = structuredClone(this.evaluationTree) as Obj;
    const set = tree['set'] as { elements?: Obj[] };
    set.elements = [...(set.elements ?? []), { type: 'CAMPAIGN', campaignId: id }];
    tree['version'] = ((tree['version'] as number | undefined) ?? 0) + 1;
    return this.setTree(tree);
  }

  /** `frontendState` from `state` and the time window (running, scheduled, expired, disabled, archived). */
  frontendState(c: Obj, now = this.#now()): string {
    if (c['state'] === 'disabled') return 'disabled';
    if (c['state'] === 'archived') return 'archived';
    const start = typeof c['startTime'] === 'string' ? Date.parse(c['startTime']) : -Infinity;
    const end = typeof c['endTime'] === 'string' ? Date.parse(c['endTime']) : Infinity;
    if (now < start) return 'scheduled';
    if (now >= end) return 'expired';
    return 'running';
  }

  /** A campaign as the API shows it (with its current `frontendState`). */
  view(c: Obj): JsonObject {
    return { ...c, frontendState: this.frontendState(c) } as JsonObject;
  }

  /** The notification's `Ruleset` is the V1 (Talang) shape; the emulator sends its envelope only. */
  #v1Ruleset(campaignId: number): Obj {
    const c = this.campaigns.get(campaignId);
    const rs = c ? this.rulesets.get(c['activeRulesetId'] as number) : undefined;
    return { id: rs?.['id'] ?? 0, created: rs?.['created'] ?? T0, userId: 1, campaignId, rules: [], strikethroughRules: [], bindings: [], rbVersion: 'v2', activate: true };
  }
}
