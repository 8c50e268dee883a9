/**
 * What sessions spend offline on shared holders (a loyalty ledger, a campaign budget), store-wide, and when Talon.One
 * has each session's spending: the bookkeeping {@link LoyaltyLimits} (src/engine/loyalty.ts) and
 * {@link BudgetLimits} (src/engine/budgets.ts) share. Per holder, each session's figure replaces its previous one
 * (re-evaluation); a session whose close was delivered is confirmed, and forgotten once data read from Talon.One
 * after that confirmation counts it (its balances or counters then hold it), never before.
 */
export class SessionSpending {
  readonly #spent = new Map<string, Map<string, number>>();
  /** sessionId → when Talon.One had its spending (the close was delivered). */
  readonly #confirmed = new Map<string, number>();

  spentBy(holder: string, sessionId: string): number {
    return this.#spent.get(holder)?.get(sessionId) ?? 0;
  }

  /** Spent on `holder` by sessions other than `sessionId`. */
  spentExcluding(holder: string, sessionId: string): number {
    let n = 0;
    for (const [s, u] of this.#spent.get(holder) ?? []) if (s !== sessionId) n += u;
    return n;
  }

  /** Holders `sessionId` spends on. */
  holdersOf(sessionId: string): string[] {
    return [...this.#spent].filter(([, m]) => m.has(sessionId)).map(([h]) => h);
  }

  /** Sets a session's figure (0 forgets it). */
  set(holder: string, sessionId: string, amount: number): void {
    let m = this.#spent.get(holder);
    if (!m) this.#spent.set(holder, (m = new Map()));
    if (amount > 0) m.set(sessionId, amount);
    else m.delete(sessionId);
    if (m.size === 0) this.#spent.delete(holder);
  }

  /** A new figure for a session; one that changed after Talon.One had the session (reopened) is not in its data yet. */
  spend(holder: string, sessionId: string, amount: number): void {
    if (amount !== this.spentBy(holder, sessionId)) this.#confirmed.delete(sessionId);
    this.set(holder, sessionId, amount);
  }

  /** Forgets a session's spending (Talon.One has it, and its data includes it). */
  forget(sessionId: string): void {
    for (const h of this.holdersOf(sessionId)) this.set(h, sessionId, 0);
    this.#confirmed.delete(sessionId);
  }

  /** Talon.One has this session's spending since `at`. Returns whether anything changed. */
  confirm(sessionId: string, at: number): boolean {
    if (this.#confirmed.has(sessionId) || this.holdersOf(sessionId).length === 0) return false;
    this.#confirmed.set(sessionId, at);
    return true;
  }

  /** Data read from Talon.One at `readAt` holds every spending confirmed before then: it is forgotten. Returns how many sessions. */
  countedByPush(readAt: number): number {
    let n = 0;
    for (const [sessionId, at] of [...this.#confirmed]) {
      if (at > readAt) continue;
      this.forget(sessionId);
      n++;
    }
    return n;
  }

  /** Holders with spending, spending entries (holder × session) and confirmed sessions. */
  sizes(): { holders: number; spending: number; confirmed: number } {
    let spending = 0;
    for (const m of this.#spent.values()) spending += m.size;
    return { holders: this.#spent.size, spending, confirmed: this.#confirmed.size };
  }

  *entries(): Iterable<[holder: string, sessionId: string, amount: number]> {
    for (const [h, m] of this.#spent) for (const [s, u] of m) yield [h, s, u];
  }

  confirmedList(): { sessionId: string; at: number }[] {
    return [...this.#confirmed].map(([sessionId, at]) => ({ sessionId, at }));
  }

  clear(): void {
    this.#spent.clear();
    this.#confirmed.clear();
  }

  restoreConfirmed(list: readonly { sessionId: string; at: number }[]): void {
    for (const c of list) this.#confirmed.set(c.sessionId, c.at);
  }
}
