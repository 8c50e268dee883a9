/**
 * Reconciliation (CONTRACT §6, §4 `GET /admin/reconciliation`): where Talon.One's answer to a flushed
 * session differs from what the shop told the terminal offline (a coupon accepted locally but rejected
 * upstream, different loyalty points), one entry is recorded. Entries persist in the snapshot store
 * (kind `reconciliation`), newest N kept.
 */
import type { LocalOutcome } from '../checkout/records.js';
import type { Effect } from '../engine/index.js';
import type { SnapshotStore } from '../state/snapshot-store.js';

export interface ReconciliationEntry {
  /** ISO time the difference was found. */
  at: string;
  kind: 'couponRejected' | 'loyaltyMismatch' | 'effectsDiffer';
  sessionId: string;
  terminalId: string;
  coupon?: string;
  /** Upstream `rejectionReason` (couponRejected), when upstream gave one. */
  reason?: string;
  /** The local effects concerned (the coupon's effects, or the loyalty effects). */
  localEffects: unknown[];
  /** The upstream effects concerned. */
  upstreamEffects: unknown[];
  /** Journal seq of the record whose upstream answer differed (the last of a coalesced group). */
  seq: number;
  /** loyaltyMismatch: net points by program id, local vs upstream. */
  localPoints?: Record<string, number>;
  upstreamPoints?: Record<string, number>;
}

const KIND = 'reconciliation';
const POINTS_EPSILON = 0.005;

interface Stored {
  entries: ReconciliationEntry[];
}

const entryKey = (e: ReconciliationEntry): string => `${e.seq}|${e.kind}|${e.coupon ?? ''}`;

/** Bounded, persisted list of reconciliation entries. `add` resolves once the snapshot is durable. */
export class ReconciliationLog {
  readonly #store: SnapshotStore;
  readonly #max: number;
  readonly #now: () => number;
  #entries: ReconciliationEntry[] = [];
  #keys = new Set<string>();
  #version = 0;
  #saving: Promise<void> | undefined;
  #dirty = false;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  constructor(store: SnapshotStore, opts: { max?: number; now?: () => number } = {}) {
    this.#store = store;
    this.#max = Math.max(1, opts.max ?? 10_000);
    this.#now = opts.now ?? Date.now;
  }

  /** Loads the persisted entries (call once before `add`/`list`). */
  async start(): Promise<void> {
    const snap = await this.#store.load<Stored>(KIND);
    const entries = Array.isArray(snap?.data?.entries) ? snap.data.entries : [];
    this.#entries = entries.slice(-this.#max);
    this.#keys = new Set(this.#entries.map(entryKey));
    this.#version = snap?.version ?? 0;
  }

  /**
   * Records an entry (ignored when the same seq/kind/coupon is already recorded: a replay after a crash
   * between reconciliation and delivery marking finds the same difference again).
   */
  async add(e: ReconciliationEntry): Promise<void> {
    const k = entryKey(e);
    if (this.#keys.has(k)) return;
    this.#keys.add(k);
    this.#entries.push(e);
    if (this.#entries.length > this.#max) {
      for (const old of this.#entries.splice(0, this.#entries.length - this.#max)) this.#keys.delete(entryKey(old));
    }
    await this.#persist();
  }

  /** Entries, oldest first (a copy). */
  list(): ReconciliationEntry[] {
    return this.#entries.slice();
  }

  /** Saves are serialised; adds made during a save share the next one. */
  #persist(): Promise<void> {
    this.#dirty = true;
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#saving) this.#saving = this.#loop();
    return p;
  }

  async #loop(): Promise<void> {
    while (this.#dirty) {
      this.#dirty = false;
      const waiters = this.#waiters;
      this.#waiters = [];
      try {
        this.#version += 1;
        await this.#store.save<Stored>({ kind: KIND, version: this.#version, savedAt: this.#now(), data: { entries: this.#entries.slice() } });
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    }
    this.#saving = undefined;
  }
}

/** Loyalty points by program id: Σ addLoyaltyPoints − Σ deductLoyaltyPoints `props.value`. */
export function loyaltyPointsOf(effects: readonly Effect[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of effects) {
    const sign = e.effectType === 'addLoyaltyPoints' ? 1 : e.effectType === 'deductLoyaltyPoints' ? -1 : 0;
    if (sign === 0) continue;
    const v = Number(e.props['value']);
    if (!Number.isFinite(v)) continue;
    const id = String(e.props['programId'] ?? '');
    out[id] = Math.round(((out[id] ?? 0) + sign * v) * 100) / 100;
  }
  return out;
}

const isLoyalty = (e: Effect): boolean => e.effectType === 'addLoyaltyPoints' || e.effectType === 'deductLoyaltyPoints';
const couponOf = (e: Effect): string | undefined => (typeof e.props['value'] === 'string' ? e.props['value'] : undefined);

/**
 * The differences between what the shop answered (`local`) and what upstream answered (`upstream`
 * effects) for one session update. Pure: the caller stamps and stores them.
 */
export function diffOutcome(
  ctx: { sessionId: string; terminalId: string; seq: number; at: string },
  local: LocalOutcome,
  upstream: readonly Effect[],
): ReconciliationEntry[] {
  const out: ReconciliationEntry[] = [];
  const localEffects = Array.isArray(local.effects) ? local.effects : [];
  for (const code of new Set(local.acceptedCoupons ?? [])) {
    const accepted = upstream.some((e) => e.effectType === 'acceptCoupon' && couponOf(e) === code);
    if (accepted) continue;
    const rejected = upstream.find((e) => e.effectType === 'rejectCoupon' && couponOf(e) === code);
    const reason = rejected?.props['rejectionReason'];
    out.push({
      ...ctx,
      kind: 'couponRejected',
      coupon: code,
      ...(typeof reason === 'string' ? { reason } : { reason: rejected ? 'unknown' : 'notAcceptedUpstream' }),
      localEffects: localEffects.filter((e) => couponOf(e) === code || e.props['name'] === code),
      upstreamEffects: upstream.filter((e) => couponOf(e) === code),
    });
  }
  const mine = normalise(local.loyaltyPoints ?? {});
  const theirs = loyaltyPointsOf(upstream);
  const programs = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
  if ([...programs].some((p) => Math.abs((mine[p] ?? 0) - (theirs[p] ?? 0)) > POINTS_EPSILON)) {
    out.push({
      ...ctx,
      kind: 'loyaltyMismatch',
      localEffects: localEffects.filter(isLoyalty),
      upstreamEffects: upstream.filter(isLoyalty),
      localPoints: mine,
      upstreamPoints: theirs,
    });
  }
  return out;
}

function normalise(p: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(p)) if (typeof v === 'number' && Number.isFinite(v) && v !== 0) out[k] = v;
  return out;
}
