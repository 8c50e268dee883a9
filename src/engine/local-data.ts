import { readFile } from 'node:fs/promises';
import { DataError, StoregateError } from '../core/errors.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { SnapshotStore } from '../state/snapshot-store.js';
import { compileRules, type CompiledRules } from './compile-rules.js';
import { BudgetBook } from './budgets.js';
import { CollectionIndex } from './collections.js';
import { CouponIndex } from './coupons.js';
import { Catalog, mergeCatalog, type CatalogSnapshot } from './catalog.js';
import { Engine, DEFAULT_BUDGET } from './evaluate.js';
import type { FallbackRules } from './fallback.js';
import { guardJson, DEFAULT_GUARD, LIST_CAPS, type GuardLimits } from './ingest/guard.js';
import { parseCatalog } from './ingest/catalog.js';
import { parseCollections } from './ingest/collections.js';
import { parseCoupons } from './ingest/coupons.js';
import { parseLoyalty } from './ingest/loyalty.js';
import { parsePrices } from './ingest/prices.js';
import { parseRules } from './ingest/rules.js';
import { LoyaltyIndex } from './loyalty.js';
import { cachedReads, readAttributes, type ReadAttributes } from './read-attributes.js';
import { EntryBuilder, fromRows, PriceBook, toRow, type EntryRow, type PriceEntry } from './pricebook.js';
import type { CollectionsPayload, Coupon, DataKind, LoyaltyPayload, RulesPayload } from './types.js';

export type { DataKind } from './types.js';

export interface LocalDataLimits extends Partial<GuardLimits> {
  /** Work units per evaluation (Talang nodes, selector item visits). */
  evaluationBudget?: number;
}

interface PricesSnapshot { revision: number; batches: string[]; rows: EntryRow[] }

interface Bundle {
  versions: Record<DataKind, number>;
  updatedAt: number | null;
  rules: CompiledRules;
  rulesPayload: RulesPayload | null;
  prices: PriceBook;
  batches: readonly string[];
  coupons: CouponIndex;
  loyalty: LoyaltyIndex;
  catalog: Catalog;
  collections: CollectionIndex;
  /** When the rules in use were ingested (ms), or null: none yet (fallback promotions read their age). */
  rulesAt: number | null;
  engine: Engine;
}

const EMPTY_RULES: RulesPayload = { version: 0, application: {}, evaluationTree: null, campaigns: [] };
const MAX_BATCH_KEYS = 10_000;

export interface CampaignStatus { id: number; name: string; running: boolean; offlineCapable: boolean; reason: string | null }

export interface LocalDataStatus {
  rulesVersion: number;
  pricesVersion: number;
  couponsVersion: number;
  loyaltyVersion: number;
  catalogVersion: number;
  collectionsVersion: number;
  updatedAt: string | null;
  pricedSkus: number;
  coupons: number;
  catalogItems: number;
  /** Collections held, and their items over all of them. */
  collections: number;
  collectionItems: number;
  /** This store's budget shares from head office: when their counters were read (null: none pushed), and how many. */
  budgetShares: { readAt: string | null; shares: number };
  campaigns: CampaignStatus[];
  /** Fallback promotions (README "Fallback promotions"): null when none are configured. */
  fallback: { campaigns: number; maxRulesAgeSec: number | null; instead: 'rulesEmpty' | 'rulesStale' | null; standsIn: number[] } | null;
}

/**
 * The local data sets (README "Local data": rules, prices, coupons, loyalty, catalog) behind one immutable bundle. `ingest` validates, checks the
 * version, persists the snapshot (durably) and only then swaps the bundle in, so an evaluation sees the
 * old or the new data, never half of an update. Ingestions are serialised.
 */
export class LocalData {
  readonly #store: SnapshotStore;
  readonly #clock: Clock;
  readonly #storeId: string;
  readonly #storeAttrs: Record<string, unknown>;
  readonly #log: Logger | undefined;
  readonly #guard: GuardLimits;
  /** Longest list accepted per kind (coupons and balances can be long; rules are small). */
  readonly #listCap: Partial<Record<DataKind, number>>;
  /** The budget book of the rules in use, and the fallback set compiled with their settings (see #make). */
  #bookFor: { rules: CompiledRules; shares: unknown; book: BudgetBook } | undefined;
  #fallbackFor: { fb: FallbackRules; app: CompiledRules['app']; rules: CompiledRules } | undefined;
  readonly #budget: number;
  #bundle: Bundle;
  /** Fallback promotions from the config (not pushed data): applied to every bundle made. */
  #fallback: FallbackRules | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #couponListeners: ((next: ReadonlyMap<string, Coupon>, version: number) => void)[] = [];
  readonly #loyaltyListeners: ((version: number) => void)[] = [];
  readonly #budgetListeners: ((readAt: number) => void)[] = [];

  constructor(deps: { store: SnapshotStore; clock: Clock; storeIntegrationId: string; storeAttributes?: Record<string, unknown>; log?: Logger; limits?: LocalDataLimits }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#storeId = deps.storeIntegrationId;
    this.#storeAttrs = deps.storeAttributes ?? {};
    this.#log = deps.log;
    this.#guard = { ...DEFAULT_GUARD, ...deps.limits };
    this.#listCap = deps.limits?.maxListLength !== undefined ? {} : LIST_CAPS;
    this.#budget = deps.limits?.evaluationBudget ?? DEFAULT_BUDGET;
    this.#bundle = this.#make({ versions: { rules: 0, prices: 0, coupons: 0, loyalty: 0, catalog: 0, collections: 0 }, updatedAt: null, rules: compileRules(EMPTY_RULES), rulesPayload: null, prices: new PriceBook(), batches: [], coupons: new CouponIndex(), loyalty: new LoyaltyIndex(), catalog: new Catalog(), collections: new CollectionIndex(), rulesAt: null });
  }

  #make(b: Omit<Bundle, 'engine'>): Bundle {
    const rec = b.rules.stores.find((s) => s.integrationId === this.#storeId);
    const data = {
      prices: b.prices, coupons: b.coupons, loyalty: b.loyalty, catalog: b.catalog,
      store: { id: rec?.id, integrationId: this.#storeId, ...(rec?.name !== undefined ? { name: rec.name } : {}), attributes: { ...(rec?.attributes ?? {}), ...this.#storeAttrs } },
    };
    // Budgets only when a campaign has limits the shop enforces: else evaluations skip them altogether. Both it
    // and the fallback set compiled with the rules' settings change only with the rules or the fallback, not with
    // every prices, coupons or loyalty push: they are kept until then.
    const budgets = b.rulesPayload?.budgets;
    if (this.#bookFor?.rules !== b.rules || this.#bookFor.shares !== budgets) this.#bookFor = { rules: b.rules, shares: budgets, book: new BudgetBook(b.rules.list, budgets, b.rules.cur) };
    const book = this.#bookFor.book;
    const fb = this.#fallback;
    // The fallback set without application settings of its own is evaluated with the rules' (currency, time zone).
    let whole: CompiledRules | undefined;
    if (fb === null) whole = undefined;
    else if (Object.keys(fb.payload.application).length > 0) whole = fb.rules;
    else {
      if (this.#fallbackFor?.fb !== fb || this.#fallbackFor.app !== b.rules.app) this.#fallbackFor = { fb, app: b.rules.app, rules: compileRules({ ...fb.payload, application: b.rules.app }) };
      whole = this.#fallbackFor.rules;
    }
    const engine = new Engine({
      ...data, rules: b.rules, ...(book.size > 0 ? { budgets: book } : {}),
      ...(fb && whole ? { fallback: { set: fb, whole: new Engine({ ...data, rules: whole }, { budget: this.#budget }), rulesAt: b.rulesAt } } : {}),
    }, { budget: this.#budget });
    return Object.freeze({ ...b, engine });
  }

  /**
   * Sets (or, with null, removes) the fallback promotions (`offline.fallback`, validated by the config loader):
   * evaluations from now on use them.
   */
  setFallback(fb: FallbackRules | null): void {
    this.#fallback = fb;
    this.#bundle = this.#make(this.#bundle);
  }

  #serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.#queue.then(f, f);
    this.#queue = p.catch(() => undefined);
    return p;
  }

  /** Called after each coupons ingest with the new coupons and their version (the ledger reconciles). */
  onCoupons(fn: (next: ReadonlyMap<string, Coupon>, version: number) => void): void {
    this.#couponListeners.push(fn);
  }

  /** Called after each loyalty ingest with its version (offline spending is reconciled). */
  onLoyalty(fn: (version: number) => void): void {
    this.#loyaltyListeners.push(fn);
  }

  /**
   * Called after each rules ingest carrying budget shares, with the time head office read their counters: offline
   * budget spending confirmed before then is forgotten (README "Durability and the journal").
   */
  onBudgets(fn: (readAt: number) => void): void {
    this.#budgetListeners.push(fn);
  }

  #budgetsRead(p: RulesPayload): void {
    const at = p.budgets?.readAt;
    if (at === undefined) return;
    for (const fn of this.#budgetListeners) {
      try {
        fn(at);
      } catch (err) {
        this.#log?.error({ err }, 'budgets listener threw');
      }
    }
  }

  /** Loads the persisted snapshots (a corrupt one is logged and ignored). */
  start(): Promise<void> {
    return this.#serial(async () => {
      // Collections before the rules: the rules are compiled with them (`inCollection`).
      for (const kind of ['collections', 'rules', 'coupons', 'loyalty', 'prices', 'catalog'] as const) {
        try {
          const snap = await this.#store.load<unknown>(kind);
          if (!snap) continue;
          if (kind === 'prices') {
            const d = snap.data as PricesSnapshot;
            const prices = new PriceBook(fromRows(d.rows));
            this.#bundle = this.#make({ ...this.#bundle, prices, batches: d.batches, versions: { ...this.#bundle.versions, prices: snap.version }, updatedAt: snap.savedAt });
          } else if (kind === 'collections') {
            const collections = CollectionIndex.from((snap.data as CollectionsPayload).collections);
            this.#bundle = this.#make({ ...this.#bundle, collections, versions: { ...this.#bundle.versions, collections: snap.version }, updatedAt: snap.savedAt });
          } else if (kind === 'catalog') {
            const catalog = Catalog.fromSnapshot(snap.data as CatalogSnapshot);
            this.#bundle = this.#make({ ...this.#bundle, catalog, versions: { ...this.#bundle.versions, catalog: snap.version }, updatedAt: snap.savedAt });
          } else {
            this.#apply(kind, snap.data, snap.version, snap.savedAt);
          }
        } catch (e) {
          this.#log?.error({ err: e, kind }, 'local data snapshot unreadable; starting without it');
        }
      }
    });
  }

  #apply(kind: 'rules' | 'coupons' | 'loyalty', data: unknown, version: number, at: number): void {
    const versions = { ...this.#bundle.versions, [kind]: version };
    if (kind === 'rules') {
      const { payload, compiled } = parseRules(data, { collections: this.#bundle.collections });
      this.#bundle = this.#make({ ...this.#bundle, rules: compiled, rulesPayload: payload, versions, updatedAt: at, rulesAt: at });
    } else if (kind === 'coupons') {
      const p = parseCoupons(data);
      this.#bundle = this.#make({ ...this.#bundle, coupons: new CouponIndex(p.coupons), versions, updatedAt: at });
    } else {
      this.#bundle = this.#make({ ...this.#bundle, loyalty: new LoyaltyIndex((data as LoyaltyPayload).programs, (data as LoyaltyPayload).balances), versions, updatedAt: at });
    }
  }

  #stale(kind: DataKind, version: number): never {
    throw new StoregateError('SG_ERR_DATA_STALE', `${kind} version ${version} is not newer than the stored version ${this.#bundle.versions[kind]}`, { statusCode: 409, details: [{ path: '/version', message: `must be greater than ${this.#bundle.versions[kind]}` }] });
  }

  /**
   * Validates → version check → persists → swaps. Throws {@link DataError} (400, JSON pointers) or
   * `SG_ERR_DATA_STALE` (409) for a version not above the stored one. Prices have no version: items
   * replace older item versions; a repeated batch (`trigger.id` + `currentBatch`) changes nothing.
   */
  ingest(kind: DataKind, payload: unknown): Promise<{ kind: DataKind; version: number; changed: number }> {
    return this.#serial(async () => {
      const hostile = guardJson(payload, { ...this.#guard, maxListLength: this.#listCap[kind] ?? this.#guard.maxListLength });
      if (hostile.length > 0) throw new DataError(`invalid ${kind} data`, hostile);
      const now = this.#clock.now();
      const cur = this.#bundle;
      switch (kind) {
        case 'rules': {
          const { payload: p, compiled } = parseRules(payload, { collections: cur.collections });
          if (p.version <= cur.versions.rules) this.#stale(kind, p.version);
          await this.#store.save({ kind, version: p.version, savedAt: now, data: p });
          this.#bundle = this.#make({ ...this.#bundle, rules: compiled, rulesPayload: p, versions: { ...this.#bundle.versions, rules: p.version }, updatedAt: now, rulesAt: now });
          this.#budgetsRead(p);
          return { kind, version: p.version, changed: p.campaigns.length };
        }
        case 'coupons': {
          const p = parseCoupons(payload);
          if (p.version <= cur.versions.coupons) this.#stale(kind, p.version);
          const index = p.full ? new CouponIndex(p.coupons.filter((c) => c.deleted !== true)) : cur.coupons.withDelta(p.coupons);
          const data = { version: p.version, full: true, coupons: [...index.byCode.values()] as Coupon[] };
          await this.#store.save({ kind, version: p.version, savedAt: now, data });
          this.#bundle = this.#make({ ...this.#bundle, coupons: index, versions: { ...this.#bundle.versions, coupons: p.version }, updatedAt: now });
          for (const fn of this.#couponListeners) {
            try {
              fn(index.byCode, p.version);
            } catch (err) {
              this.#log?.error({ err }, 'coupons listener threw');
            }
          }
          return { kind, version: p.version, changed: p.coupons.length };
        }
        case 'loyalty': {
          const p = parseLoyalty(payload);
          if (p.version <= cur.versions.loyalty) this.#stale(kind, p.version);
          await this.#store.save({ kind, version: p.version, savedAt: now, data: p });
          this.#bundle = this.#make({ ...this.#bundle, loyalty: new LoyaltyIndex(p.programs, p.balances), versions: { ...this.#bundle.versions, loyalty: p.version }, updatedAt: now });
          for (const fn of this.#loyaltyListeners) {
            try {
              fn(p.version);
            } catch (err) {
              this.#log?.error({ err }, 'loyalty listener threw');
            }
          }
          return { kind, version: p.version, changed: p.balances.length };
        }
        case 'prices': {
          const batches = parsePrices(payload);
          const seen = new Set(cur.batches);
          const fresh = batches.filter((b) => !seen.has(`${b.trigger.id}:${b.currentBatch}`));
          if (fresh.length === 0) return { kind, version: cur.versions.prices, changed: 0 };
          const entries = new Map<string, PriceEntry>(cur.prices.entries);
          const builder = new EntryBuilder();
          let changed = 0;
          for (const b of fresh) {
            for (const it of b.changedItems) {
              const old = entries.get(it.sku);
              if (old && old.version >= it.version) continue;
              entries.set(it.sku, builder.entry(it));
              changed++;
            }
          }
          const keys = [...cur.batches, ...fresh.map((b) => `${b.trigger.id}:${b.currentBatch}`)].slice(-MAX_BATCH_KEYS);
          const version = cur.versions.prices + 1;
          const rows: EntryRow[] = [];
          for (const e of entries.values()) rows.push(toRow(e));
          await this.#store.save<PricesSnapshot>({ kind, version, savedAt: now, data: { revision: version, batches: keys, rows } });
          this.#bundle = this.#make({ ...this.#bundle, prices: new PriceBook(entries), batches: keys, versions: { ...this.#bundle.versions, prices: version }, updatedAt: now });
          return { kind, version, changed };
        }
        case 'catalog': {
          const p = parseCatalog(payload);
          if (p.version <= cur.versions.catalog) this.#stale(kind, p.version);
          const { catalog, changed } = mergeCatalog(cur.catalog, p.full, p.items);
          // Persisted as its typed arrays (base64): a restart reads them without an object per item.
          await this.#store.save<CatalogSnapshot>({ kind, version: p.version, savedAt: now, data: catalog.toSnapshot() });
          this.#bundle = this.#make({ ...this.#bundle, catalog, versions: { ...this.#bundle.versions, catalog: p.version }, updatedAt: now });
          return { kind, version: p.version, changed };
        }
        case 'collections': {
          const p = parseCollections(payload);
          if (p.version <= cur.versions.collections) this.#stale(kind, p.version);
          const collections = p.full ? CollectionIndex.from(p.collections.filter((c) => c.deleted !== true)) : cur.collections.withDelta(p.collections);
          await this.#store.save<CollectionsPayload>({ kind, version: p.version, savedAt: now, data: { version: p.version, full: true, collections: collections.toPayloadList() } });
          // The rules in use are compiled again with the new collections (a campaign naming a collection it lacked becomes offline-capable, and back).
          const rules = cur.rulesPayload ? compileRules(cur.rulesPayload, { collections }) : cur.rules;
          this.#bundle = this.#make({ ...this.#bundle, rules, collections, versions: { ...this.#bundle.versions, collections: p.version }, updatedAt: now });
          return { kind, version: p.version, changed: p.collections.length };
        }
        default:
          throw new DataError(`unknown data kind ${String(kind)}`, [{ path: '/', message: 'kind must be rules, prices, coupons, loyalty, catalog or collections' }]);
      }
    });
  }

  /**
   * Reads a data file named in config at start and ingests it. A file not newer than the stored data
   * is skipped (returns `changed: 0`) rather than failing the start.
   */
  async ingestFile(kind: DataKind, path: string): Promise<{ kind: DataKind; version: number; changed: number }> {
    let payload: unknown;
    try {
      payload = JSON.parse(await readFile(path, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? `the ${kind} file ${path} (dataFiles.${kind}) does not exist: fix the path in the config, or remove dataFiles.${kind}`
          : code
            ? `cannot read the ${kind} file ${path} (dataFiles.${kind}): ${code}`
            : `the ${kind} file ${path} (dataFiles.${kind}) is not valid JSON: ${(e as Error).message.split('\n')[0]}`;
      throw new DataError(why, [{ path: '/', message: why }]);
    }
    try {
      return await this.ingest(kind, payload);
    } catch (e) {
      if (e instanceof StoregateError && e.code === 'SG_ERR_DATA_STALE') return { kind, version: this.#bundle.versions[kind], changed: 0 };
      throw e;
    }
  }

  /** The versions of the data sets in use (cheap: for the MQTT status, looked at every second). */
  versions(): Readonly<Record<DataKind, number>> {
    return this.#bundle.versions;
  }

  status(): LocalDataStatus {
    const b = this.#bundle;
    const now = this.#clock.now();
    return {
      rulesVersion: b.versions.rules,
      pricesVersion: b.versions.prices,
      couponsVersion: b.versions.coupons,
      loyaltyVersion: b.versions.loyalty,
      catalogVersion: b.versions.catalog,
      collectionsVersion: b.versions.collections,
      updatedAt: b.updatedAt === null ? null : new Date(b.updatedAt).toISOString(),
      pricedSkus: b.prices.size,
      coupons: b.coupons.size,
      catalogItems: b.catalog.size,
      collections: b.collections.size,
      collectionItems: b.collections.items,
      budgetShares: { readAt: b.rulesPayload?.budgets ? new Date(b.rulesPayload.budgets.readAt).toISOString() : null, shares: b.rulesPayload?.budgets?.shares.length ?? 0 },
      campaigns: b.rules.list.map((c) => ({ id: c.id, name: c.name, running: b.engine.eligible(c, now), offlineCapable: c.offlineCapable, reason: c.reason })),
      fallback: this.#fallbackStatus(b, now),
    };
  }

  #fallbackStatus(b: Bundle, now: number): LocalDataStatus['fallback'] {
    const fb = this.#fallback;
    if (!fb) return null;
    const max = fb.maxRulesAgeMs;
    const instead = b.rules.list.length === 0 ? 'rulesEmpty' : max !== null && (b.rulesAt === null || now - b.rulesAt > max) ? 'rulesStale' : null;
    const standsIn = [...fb.replaces].filter(([, ids]) => ids.some((id) => { const c = b.rules.campaigns.get(id); return c !== undefined && !c.offlineCapable && b.engine.eligible(c, now); })).map(([id]) => id);
    return { campaigns: fb.rules.list.length, maxRulesAgeSec: max === null ? null : max / 1000, instead, standsIn };
  }

  /** A cached coupon by code, matched with the application's case sensitivity (undefined: not known here). */
  coupon(code: string): Coupon | undefined {
    const b = this.#bundle;
    return b.coupons.get(code, b.rules.app.caseSensitivity);
  }

  /** Price-book answer for a SKU at `at` (default: now) for a customer in `audienceIds`. */
  priceLookup(sku: string, at?: number, audienceIds: number[] = []): { sku: string; price: number; finalPrice: number; label: string | null; validUntil: string | null } | undefined {
    const b = this.#bundle;
    const a = b.prices.lookup(sku, at ?? this.#clock.now(), new Set(audienceIds), b.rules.cur);
    return a ? { sku: a.sku, price: a.price, finalPrice: a.finalPrice, label: a.label, validUntil: a.validUntil } : undefined;
  }

  /** The evaluator of the current bundle (keep the reference for one whole evaluation). */
  engine(): Engine {
    return this.#bundle.engine;
  }

  /**
   * The session and cart-item attribute names the campaigns here may read (README "Lean payloads"), worked out
   * once per bundle: a rules push (or any data change) makes the next call compute them again.
   */
  readAttributes(): ReadAttributes {
    const b = this.#bundle;
    return cachedReads(b, () =>
      readAttributes({
        rules: b.rules,
        cartItemFilters: b.rulesPayload?.cartItemFilters,
        extra: b.engine.data.fallback?.set.rules,
        storeIntegrationId: this.#storeId,
        known: b.versions.rules > 0,
        now: this.#clock.now(),
      }),
    );
  }
}
