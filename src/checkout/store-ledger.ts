import { BudgetLimits, type BudgetExport, type BudgetOp } from '../engine/budgets.js';
import { CouponLedger, LoyaltyLimits, type LedgerExport, type LedgerOp, type LoyaltyExport, type LoyaltyOp } from '../engine/index.js';
import type { SnapshotStore } from '../state/snapshot-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { Clock } from '../platform/clock.js';
import type { JournalRecord } from './records.js';

interface LedgerSnapshot {
  lastSeq: number;
  ledger: LedgerExport;
  loyalty: LoyaltyExport;
  /** Offline spending of campaign budgets (absent in snapshots of older versions: none). */
  budgets?: BudgetExport;
}

/** Margin for the clocks of the shop and head office when judging whether a push counts a use. */
const PUSH_SKEW_MS = 5 * 60_000;

/** The ledger and loyalty ops of one local answer whose record is not journaled yet (see `applyPending`). */
export interface PendingOps {
  readonly ledgerOps: readonly LedgerOp[];
  readonly loyaltyOps: readonly LoyaltyOp[];
  readonly budgetOps: readonly BudgetOp[];
}

/**
 * The store-wide coupon ledger and offline loyalty spending (README "Durability and the journal"), kept whole in
 * memory (they are small) and saved as one snapshot (`state/ledger.json`, atomic replace): every few seconds, before
 * any delivery mark, and at once when they change outside the journal. The snapshot carries the seq of the last
 * record it reflects, so a restart replays only the ledger ops of newer records.
 */
export class StoreLedger {
  readonly ledger = new CouponLedger();
  readonly loyalty: LoyaltyLimits;
  /** What this store's sessions spent offline of campaign-wide budgets (src/engine/budgets.ts). */
  readonly budgets = new BudgetLimits();
  readonly #store: SnapshotStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  /** The newest committed seq (LocalState's). */
  readonly #lastSeq: () => number;
  #savedSeq = 0;
  #saving: Promise<void> | null = null;
  #dirty = false;
  /** Ops applied for answers still being journaled, in the order applied. */
  readonly #pending = new Set<PendingOps>();
  readonly #maxOfflineLoyaltyDeduction: number;

  constructor(deps: { store: SnapshotStore; clock: Clock; log: Logger; maxOfflineLoyaltyDeduction: number; lastSeq: () => number }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#lastSeq = deps.lastSeq;
    this.#maxOfflineLoyaltyDeduction = deps.maxOfflineLoyaltyDeduction;
    this.loyalty = new LoyaltyLimits(deps.maxOfflineLoyaltyDeduction);
  }

  /**
   * A local answer's ops, applied before its record is journaled so concurrent answers already see the code
   * taken. They are not history until the record is committed (`settle`): a snapshot saved meanwhile leaves them
   * out, because the record may never be journaled (a full disk, a power cut) and the snapshot is trusted up to
   * its seq at the next start. A snapshot holding them would free, after a restart, a code a journaled answer
   * still holds (the release that was never journaled) or keep one nobody took.
   */
  applyPending(ledgerOps: readonly LedgerOp[], loyaltyOps: readonly LoyaltyOp[], budgetOps: readonly BudgetOp[] = []): PendingOps {
    this.ledger.apply(ledgerOps);
    this.loyalty.apply(loyaltyOps);
    this.budgets.apply(budgetOps);
    const p: PendingOps = { ledgerOps, loyaltyOps, budgetOps };
    this.#pending.add(p);
    return p;
  }

  /** The answer's record could not be journaled: its ops are undone. */
  revertPending(p: PendingOps): void {
    if (!this.#pending.delete(p)) return;
    this.ledger.revert(p.ledgerOps);
    this.loyalty.revert(p.loyaltyOps);
    this.budgets.revert(p.budgetOps);
  }

  /** The answer's record is committed (call it as the committed seq moves past it): its ops are history now. */
  settle(p: PendingOps): void {
    this.#pending.delete(p);
  }

  /** What the snapshot holds: the ledger and loyalty spending without the ops of answers not yet journaled. */
  #committed(): { ledger: LedgerExport; loyalty: LoyaltyExport; budgets: BudgetExport } {
    if (this.#pending.size === 0) return { ledger: this.ledger.export(), loyalty: this.loyalty.export(), budgets: this.budgets.export() };
    const ledger = new CouponLedger();
    ledger.import(this.ledger.export());
    const loyalty = new LoyaltyLimits(this.#maxOfflineLoyaltyDeduction);
    loyalty.import(this.loyalty.export());
    const budgets = new BudgetLimits();
    budgets.import(this.budgets.export());
    // Each answer's ops touch its own session only (answers of one session are serialised), so undoing them
    // newest first on the copy gives the ledger as the journaled records left it.
    for (const p of [...this.#pending].reverse()) {
      ledger.revert(p.ledgerOps);
      loyalty.revert(p.loyaltyOps);
      budgets.revert(p.budgetOps);
    }
    return { ledger: ledger.export(), loyalty: loyalty.export(), budgets: budgets.export() };
  }

  /** Loads the snapshot; returns the seq it reflects (0: none). */
  async load(): Promise<number> {
    const snap = (await this.#store.load<LedgerSnapshot>('ledger'))?.data;
    if (snap) {
      this.ledger.import(snap.ledger);
      this.loyalty.import(snap.loyalty);
      this.budgets.import(snap.budgets);
    }
    this.#savedSeq = snap?.lastSeq ?? 0;
    return this.#savedSeq;
  }

  /** Records were committed, or it changed, since the last save. */
  get stale(): boolean {
    return this.#savedSeq < this.#lastSeq() || this.#dirty;
  }

  get saving(): boolean {
    return this.#saving !== null;
  }

  /**
   * The ledger changed outside the journal (codes Talon.One accepted for a followed session): its snapshot is
   * saved at once, in the background (a `kill -9` within those few milliseconds loses the hold; the journal
   * cannot carry it, as nothing of a followed session is journaled).
   */
  changed(): void {
    this.#dirty = true;
    void this.ensureSaved().catch((err: unknown) => this.#log.error({ err }, 'ledger snapshot failed'));
  }

  async ensureSavedDirty(): Promise<void> {
    this.#dirty = true;
    await this.ensureSaved();
  }

  /** Makes the coupon ledger durable up to the newest committed record (before records are marked delivered). */
  async ensureSaved(): Promise<void> {
    // Records about to be marked delivered were committed before this call: saving up to here is enough,
    // and not chasing later commits keeps a busy shop from rewriting the snapshot in a loop.
    const target = this.#lastSeq();
    while (this.#savedSeq < target || this.#dirty) {
      this.#saving ??= (async () => {
        this.#dirty = false; // the export below includes every change made so far
        const seq = this.#lastSeq();
        const data: LedgerSnapshot = { lastSeq: seq, ...this.#committed() };
        try {
          await this.#store.save({ kind: 'ledger', version: seq, savedAt: this.#clock.now(), data });
        } catch (err) {
          this.#dirty = true; // still to be saved
          throw err;
        }
        this.#savedSeq = Math.max(this.#savedSeq, seq);
      })().finally(() => {
        this.#saving = null;
      });
      await this.#saving;
    }
  }

  /**
   * A session update Talon.One answered (delivered by the flusher): the codes this shop used when closing it are
   * now known upstream. They stay counted until a coupons push counts them ({@link countedByPush}).
   */
  confirmUses(rec: JournalRecord): void {
    if (rec.kind !== 'updateSession' || rec.state !== 'closed') return;
    let changed = false;
    const at = this.#clock.now();
    for (const code of new Set(rec.local.acceptedCoupons)) changed = this.ledger.confirm(rec.sessionId, code, at) || changed;
    changed = this.loyalty.confirm(rec.sessionId, at) || changed;
    changed = this.budgets.confirm(rec.sessionId, at) || changed;
    if (changed) this.changed();
  }

  /**
   * A rules push whose budget shares come from counters read at `readAt`: offline budget spending of sessions
   * Talon.One had by then is forgotten (the shares already take it off). Returns how many sessions.
   */
  budgetsCountedByPush(readAt: number): number {
    const n = this.budgets.countedByPush(readAt - PUSH_SKEW_MS);
    if (n > 0) this.changed();
    return n;
  }

  /** A loyalty push read at `readAt` (its version, a time): offline spending Talon.One had by then is forgotten. */
  loyaltyCountedByPush(readAt: number): number {
    const n = this.loyalty.countedByPush(readAt - PUSH_SKEW_MS);
    if (n > 0) this.changed();
    return n;
  }

  /**
   * A coupons push replaced the cached coupons with `next`, read from Talon.One at `readAt` (its version: head
   * office versions a push with the time it read the data, as `storegate push` does by default). Confirmed uses
   * it counts are forgotten. A version that is not such a time (a small counter) forgets nothing by time: the
   * uses then stay counted (the safe side) unless the code is used up, unlimited or gone. Returns how many.
   */
  countedByPush(next: ReadonlyMap<string, { usageCounter?: number; usageLimit?: number }>, readAt: number): number {
    let n = 0;
    for (const code of this.ledger.confirmedCodes()) {
      const c = next.get(code);
      const limit = c?.usageLimit ?? 0;
      const coveredByPush = c === undefined || limit === 0 || (c.usageCounter ?? 0) >= limit;
      n += this.ledger.countedByPush(code, readAt - PUSH_SKEW_MS, coveredByPush);
    }
    if (n > 0) this.changed();
    return n;
  }
}
