import type { LoyaltyBalance, LoyaltyProgram } from './types.js';
import { SessionSpending } from './session-spending.js';

/**
 * Key of a points holder: `<programId>|p|<profileId>` or `<programId>|c|<cardId>` for a program's main ledger, and
 * `<programId>~<subledgerId>|p|…` for one of its subledgers (the subledger id URI-encoded, so it holds no `|` and
 * the key reads back unambiguously: everything before the first `|` is the ledger). A subledger is a holder of
 * its own: its own cached balance, and its own offline bound (`maxOfflineLoyaltyDeduction`). Main-ledger keys are
 * what they were before subledgers, so journalled spending and saved snapshots keep their meaning.
 */
export function holderKey(programId: number, kind: 'p' | 'c', id: string, subledgerId?: string): string {
  return subledgerId ? `${programId}~${encodeURIComponent(subledgerId)}|${kind}|${id}` : `${programId}|${kind}|${id}`;
}

/** Whether a holder key names a loyalty card (`…|c|<cardId>`) rather than a profile. */
export function isCardHolder(key: string): boolean {
  const i = key.indexOf('|');
  return key.startsWith('c|', i + 1);
}

/** The loyalty data set, indexed (immutable once built). */
export class LoyaltyIndex {
  readonly programs: ReadonlyMap<number, LoyaltyProgram>;
  /** By holder key (main ledgers and subledgers alike). */
  readonly balances: ReadonlyMap<string, LoyaltyBalance>;
  /** Subledger balances by the main ledger's holder key (for the balances a terminal reads). */
  readonly subledgers: ReadonlyMap<string, readonly LoyaltyBalance[]>;

  constructor(programs: readonly LoyaltyProgram[] = [], balances: readonly LoyaltyBalance[] = []) {
    this.programs = new Map(programs.map((p) => [p.id, p]));
    const m = new Map<string, LoyaltyBalance>();
    const subs = new Map<string, LoyaltyBalance[]>();
    for (const b of balances) {
      const kind = b.cardId !== undefined ? 'c' : b.profileId !== undefined ? 'p' : undefined;
      if (kind === undefined) continue;
      const id = (kind === 'c' ? b.cardId : b.profileId) as string;
      m.set(holderKey(b.programId, kind, id, b.subledgerId), b);
      if (b.subledgerId) {
        const main = holderKey(b.programId, kind, id);
        const list = subs.get(main);
        if (list) list.push(b);
        else subs.set(main, [b]);
      }
    }
    this.balances = m;
    this.subledgers = subs;
  }

  /**
   * The holder key for a session: card-based programs use the session's card, others the profile; `subledgerId`
   * (empty or absent: the main ledger) picks one of the program's subledgers.
   */
  holderFor(programId: number, profileId: string | undefined, cardId: string | undefined, subledgerId?: string): string | undefined {
    const p = this.programs.get(programId);
    if (!p) return undefined;
    if (p.cardBased) return cardId ? holderKey(programId, 'c', cardId, subledgerId) : undefined;
    return profileId ? holderKey(programId, 'p', profileId, subledgerId) : undefined;
  }
}

export interface LoyaltyOp {
  op: 'spend';
  holderKey: string;
  sessionId: string;
  /** points this session now spends offline (replaces its previous figure) */
  points: number;
  /** the previous figure, for revert */
  previous: number;
}

export interface LoyaltyExport {
  version: 1;
  spent: { holderKey: string; sessionId: string; points: number }[];
  /** Sessions whose spending Talon.One has, and since when (ms). */
  confirmed?: { sessionId: string; at: number }[];
}

/**
 * Offline point deductions, store-wide: per holder, what each session spends locally. A session may
 * deduct at most `min(cached activePoints, maxOfflineLoyaltyDeduction) − what other sessions spent`.
 * Same apply/revert/export/import style as the coupon ledger.
 */
export class LoyaltyLimits {
  readonly #s = new SessionSpending();

  constructor(public maxOfflineDeduction: number = 500) {}

  spentBy(holder: string, sessionId: string): number {
    return this.#s.spentBy(holder, sessionId);
  }

  /** Points spent locally on `holder` by sessions other than `sessionId`. */
  spentExcluding(holder: string, sessionId: string): number {
    return this.#s.spentExcluding(holder, sessionId);
  }

  /** Points `sessionId` may deduct offline, given the cached balance. */
  available(holder: string, sessionId: string, cachedBalance: number): number {
    const others = this.spentExcluding(holder, sessionId);
    return Math.max(0, Math.min(cachedBalance, this.maxOfflineDeduction) - others);
  }

  /** Holders with local spending by `sessionId`. */
  holdersOf(sessionId: string): string[] {
    return this.#s.holdersOf(sessionId);
  }

  apply(ops: readonly LoyaltyOp[]): void {
    for (const o of ops) this.#s.spend(o.holderKey, o.sessionId, o.points);
  }

  revert(ops: readonly LoyaltyOp[]): void {
    for (let i = ops.length - 1; i >= 0; i--) {
      const o = ops[i] as LoyaltyOp;
      this.#s.set(o.holderKey, o.sessionId, o.previous);
    }
  }

  /** Forgets a session's spending (Talon.One has it and the cached balances include it). */
  reconciled(sessionId: string): void {
    this.#s.forget(sessionId);
  }

  /** Talon.One has this session's spending since `at`. Returns whether anything changed. */
  confirm(sessionId: string, at: number): boolean {
    return this.#s.confirm(sessionId, at);
  }

  /**
   * A loyalty push read from Talon.One at `readAt` has balances that include every spending confirmed before
   * then: that spending is forgotten (else it would be deducted twice). Returns how many sessions.
   */
  countedByPush(readAt: number): number {
    return this.#s.countedByPush(readAt);
  }

  /** Holders with offline spending, spending entries (holder × session) and confirmed sessions. */
  sizes(): { holders: number; spending: number; confirmed: number } {
    return this.#s.sizes();
  }

  export(): LoyaltyExport {
    const spent: LoyaltyExport['spent'] = [];
    for (const [h, s, p] of this.#s.entries()) spent.push({ holderKey: h, sessionId: s, points: p });
    const confirmed = this.#s.confirmedList();
    return { version: 1, spent, ...(confirmed.length > 0 ? { confirmed } : {}) };
  }

  import(data: LoyaltyExport): void {
    if (!data || data.version !== 1 || !Array.isArray(data.spent)) throw new Error('not a loyalty limits export (version 1)');
    this.#s.clear();
    for (const s of data.spent) this.#s.set(s.holderKey, s.sessionId, s.points);
    this.#s.restoreConfirmed(data.confirmed ?? []);
  }
}
