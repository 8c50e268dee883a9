/**
 * The fleet as head office sees it, from what every shop publishes retained (README "Head office and MQTT"):
 * `P/status` (online, mode, upstream, journal depth, the versions in use; `{"online":false}` as its Last Will)
 * and `P/<kind>/ack` (the outcome of its last push of each kind). Compared with what was last pushed to each
 * shop, it says which shops lag behind or refuse pushes. Kept durable (`state/fleet.json`) so "last seen"
 * survives a restart of head office (a retained status does not say when it was sent).
 */
import type { SnapshotStore } from '../state/snapshot-store.js';
import { FLEET } from './build.js';
import type { PushKind, Streams } from './streams.js';

export const KINDS = ['config', 'rules', 'prices', 'coupons', 'loyalty', 'collections'] as const;
export type AckKind = (typeof KINDS)[number];

export interface AckView {
  version: number | null;
  ok: boolean;
  code: string | null;
  error: string | null;
  at: string;
}

export interface ShopRecord {
  store: string;
  online: boolean | null;
  mode: string | null;
  upstream: string | null;
  journalDepth: number | null;
  /** The shop's oldest undelivered journal record, when its status carries it (`journalOldestAgeSec`). */
  oldestUndeliveredAgeSec: number | null;
  softwareVersion: string | null;
  /** Versions in use, from its status. */
  status: Partial<Record<AckKind, number>>;
  /** Highest version each kind's acks said was applied (the repair check uses these, not the status). */
  acked: Partial<Record<AckKind, number>>;
  acks: Partial<Record<AckKind, AckView>>;
  lastRefusal: (AckView & { kind: AckKind }) | null;
  lastSeen: string | null;
}

export interface ShopView extends ShopRecord {
  applied: Record<PushKind, number | null>;
  latest: Record<PushKind, number | null>;
  behind: PushKind[];
  lagging: boolean;
  refusing: boolean;
  silent: boolean;
  /** ok, offline, silent, lagging, refusing, syncing (behind, within lagAfterSec). */
  state: 'ok' | 'offline' | 'silent' | 'lagging' | 'refusing' | 'syncing' | 'unknown';
}

const STATUS_FIELD: Record<AckKind, string> = { config: 'configVersion', rules: 'rulesVersion', prices: 'pricesVersion', coupons: 'couponsVersion', loyalty: 'loyaltyVersion', collections: 'collectionsVersion' };
const PUSHED: PushKind[] = ['rules', 'coupons', 'loyalty', 'prices', 'collections'];

export class Fleet {
  readonly #shops = new Map<string, ShopRecord>();
  readonly #store: SnapshotStore;
  readonly #now: () => number;
  #dirty = false;

  constructor(store: SnapshotStore, now: () => number) {
    this.#store = store;
    this.#now = now;
  }

  async start(): Promise<void> {
    const s = await this.#store.load<ShopRecord[]>('fleet');
    for (const r of s?.data ?? []) this.#shops.set(r.store, r);
  }

  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    await this.#store.save({ kind: 'fleet', version: 1, savedAt: this.#now(), data: [...this.#shops.values()] });
  }

  #shop(store: string): ShopRecord {
    let r = this.#shops.get(store);
    if (!r) {
      r = { store, online: null, mode: null, upstream: null, journalDepth: null, oldestUndeliveredAgeSec: null, softwareVersion: null, status: {}, acked: {}, acks: {}, lastRefusal: null, lastSeen: null };
      this.#shops.set(store, r);
    }
    this.#dirty = true;
    return r;
  }

  /** A `P/status` message. A retained one (delivered on subscribe) does not move "last seen". */
  status(store: string, s: Record<string, unknown>, retained: boolean): void {
    const r = this.#shop(store);
    r.online = s['online'] === true;
    if (!retained || r.lastSeen === null) r.lastSeen = new Date(this.#now()).toISOString();
    if (s['online'] !== true) return; // the Last Will / clean stop carries nothing else
    r.mode = str(s['mode']);
    r.upstream = str(s['upstream']);
    r.journalDepth = num(s['journalDepth']);
    r.oldestUndeliveredAgeSec = num(s['journalOldestAgeSec']);
    r.softwareVersion = str(s['version']);
    for (const k of KINDS) {
      const v = num(s[STATUS_FIELD[k]]);
      if (v !== null) r.status[k] = v;
    }
  }

  /**
   * A `P/<kind>/ack` message; returns the version acknowledged before it (for the repair check) when it is an
   * applied push, else null.
   */
  ack(store: string, kind: AckKind, a: Record<string, unknown>): { version: number; before: number } | null {
    const r = this.#shop(store);
    const view: AckView = { version: num(a['version']), ok: a['ok'] === true, code: str(a['code']), error: str(a['error']), at: new Date(this.#now()).toISOString() };
    r.acks[kind] = view;
    if (!view.ok) {
      r.lastRefusal = { ...view, kind };
      return null;
    }
    if (view.version === null) return null;
    const before = r.acked[kind] ?? 0;
    r.acked[kind] = Math.max(before, view.version);
    return { version: view.version, before };
  }

  get size(): number {
    return this.#shops.size;
  }

  /** Every shop known from the broker or from Talon.One's store list, with what it lacks. */
  view(o: { streams: Streams; stores: readonly string[]; staleAfterSec: number; lagAfterSec: number }): ShopView[] {
    const now = this.#now();
    const names = new Set([...o.stores, ...this.#shops.keys()]);
    return [...names].sort().map((store) => {
      const r = this.#shops.get(store) ?? { store, online: null, mode: null, upstream: null, journalDepth: null, oldestUndeliveredAgeSec: null, softwareVersion: null, status: {}, acked: {}, acks: {}, lastRefusal: null, lastSeen: null };
      const applied = {} as Record<PushKind, number | null>;
      const latest = {} as Record<PushKind, number | null>;
      const behind: PushKind[] = [];
      let lagging = false;
      for (const k of PUSHED) {
        // Prices have no version of their own in a shop's status: the acknowledged push version counts.
        const a = k === 'prices' ? (r.acked.prices ?? null) : Math.max(r.status[k] ?? 0, r.acked[k] ?? 0) || null;
        const own = o.streams.get(k, store);
        const fleet = o.streams.get(k, FLEET);
        const l = Math.max(own?.key !== null ? (own?.version ?? 0) : 0, fleet?.version ?? 0) || null;
        applied[k] = a;
        latest[k] = l;
        if (l !== null && (a ?? 0) < l) {
          behind.push(k);
          const since = Math.max(own?.publishedAt ?? 0, fleet?.publishedAt ?? 0);
          if (now - since > o.lagAfterSec * 1000) lagging = true;
        }
      }
      const refusal = r.lastRefusal;
      // A refusal that a later applied push of the same kind superseded, or a retained push seen again after a
      // newer one ("not higher than the applied version"), is history, not a problem.
      const refusing = refusal !== null && !(refusal.code === 'SG_ERR_PUSH_STALE') && !(r.acks[refusal.kind]?.ok === true);
      const silent = r.online === true && r.lastSeen !== null && now - Date.parse(r.lastSeen) > o.staleAfterSec * 1000;
      const state: ShopView['state'] =
        r.online === null ? 'unknown' : refusing ? 'refusing' : r.online === false ? 'offline' : silent ? 'silent' : lagging ? 'lagging' : behind.length > 0 ? 'syncing' : 'ok';
      return { ...r, applied, latest, behind, lagging, refusing, silent, state };
    });
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
