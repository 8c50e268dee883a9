/**
 * When head office pulls what (README "Head office sync"): the first sync (or its resumption) at start, then
 * in three lanes that never wait for each other — `meta` (the audit log every `pull.changesEverySec`, the
 * campaigns notifications name, a full listing every `pull.fullEveryMin`; one lane, so a listing taken before
 * a campaign was created cannot overwrite that campaign's later re-read; while a campaign has budgets, the listing
 * comes every `budgetsEveryMin` for their counters), `coupons` (every `couponsEveryMin`), `loyalty` (every
 * `loyaltyEveryMin`) and `collections` (every `collectionsEveryMin`, from the start on: it does not wait for the
 * first sync, nor does the first sync wait for it). A failed step is retried after a growing pause (5 s doubling to
 * 5 min); its error is shown on /fleet.
 */
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { PullCache } from './cache.js';
import type { Puller } from './pull.js';

export interface PullStatus {
  initialDone: boolean;
  lastListingAt: string | null;
  lastCouponsAt: string | null;
  lastLoyaltyAt: string | null;
  lastCollectionsAt: string | null;
  lastChangesAt: string | null;
  running: string[];
  queuedCampaigns: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface SchedulerOptions {
  puller: Puller;
  cache: PullCache;
  clock: Clock;
  log: Logger;
  changesEverySec: number;
  couponsEveryMin: number;
  loyaltyEveryMin: number;
  fullEveryMin: number;
  collectionsEveryMin: number;
  budgetsEveryMin: number;
}

type Lane = 'meta' | 'coupons' | 'loyalty' | 'collections';

const TICK_MS = 250;

export class Scheduler {
  readonly #o: SchedulerOptions;
  readonly #abort = new AbortController();
  readonly #busy = new Map<Lane, string>();
  readonly #retryAt = new Map<Lane, number>();
  readonly #failures = new Map<Lane, number>();
  readonly #campaigns = new Map<number, boolean>();
  #initialDone = false;
  #lastChanges = 0;
  #lastError: string | null = null;
  #lastErrorAt: number | null = null;
  #loop: Promise<void> | null = null;
  /** The collections are read at the next tick (a notification said one was edited). */
  #collectionsDue = false;
  /** Ends the current tick early (a notification named a campaign: no need to wait for the next tick). */
  #wake: (() => void) | null = null;

  constructor(o: SchedulerOptions) {
    this.#o = o;
  }

  get initialDone(): boolean {
    return this.#initialDone;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#abort.abort(new Error('stopping'));
    await this.#loop;
  }

  /** A campaign a notification named: read again soon (`deleted`: dropped without a request). */
  campaign(id: number, deleted: boolean): void {
    this.#campaigns.set(id, deleted || (this.#campaigns.get(id) ?? false));
    this.#wake?.();
  }

  /** A collection was edited (a notification said so): the collections are read again soon. */
  collections(): void {
    this.#collectionsDue = true;
    this.#wake?.();
  }

  status(): PullStatus {
    const m = this.#o.cache.marks;
    const iso = (t: number | null) => (t ? new Date(t).toISOString() : null);
    return {
      initialDone: this.#initialDone,
      lastListingAt: iso(m.fullDone),
      lastCouponsAt: iso(m.couponsDone),
      lastLoyaltyAt: iso(m.loyaltyDone),
      lastCollectionsAt: iso(m.collectionsDone),
      lastChangesAt: iso(this.#lastChanges),
      running: [...this.#busy.values()],
      queuedCampaigns: this.#campaigns.size,
      lastError: this.#lastError,
      lastErrorAt: iso(this.#lastErrorAt),
    };
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const p = this.#o.puller;
    const lanes = new Set<Promise<void>>();
    const track = (q: Promise<void>) => {
      lanes.add(q);
      void q.finally(() => lanes.delete(q));
    };
    while (!signal.aborted) {
      const now = this.#o.clock.now();
      const m = this.#o.cache.marks;
      if (!this.#initialDone) {
        if (this.#free('meta', now)) track(this.#go('meta', 'first sync', () => p.initial(signal).then(() => void (this.#initialDone = true))));
      } else {
        if (this.#free('meta', now)) {
          if (this.#campaigns.size > 0) {
            const batch = [...this.#campaigns];
            this.#campaigns.clear();
            track(this.#go('meta', `campaigns ${batch.map(([id]) => id).join(',')}`, async () => {
              try {
                for (const [id, deleted] of batch) await (deleted ? p.dropCampaign(id) : p.campaign(id, signal));
              } catch (err) {
                for (const [id, deleted] of batch) this.campaign(id, deleted); // read again at the retry
                throw err;
              }
            }));
          } else if (now - m.fullDone >= this.#listingEveryMs()) {
            track(this.#go('meta', 'listing', () => p.listing(signal)));
          } else if (now - this.#lastChanges >= this.#o.changesEverySec * 1000) {
            track(this.#go('meta', 'audit log', async () => {
              await p.changes(signal);
              this.#lastChanges = this.#o.clock.now();
            }));
          }
        }
        if (this.#free('coupons', now) && now - m.couponsDone >= this.#o.couponsEveryMin * 60_000) track(this.#go('coupons', 'coupons', () => p.coupons(signal)));
        if (this.#free('loyalty', now) && now - m.loyaltyDone >= this.#o.loyaltyEveryMin * 60_000) track(this.#go('loyalty', 'loyalty', () => p.loyalty(signal)));
      }
      if (this.#free('collections', now) && (this.#collectionsDue || now - m.collectionsDone >= this.#o.collectionsEveryMin * 60_000)) {
        this.#collectionsDue = false;
        track(this.#go('collections', 'collections', () => p.collections(signal)));
      }
      const woken = new Promise<void>((r) => (this.#wake = r));
      try {
        await Promise.race([this.#o.clock.sleep(TICK_MS, signal), woken]);
      } catch {
        break;
      } finally {
        this.#wake = null;
      }
    }
    await Promise.allSettled([...lanes]);
  }

  /** The listing's period: `budgetsEveryMin` while a campaign carries budget counters (they move without an edit). */
  #listingEveryMs(): number {
    let budgets = false;
    for (const c of this.#o.cache.campaigns.values()) if (Array.isArray(c['budgets']) && (c['budgets'] as unknown[]).length > 0) { budgets = true; break; }
    return (budgets ? Math.min(this.#o.fullEveryMin, this.#o.budgetsEveryMin) : this.#o.fullEveryMin) * 60_000;
  }

  #free(lane: Lane, now: number): boolean {
    return !this.#busy.has(lane) && now >= (this.#retryAt.get(lane) ?? 0);
  }

  #go(lane: Lane, what: string, f: () => Promise<void>): Promise<void> {
    this.#busy.set(lane, what);
    return f().then(
      () => {
        this.#failures.delete(lane);
        this.#busy.delete(lane);
        this.#wake?.(); // work that waited for this lane starts now
      },
      (err: unknown) => {
        this.#busy.delete(lane);
        if (this.#abort.signal.aborted) return;
        const n = (this.#failures.get(lane) ?? 0) + 1;
        this.#failures.set(lane, n);
        const wait = Math.min(300_000, 5000 * 2 ** (n - 1));
        this.#retryAt.set(lane, this.#o.clock.now() + wait);
        this.#lastError = `${what}: ${(err as Error).message}`;
        this.#lastErrorAt = this.#o.clock.now();
        this.#o.log.warn({ lane, step: what, err: (err as Error).message, retryInMs: wait }, 'head office: pull step failed; trying again later');
      },
    );
  }
}
