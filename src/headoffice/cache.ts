/**
 * Head office's copy of what it pulled from Talon.One, kept durable as it is pulled so that a restart resumes a
 * pull instead of starting over: a pull that took 500 ruleset requests (three minutes at 3 requests/s) and
 * died at the 300th needs 200 more, not 500.
 *
 * Every fact pulled is one line of an append-only log (`state/pull.log`, appended and fdatasync'd per page:
 * src/state/append-log.ts), applied in memory at once; from time to time the whole cache is written as one
 * snapshot (`state/pull-cache.json`, atomic replace) and the log lines it covers are dropped. Each line has a
 * sequence number and the snapshot says up to which one it holds, so a crash between the two steps replays
 * nothing twice. A torn last line (a power cut mid-append) is skipped: that page is pulled again.
 */
import path from 'node:path';
import { type DurableFs, nodeDurableFs } from '../platform/durable-fs.js';
import { AppendLog } from '../state/append-log.js';
import { FileSnapshotStore, type SnapshotStore } from '../state/snapshot-store.js';
import type { Obj } from './shapes.js';

export interface CampaignCoupons {
  /** When the pull that read these coupons started: their usage counters are at least that fresh. */
  readAt: number;
  coupons: Obj[];
}

/** A coupon pull of one campaign in progress: pages so far, and where the next page starts. */
export interface CouponRun {
  startedAt: number;
  next: number;
  coupons: Obj[];
}

export interface LoyaltyData {
  readAt: number;
  programs: Obj[];
  balances: Obj[];
}

/** When each kind of pull last started and finished (ms; 0 = never). */
export interface Marks {
  fullStarted: number;
  fullDone: number;
  couponsStarted: number;
  couponsDone: number;
  loyaltyStarted: number;
  loyaltyDone: number;
  collectionsStarted: number;
  collectionsDone: number;
}

export type Entry =
  | { t: 'app'; v: Obj }
  | { t: 'campaigns'; v: Obj[] }
  | { t: 'campaign'; v: Obj }
  | { t: 'campaignGone'; id: number }
  | { t: 'ruleset'; campaignId: number; rulesetId: number; v: Obj }
  | { t: 'stores'; v: Obj[] }
  | { t: 'filters'; v: Obj[] }
  | { t: 'tree'; v: Obj | null }
  | { t: 'couponsPage'; campaignId: number; startedAt: number; skip: number; next: number | null; v: Obj[] }
  | { t: 'couponsDone'; campaignId: number }
  | { t: 'couponsDrop'; campaignId: number }
  | { t: 'loyalty'; v: LoyaltyData }
  /** A collection with its items (`payload`), read whole. */
  | { t: 'collection'; v: Obj }
  | { t: 'collectionsGone'; ids: number[] }
  | { t: 'cursor'; at: string; ids: number[] }
  | { t: 'mark'; key: keyof Marks; at: number };

type Line = Entry & { n: number };

interface CacheSnapshot {
  n: number;
  application: Obj | null;
  campaigns: Obj[];
  rulesets: [number, { rulesetId: number; ruleset: Obj }][];
  stores: Obj[] | null;
  filters: Obj[] | null;
  tree: Obj | null;
  coupons: [number, CampaignCoupons][];
  runs: [number, CouponRun][];
  loyalty: LoyaltyData | null;
  collections?: Obj[];
  cursor: { at: string | null; ids: number[] };
  marks: Marks;
}

const COMPACT_BYTES = 32 * 1024 * 1024;

export class PullCache {
  application: Obj | null = null;
  /** Campaigns the shops should hold (enabled, running or scheduled), by id. */
  readonly campaigns = new Map<number, Obj>();
  /** The active ruleset (RulesetV2) of each campaign, by campaign id. */
  readonly rulesets = new Map<number, { rulesetId: number; ruleset: Obj }>();
  stores: Obj[] | null = null;
  /** Application cart item filters as the shops read them: `{name, expression}`. */
  filters: Obj[] | null = null;
  /** The campaign evaluation tree (`CampaignSet`); only notifications carry it. */
  tree: Obj | null = null;
  readonly coupons = new Map<number, CampaignCoupons>();
  readonly runs = new Map<number, CouponRun>();
  loyalty: LoyaltyData | null = null;
  /** Collections the rules may name (account-level ones enabled for the Application, campaign-level ones), by id, with their items. */
  readonly collections = new Map<number, Obj>();
  /** The audit log position: `createdAfter` of the next read, and the change ids seen at that instant. */
  cursor: { at: string | null; ids: number[] } = { at: null, ids: [] };
  marks: Marks = { fullStarted: 0, fullDone: 0, couponsStarted: 0, couponsDone: 0, loyaltyStarted: 0, loyaltyDone: 0, collectionsStarted: 0, collectionsDone: 0 };

  readonly #log: AppendLog<Line>;
  readonly #snapshots: SnapshotStore;
  #n = 0;
  #logBytes = 0;

  private constructor(dataDir: string, fs: DurableFs) {
    this.#log = new AppendLog<Line>(path.join(dataDir, 'state', 'pull.log'), fs);
    this.#snapshots = new FileSnapshotStore(dataDir, fs);
  }

  /** Opens the cache of a data dir: the snapshot, then the log lines written after it. */
  static async open(dataDir: string, fs: DurableFs = nodeDurableFs): Promise<PullCache> {
    const c = new PullCache(dataDir, fs);
    const snap = await c.#snapshots.load<CacheSnapshot>('pull-cache');
    if (snap) c.#restore(snap.data);
    for (const line of await c.#log.read()) {
      if (typeof line !== 'object' || line === null || typeof line.n !== 'number' || line.n <= c.#n) continue;
      c.#apply(line);
      c.#n = line.n;
    }
    return c;
  }

  /** Applies the entries now and makes them durable (one append, one fdatasync) before resolving. */
  async record(...entries: Entry[]): Promise<void> {
    const lines = entries.map((e) => ({ ...e, n: ++this.#n }) as Line);
    for (const l of lines) this.#apply(l);
    for (const l of lines) this.#logBytes += 64 + (l.t === 'couponsPage' || l.t === 'loyalty' || l.t === 'campaigns' ? 200 * lengthOf(l) : l.t === 'collection' ? 32 * lengthOf(l) : 2000);
    await this.#log.append(lines);
  }

  /** Writes the snapshot and drops the log lines it holds, when the log has grown (or `force`). */
  async compact(force = false): Promise<void> {
    if (!force && this.#logBytes < COMPACT_BYTES) return;
    const upTo = this.#n;
    const data = this.#snapshot(upTo);
    await this.#snapshots.save({ kind: 'pull-cache', version: upTo, savedAt: Date.now(), data });
    await this.#log.compact((l) => l.n > upTo);
    this.#logBytes = 0;
  }

  /** Coupons of a campaign as last pulled completely (undefined: never). */
  couponsOf(campaignId: number): CampaignCoupons | undefined {
    return this.coupons.get(campaignId);
  }

  #apply(e: Line): void {
    switch (e.t) {
      case 'app': this.application = e.v; break;
      case 'campaigns': {
        const keep = new Set(e.v.map((c) => c['id'] as number));
        for (const id of [...this.campaigns.keys()]) if (!keep.has(id)) this.#drop(id);
        for (const c of e.v) this.campaigns.set(c['id'] as number, c);
        break;
      }
      case 'campaign': this.campaigns.set(e.v['id'] as number, e.v); break;
      case 'campaignGone': this.#drop(e.id); break;
      case 'ruleset': this.rulesets.set(e.campaignId, { rulesetId: e.rulesetId, ruleset: e.v }); break;
      case 'stores': this.stores = e.v; break;
      case 'filters': this.filters = e.v; break;
      case 'tree': this.tree = e.v; break;
      case 'couponsPage': {
        // A page at skip 0 starts a new run; a later page belongs to the run it continues.
        const run = e.skip === 0 ? { startedAt: e.startedAt, next: 0, coupons: [] as Obj[] } : this.runs.get(e.campaignId);
        if (!run || run.next !== e.skip) break; // out of order: ignored (its run starts again)
        run.coupons.push(...e.v);
        run.next = e.next ?? run.next + e.v.length;
        this.runs.set(e.campaignId, run);
        break;
      }
      case 'couponsDone': {
        const run = this.runs.get(e.campaignId);
        if (run) this.coupons.set(e.campaignId, { readAt: run.startedAt, coupons: run.coupons });
        this.runs.delete(e.campaignId);
        break;
      }
      case 'couponsDrop': this.coupons.delete(e.campaignId); this.runs.delete(e.campaignId); break;
      case 'loyalty': this.loyalty = e.v; break;
      case 'collection': this.collections.set(e.v['id'] as number, e.v); break;
      case 'collectionsGone': for (const id of e.ids) this.collections.delete(id); break;
      case 'cursor': this.cursor = { at: e.at, ids: e.ids }; break;
      case 'mark': this.marks = { ...this.marks, [e.key]: e.at }; break;
    }
  }

  #drop(id: number): void {
    this.campaigns.delete(id);
    this.rulesets.delete(id);
    this.coupons.delete(id);
    this.runs.delete(id);
  }

  #snapshot(n: number): CacheSnapshot {
    return {
      n,
      application: this.application,
      campaigns: [...this.campaigns.values()],
      rulesets: [...this.rulesets],
      stores: this.stores,
      filters: this.filters,
      tree: this.tree,
      coupons: [...this.coupons],
      runs: [...this.runs],
      loyalty: this.loyalty,
      collections: [...this.collections.values()],
      cursor: this.cursor,
      marks: this.marks,
    };
  }

  #restore(s: CacheSnapshot): void {
    this.#n = s.n;
    this.application = s.application;
    for (const c of s.campaigns) this.campaigns.set(c['id'] as number, c);
    for (const [k, v] of s.rulesets) this.rulesets.set(k, v);
    this.stores = s.stores;
    this.filters = s.filters;
    this.tree = s.tree;
    for (const [k, v] of s.coupons) this.coupons.set(k, v);
    for (const [k, v] of s.runs) this.runs.set(k, v);
    this.loyalty = s.loyalty;
    for (const c of s.collections ?? []) this.collections.set(c['id'] as number, c);
    this.cursor = s.cursor;
    this.marks = { ...this.marks, ...s.marks };
  }
}

function lengthOf(l: Line): number {
  if (l.t === 'couponsPage' || l.t === 'campaigns') return l.v.length;
  if (l.t === 'loyalty') return l.v.balances.length;
  if (l.t === 'collection') return Array.isArray(l.v['payload']) ? (l.v['payload'] as unknown[]).length : 1;
  return 1;
}
