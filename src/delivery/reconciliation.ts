/**
 * Reconciliation (README "Operations API", `GET /admin/reconciliation`): where Talon.One's answer to a flushed
 * session differs from what the shop told the terminal offline (a coupon accepted locally but rejected
 * upstream, different loyalty points), one entry is recorded, newest N kept. Manual overrides answered locally
 * are entered here too, as they are answered (src/overrides/: kind `manualOverride`), for the same readers.
 *
 * Storage: an append-only NDJSON file (`<dataDir>/state/reconciliation.log`): each add appends its own line
 * (one fdatasync, shared by the adds made meanwhile), and the file is compacted to the newest N only once it
 * holds 2N lines, so a write costs O(1) entries amortised, not the whole list (the former snapshot rewrote
 * up to 10,000 entries on every add). Entries of the former snapshot (kind `reconciliation`) are carried over
 * once, on the first start that finds no log.
 */
import type { JournalRecord, LocalOutcome } from '../checkout/records.js';
import type { JournalEntry } from '../journal/index.js';
import type { FlusherDeps } from './flush-types.js';
import type { Effect } from '../engine/index.js';
import { FALLBACK_PREFIX } from '../engine/index.js';
import type { DurableFs } from '../platform/durable-fs.js';
import { AppendLog } from '../state/append-log.js';
import type { SnapshotStore } from '../state/snapshot-store.js';

export interface ReconciliationEntry {
  /** ISO time the difference was found. */
  at: string;
  kind: 'couponRejected' | 'loyaltyMismatch' | 'effectsDiffer' | 'fallbackApplied' | 'manualOverride';
  sessionId: string;
  terminalId: string;
  coupon?: string;
  /** Upstream `rejectionReason` (couponRejected), when upstream gave one; why fallback promotions were given (fallbackApplied). */
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
  /** manualOverride: the override a terminal reported while answered locally (README "Manual overrides"). */
  override?: { eventType: string; profileId: string; attributes?: Record<string, unknown>; day: string; offlineToday: number; cap: number; overCap: boolean };
}

const LEGACY_KIND = 'reconciliation';
const POINTS_EPSILON = 0.005;

const entryKey = (e: ReconciliationEntry): string => `${e.seq}|${e.kind}|${e.coupon ?? ''}`;

export interface ReconciliationLogOptions {
  /** The log file (`<dataDir>/state/reconciliation.log` in the daemon). */
  file: string;
  /** Where entries lived before the log existed: read once when the log is missing. */
  legacy?: SnapshotStore;
  /** Entries kept (default 10,000). */
  max?: number;
  /** The filesystem (default node:fs). */
  fs?: DurableFs;
}

/**
 * Bounded, persisted list of reconciliation entries. `add` resolves once its line is durable. Only the keys of
 * the newest N entries stay in memory (for de-duplication and the count); `list` reads the entries from the
 * file, so a shop with thousands of them does not hold their effects in memory.
 */
export class ReconciliationLog {
  readonly #log: AppendLog<ReconciliationEntry>;
  readonly #legacy: SnapshotStore | undefined;
  readonly #max: number;
  /** Keys of the newest N entries, oldest first. */
  #order: string[] = [];
  #keys = new Set<string>();
  #pending: ReconciliationEntry[] = [];
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #saving: Promise<void> | undefined;

  constructor(o: ReconciliationLogOptions) {
    this.#log = new AppendLog(o.file, o.fs);
    this.#legacy = o.legacy;
    this.#max = Math.max(1, o.max ?? 10_000);
  }

  /** Loads the persisted entries' keys (call once before `add`/`list`). */
  async start(): Promise<void> {
    let entries = await this.#log.read();
    if (entries.length === 0 && this.#legacy) {
      const snap = await this.#legacy.load<{ entries?: ReconciliationEntry[] }>(LEGACY_KIND);
      const old = Array.isArray(snap?.data?.entries) ? snap.data.entries.slice(-this.#max) : [];
      if (old.length > 0) await this.#log.rewrite(() => old);
      entries = old;
    }
    this.#order = [];
    this.#keys = new Set();
    // A compaction may have written an entry that was then appended too: the first copy counts.
    for (const e of entries) if (!this.#keys.has(entryKey(e))) this.#remember(entryKey(e));
  }

  /** Entries recorded (at most N). */
  get count(): number {
    return this.#keys.size;
  }

  /**
   * Records an entry (ignored when the same seq/kind/coupon is already recorded: a replay after a crash
   * between reconciliation and delivery marking finds the same difference again).
   */
  add(e: ReconciliationEntry): Promise<void> {
    const key = entryKey(e);
    if (this.#keys.has(key)) return Promise.resolve();
    this.#remember(key);
    this.#pending.push(e);
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    this.#saving ??= this.#loop();
    return p;
  }

  /** The newest N entries, oldest first, as written (read from the file). */
  async list(): Promise<ReconciliationEntry[]> {
    await this.#saving;
    const out: ReconciliationEntry[] = [];
    const seen = new Set<string>();
    for (const e of await this.#log.read()) {
      const key = entryKey(e);
      if (seen.has(key) || !this.#keys.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
    return out;
  }

  #remember(key: string): void {
    this.#keys.add(key);
    this.#order.push(key);
    if (this.#order.length > this.#max) for (const old of this.#order.splice(0, this.#order.length - this.#max)) this.#keys.delete(old);
  }

  /** Appends are serialised; adds made during one share the next. */
  async #loop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      const waiters = this.#waiters;
      this.#pending = [];
      this.#waiters = [];
      try {
        await this.#log.append(batch);
        // Compaction: at 2N lines keep the newest N; amortised O(1) per add.
        if (this.#log.lines >= 2 * this.#max) await this.#log.compact((e) => this.#keys.has(entryKey(e)));
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

/** Effects that give the customer something (what a fallback promotion is compared with). */
const GIVEN = new Set(['setDiscount', 'setDiscountPerItem', 'addFreeItem', 'addLoyaltyPoints', 'deductLoyaltyPoints']);
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
  // Fallback promotions (README "Fallback promotions") are the shop's own: Talon.One computed the session's
  // discounts from its campaigns instead, and head office sees both side by side.
  const fallback = localEffects.filter((e) => typeof e.ruleName === 'string' && e.ruleName.startsWith(FALLBACK_PREFIX));
  if (fallback.length > 0) {
    out.push({ ...ctx, kind: 'fallbackApplied', reason: local.fallback ?? 'fallback', localEffects: fallback, upstreamEffects: upstream.filter((e) => GIVEN.has(e.effectType)) });
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

/**
 * A delivered session update whose upstream answer is known: Talon.One's own codes are confirmed in the ledger
 * (`onUpstreamEffects`), and every difference from what the shop told the terminal is recorded, logged, counted
 * and alerted. A failed `add` rejects: the flusher sends the record again (the replayed answer is the same).
 */
export async function reconcileDelivered(
  d: Pick<FlusherDeps, 'onUpstreamEffects' | 'clock' | 'reconciliation' | 'metrics' | 'log'>,
  rec: JournalRecord,
  last: JournalEntry,
  upstream: Effect[],
  alert: (a: { kind: 'reconciliation'; [k: string]: unknown }) => void,
): Promise<void> {
  if (rec.kind !== 'updateSession' || !rec.local) return;
  try {
    d.onUpstreamEffects?.(rec, upstream);
  } catch (err) {
    d.log.error({ err }, 'flusher: onUpstreamEffects threw');
  }
  const at = new Date(d.clock.now()).toISOString();
  for (const e of diffOutcome({ sessionId: rec.sessionId, terminalId: rec.terminalId, seq: last.seq, at }, rec.local, upstream)) {
    await d.reconciliation.add(e);
    d.metrics?.reconciliations.inc({ kind: e.kind });
    d.log.warn({ sessionId: e.sessionId, terminalId: e.terminalId, kind: e.kind, coupon: e.coupon, reason: e.reason }, 'flusher: upstream answer differs from the local one');
    alert({ ...e, kind: 'reconciliation', entryKind: e.kind });
  }
}
