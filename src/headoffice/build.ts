/**
 * What each shop gets, from the pull cache, in the shapes a shop accepts (README "Local data"; the shop checks
 * them in src/engine/ingest/*): the rules payload `{application, evaluationTree, campaigns: [{campaign, ruleset}],
 * stores, cartItemFilters}`, the coupons `{full, coupons}`, the loyalty `{programs, balances}` (the push adds
 * `version`).
 *
 * - Rules are per shop: the campaigns linked to its store or to none, and its own `Store` object (from which
 *   it learns its numeric store id). Each campaign is serialised once and the shops' payloads are put together
 *   from those pieces; a shop's content key hashes the pieces' keys, so a change to one campaign reaches only
 *   the shops that hold it, and an unchanged shop is not pushed again.
 * - Coupons are those of the shop's campaigns; when every shop holds the same coupon campaigns (the usual
 *   case: store-specific campaigns without coupons) one set serves all (`*`).
 * - Loyalty balances are the chain's (a customer may shop anywhere): one set for all.
 * - Collections are the Application's (campaign-level and account-level): one set for all.
 * - Budget shares (storegate's `budgets` in the rules payload) are per store: each campaign-wide budget of a campaign
 *   the store holds, split among the stores holding it (budget-shares.ts).
 */
import { createHash } from 'node:crypto';
import { isStoregateError } from '../core/errors.js';
import { MAX_COLLECTIONS, MAX_COLLECTIONS_ITEMS, parseCollections } from '../engine/ingest/collections.js';
import { parseCoupons } from '../engine/ingest/coupons.js';
import { DEFAULT_GUARD, guardJson, LIST_CAPS } from '../engine/ingest/guard.js';
import { parseLoyalty } from '../engine/ingest/loyalty.js';
import { parseRules } from '../engine/ingest/rules.js';
import type { CampaignCoupons, PullCache } from './cache.js';
import { storeShares, type BudgetSplit } from './budget-shares.js';
import { appSettings, hasCoupons, linkedStores, shopCampaign, shopRuleset, type Obj } from './shapes.js';

export const FLEET = '*';

export interface RulesTarget {
  /** The store's integration id (the push's `storeIntegrationId`). */
  target: string;
  key: string;
  /** Shops holding the same campaigns share `group` and `common`: the data before `"stores"`. */
  group: string;
  /** `{"application":…,"evaluationTree":…,"campaigns":[…],"cartItemFilters":…` (no closing brace). */
  common: () => string;
  /** The shop's own `Store` object (JSON). */
  own: string;
  /** `,"budgets":{…}` (this store's budget shares) or empty: what follows its `stores` in the payload. */
  extra: string;
  /** The whole data JSON without `version` (the push sets it). */
  text: () => string;
  campaigns: number;
}

export interface CouponsTarget {
  target: string;
  key: string;
  /** Oldest read time of the coupons it holds: the push version claims no fresher counters. */
  readAt: number;
  coupons: () => Map<string, Obj>;
}

export interface CollectionsTarget {
  target: string;
  key: string;
  collections: number;
  text: () => string;
}

export interface LoyaltyTarget {
  target: string;
  key: string;
  readAt: number;
  text: () => string;
}

const hash = (s: string): string => createHash('sha256').update(s).digest('base64url').slice(0, 22);

interface Piece {
  campaign: Obj;
  ruleset: Obj;
  text: string;
  key: string;
  /** Why a shop would refuse it (checked with the shop's own validation), or null. */
  problem: string | null;
}

/** Data a shop would refuse, left out of what it is sent (and shown on /fleet). */
export interface BuildProblem {
  kind: 'rules' | 'coupons' | 'loyalty' | 'collections';
  what: string;
  error: string;
}

/** The shop's own check of a data set (src/engine/ingest): null when it would accept it, else why not. */
function refusal(kind: 'rules' | 'coupons' | 'loyalty' | 'collections', check: () => unknown, value: unknown): string | null {
  const hostile = guardJson(value, { ...DEFAULT_GUARD, maxListLength: LIST_CAPS[kind] });
  if (hostile.length > 0) return hostile.slice(0, 3).map((d) => `${d.path ?? '/'}: ${d.message}`).join('; ');
  try {
    check();
    return null;
  } catch (err) {
    if (!isStoregateError(err)) throw err;
    return `${err.message}${err.details.length > 0 ? `: ${err.details.slice(0, 3).map((d) => `${d.path ?? '/'} ${d.message}`).join('; ')}` : ''}`;
  }
}

export class Builder {
  /** Serialised `{campaign, ruleset}` per campaign object (the cache replaces the object when it changes). */
  #pieces = new WeakMap<Obj, Piece>();
  #couponKeys = new WeakMap<CampaignCoupons, string>();
  #couponProblems = new WeakMap<CampaignCoupons, string | null>();
  #treeChecked: { tree: Obj | null; problem: string | null } = { tree: null, problem: null };
  #loyaltyChecked: { data: object | null; problem: string | null } = { data: null, problem: null };
  /** Why a shop would refuse a collection (null: it would not), per cached collection object. */
  #collectionProblems = new WeakMap<Obj, string | null>();
  /** How campaign-wide budgets are split among the stores (config `budgets`). */
  budgetSplit: BudgetSplit = { offlineShare: 1, storeWeights: {} };
  /** What the last build left out, per kind. */
  readonly problems: BuildProblem[] = [];

  /** Rules per store; empty until the listing has run (no stores, no application). */
  rules(cache: PullCache): RulesTarget[] {
    if (!cache.application || !cache.stores) return [];
    const app = JSON.stringify(appSettings(cache.application));
    const filters = JSON.stringify(cache.filters ?? []);
    this.#clear('rules');
    const pieces: { piece: Piece; linked: number[] }[] = [];
    for (const c of [...cache.campaigns.values()].sort((a, b) => (a['id'] as number) - (b['id'] as number))) {
      // A campaign whose new ruleset is still being read keeps its previous one meanwhile; one never read is left out.
      const rs = cache.rulesets.get(c['id'] as number);
      if (!rs) continue;
      const piece = this.#piece(c, rs.ruleset);
      if (piece.problem) {
        this.problems.push({ kind: 'rules', what: `campaign ${String(c['id'])}`, error: piece.problem });
        continue;
      }
      pieces.push({ piece, linked: linkedStores(c) });
    }
    const tree = JSON.stringify(this.#tree(withAllCampaigns(cache.tree, pieces.map((p) => p.piece.campaign['id'] as number))));
    const head = hash(`${app}\n${filters}\n${tree}`);
    const groups = new Map<string, () => string>();
    const currency = typeof cache.application['currency'] === 'string' ? cache.application['currency'] : undefined;
    const totals = new Map<Obj, number>();
    return cache.stores.map((store) => {
      const sid = store['id'] as number;
      const mine = pieces.filter((p) => p.linked.length === 0 || p.linked.includes(sid)).map((p) => p.piece);
      const own = JSON.stringify(store);
      const shares = storeShares(store, mine.map((p) => p.campaign), cache.stores ?? [], this.budgetSplit, currency, totals);
      const extra = shares ? `,"budgets":${JSON.stringify(shares)}` : '';
      // The key leaves the read time out: counters read again without moving do not send every shop its rules
      // again (the shop keeps the older readAt, so it forgets less of its offline spending, never more).
      const shareKey = shares ? JSON.stringify(shares.shares) : '';
      const group = hash(`${head}\n${mine.map((p) => p.key).join(',')}`);
      let common = groups.get(group);
      if (!common) {
        let text: string | null = null;
        common = () => (text ??= `{"application":${app},"evaluationTree":${tree},"campaigns":[${mine.map((p) => p.text).join(',')}],"cartItemFilters":${filters}`);
        groups.set(group, common);
      }
      const shared = common;
      return { target: String(store['integrationId']), key: hash(`${group}\n${own}\n${shareKey}`), group, common: shared, own, extra, campaigns: mine.length, text: () => `${shared()},"stores":[${own}]${extra}}` };
    });
  }

  /** Coupons: one target `*` when every store holds the same coupon campaigns, else one per store. */
  coupons(cache: PullCache): CouponsTarget[] {
    this.#clear('coupons');
    if (!cache.stores) return [];
    const global: number[] = [];
    const byStore = new Map<number, number[]>();
    for (const c of cache.campaigns.values()) {
      const id = c['id'] as number;
      const set = cache.coupons.get(id);
      if (!hasCoupons(c) || !set) continue;
      if (!this.#couponProblems.has(set)) this.#couponProblems.set(set, refusal('coupons', () => parseCoupons({ version: 1, full: true, coupons: set.coupons }), set.coupons));
      const problem = this.#couponProblems.get(set);
      if (problem) {
        this.problems.push({ kind: 'coupons', what: `coupons of campaign ${id}`, error: problem });
        continue;
      }
      const linked = linkedStores(c);
      if (linked.length === 0) global.push(id);
      for (const s of linked) byStore.set(s, [...(byStore.get(s) ?? []), id]);
    }
    const everyone = cache.stores.every((s) => byStore.has(s['id'] as number));
    // Identical for all: no store-specific coupon campaign, or (rare) the same ones linked to every store.
    const sameForAll = byStore.size === 0 || (everyone && new Set([...byStore.values()].map((l) => l.sort().join(','))).size === 1);
    if (sameForAll) return [this.#couponTarget(cache, FLEET, [...global, ...(byStore.values().next().value ?? [])])];
    return cache.stores.map((s) => this.#couponTarget(cache, String(s['integrationId']), [...global, ...(byStore.get(s['id'] as number) ?? [])]));
  }

  /**
   * Collections: one set for every shop (`*`), once they have been listed; a collection a shop would refuse is left
   * out, and so is one past what a shop takes in one push (its items over all collections, or their number): the
   * whole push would be refused by every shop otherwise. Those are listed on /fleet.
   */
  collections(cache: PullCache): CollectionsTarget[] {
    this.#clear('collections');
    if (cache.marks.collectionsDone === 0) return [];
    const ok: Obj[] = [];
    let items = 0;
    for (const c of [...cache.collections.values()].sort((a, b) => (a['id'] as number) - (b['id'] as number))) {
      let problem = this.#collectionProblems.get(c);
      if (problem === undefined) {
        problem = refusal('collections', () => parseCollections({ version: 1, full: true, collections: [c] }), c);
        this.#collectionProblems.set(c, problem);
      }
      const n = Array.isArray(c['payload']) ? (c['payload'] as unknown[]).length : 0;
      if (!problem && items + n > MAX_COLLECTIONS_ITEMS) problem = `${n} items would take the push over the ${MAX_COLLECTIONS_ITEMS} items a shop takes over all collections`;
      if (!problem && ok.length >= MAX_COLLECTIONS) problem = `a push carries at most ${MAX_COLLECTIONS} collections`;
      if (problem) this.problems.push({ kind: 'collections', what: `collection ${String(c['id'])}`, error: problem });
      else {
        ok.push(c);
        items += n;
      }
    }
    const text = `{"full":true,"collections":${JSON.stringify(ok)}}`;
    return [{ target: FLEET, key: hash(text), collections: ok.length, text: () => text }];
  }

  loyalty(cache: PullCache): LoyaltyTarget[] {
    this.#clear('loyalty');
    const l = cache.loyalty;
    if (!l) return [];
    const data = { programs: l.programs, balances: l.balances };
    if (this.#loyaltyChecked.data !== l) this.#loyaltyChecked = { data: l, problem: refusal('loyalty', () => parseLoyalty({ version: 1, ...data }), data) };
    if (this.#loyaltyChecked.problem) {
      this.problems.push({ kind: 'loyalty', what: 'balances', error: this.#loyaltyChecked.problem });
      return [];
    }
    const text = JSON.stringify(data);
    return [{ target: FLEET, key: hash(text), readAt: l.readAt, text: () => text }];
  }

  #clear(kind: BuildProblem['kind']): void {
    for (let i = this.problems.length - 1; i >= 0; i--) if (this.problems[i]?.kind === kind) this.problems.splice(i, 1);
  }

  #piece(c: Obj, ruleset: Obj): Piece {
    const had = this.#pieces.get(c);
    if (had && had.ruleset === ruleset) return had;
    const entry = { campaign: shopCampaign(c), ruleset: shopRuleset(ruleset) };
    const text = JSON.stringify(entry);
    const problem = refusal('rules', () => parseRules({ version: 1, application: {}, evaluationTree: null, campaigns: [entry] }), entry);
    const p = { campaign: c, ruleset, text, key: hash(text), problem };
    this.#pieces.set(c, p);
    return p;
  }

  /** A tree a shop would refuse is replaced by none (shops then run every campaign, in payload order). */
  #tree(tree: Obj | null): Obj | null {
    if (tree === null) return null;
    if (this.#treeChecked.tree !== tree) this.#treeChecked = { tree, problem: refusal('rules', () => parseRules({ version: 1, application: {}, evaluationTree: tree, campaigns: [] }), tree) };
    if (!this.#treeChecked.problem) return tree;
    this.problems.push({ kind: 'rules', what: 'evaluation tree', error: this.#treeChecked.problem });
    return null;
  }

  #couponTarget(cache: PullCache, target: string, ids: number[]): CouponsTarget {
    ids = [...new Set(ids)].sort((a, b) => a - b);
    const sets = ids.map((id) => [id, cache.coupons.get(id) as CampaignCoupons] as const);
    const key = hash(sets.map(([id, s]) => `${id}:${this.#couponKey(s)}`).join(','));
    const readAt = sets.length === 0 ? 0 : Math.min(...sets.map(([, s]) => s.readAt));
    return {
      target,
      key,
      readAt,
      coupons: () => {
        const m = new Map<string, Obj>();
        for (const [, s] of sets) for (const k of s.coupons) m.set(k['value'] as string, k);
        return m;
      },
    };
  }

  #couponKey(s: CampaignCoupons): string {
    let k = this.#couponKeys.get(s);
    if (k === undefined) {
      k = hash(JSON.stringify(s.coupons));
      this.#couponKeys.set(s, k);
    }
    return k;
  }
}

/**
 * The evaluation tree with every campaign the shops get. Talon.One puts a new campaign into the tree and says
 * so by notification; until that notification has arrived (or if it was lost) the campaign would be in no set,
 * and a shop evaluates only the campaigns its tree names. It is appended to the root set, where Talon.One's
 * default evaluation group puts new campaigns.
 */
export function withAllCampaigns(tree: Obj | null, ids: number[]): Obj | null {
  if (!tree || typeof tree['set'] !== 'object' || tree['set'] === null) return tree;
  const seen = new Set<number>();
  const walk = (n: Obj): void => {
    if (n['type'] === 'CAMPAIGN' && typeof n['campaignId'] === 'number') seen.add(n['campaignId']);
    if (Array.isArray(n['elements'])) for (const e of n['elements'] as Obj[]) walk(e);
  };
  const set = tree['set'] as Obj;
  walk(set);
  const missing = ids.filter((id) => !seen.has(id));
  if (missing.length === 0) return tree;
  return { ...tree, set: { ...set, elements: [...((set['elements'] as Obj[] | undefined) ?? []), ...missing.map((campaignId) => ({ type: 'CAMPAIGN', campaignId }))] } };
}
