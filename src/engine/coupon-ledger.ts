/**
 * The store-wide ledger of coupon codes used locally (offline or hybrid answers), shared by every
 * terminal. It is in memory and synchronous; the journal rebuilds it on restart with {@link CouponLedger.import}
 * (or by re-applying the journalled ops).
 *
 * - An **open** session *holds* the codes it had accepted (with redemption). Re-sending the same code
 *   from the same session is not a second use; dropping the code (or `couponCodes: []`) releases it.
 * - **Closing** the session turns its holds into *uses*. **Cancelling** releases holds and uses.
 * - A code's local count = holds of other sessions + uses of other sessions; it is compared with the
 *   coupon's `usageLimit` after adding the snapshot's `usageCounter` (0 = unlimited).
 * - A use is **confirmed** once Talon.One has it (`confirm`). It is forgotten only when a coupons push counts
 *   it (`countedByPush`: the push's data was read from Talon.One after the use was confirmed, or the code is
 *   used up, unlimited or gone in it), never before: until then the cached `usageCounter` does not include it,
 *   and forgetting it would free the code for a second use.
 */

export interface LedgerEntry {
  sessionId: string;
  terminalId?: string;
  /** ms since epoch */
  at: number;
  /** When Talon.One had this use (ms, local clock): the close was delivered, or it was Talon.One's own answer. */
  confirmedAt?: number;
}

export type LedgerOp =
  | ({ op: 'hold' } & LedgerEntry & { code: string })
  | ({ op: 'release' } & LedgerEntry & { code: string })
  | ({ op: 'redeem'; fromHold?: LedgerEntry } & LedgerEntry & { code: string })
  | ({ op: 'unredeem' } & LedgerEntry & { code: string });

export interface LedgerExport {
  version: 1;
  codes: { code: string; holds: LedgerEntry[]; uses: LedgerEntry[] }[];
}

interface CodeState {
  holds: Map<string, LedgerEntry>;
  uses: Map<string, LedgerEntry>;
}

export class CouponLedger {
  #codes = new Map<string, CodeState>();
  /** sessionId → codes it holds or used (index for `heldBy`). */
  #bySession = new Map<string, Set<string>>();

  #state(code: string): CodeState {
    let s = this.#codes.get(code);
    if (!s) {
      s = { holds: new Map(), uses: new Map() };
      this.#codes.set(code, s);
    }
    return s;
  }

  #index(sessionId: string, code: string): void {
    let s = this.#bySession.get(sessionId);
    if (!s) this.#bySession.set(sessionId, (s = new Set()));
    s.add(code);
  }

  #gc(code: string, sessionId: string): void {
    const s = this.#codes.get(code);
    if (!s) return;
    if (!s.holds.has(sessionId) && !s.uses.has(sessionId)) this.#bySession.get(sessionId)?.delete(code);
    if (this.#bySession.get(sessionId)?.size === 0) this.#bySession.delete(sessionId);
    if (s.holds.size === 0 && s.uses.size === 0) this.#codes.delete(code);
  }

  /** Local holds + uses of `code` by sessions other than `sessionId`. */
  countExcluding(code: string, sessionId: string): number {
    const s = this.#codes.get(code);
    if (!s) return 0;
    return s.holds.size - (s.holds.has(sessionId) ? 1 : 0) + s.uses.size - (s.uses.has(sessionId) ? 1 : 0);
  }

  /** The hold of `sessionId` on `code`, if any. */
  holdOf(code: string, sessionId: string): LedgerEntry | undefined {
    return this.#codes.get(code)?.holds.get(sessionId);
  }

  /** Codes held by an open session. */
  heldBy(sessionId: string): string[] {
    return [...(this.#bySession.get(sessionId) ?? [])].filter((c) => this.#codes.get(c)?.holds.has(sessionId));
  }

  /** Codes a (closed) session has used. */
  usedBy(sessionId: string): string[] {
    return [...(this.#bySession.get(sessionId) ?? [])].filter((c) => this.#codes.get(c)?.uses.has(sessionId));
  }

  /** Applies ops in order. */
  apply(ops: readonly LedgerOp[]): void {
    for (const o of ops) this.#do(o);
  }

  /** Undoes ops previously applied (in reverse order). */
  revert(ops: readonly LedgerOp[]): void {
    for (let i = ops.length - 1; i >= 0; i--) {
      const o = ops[i] as LedgerOp;
      const e = { sessionId: o.sessionId, terminalId: o.terminalId, at: o.at };
      switch (o.op) {
        case 'hold': this.#do({ op: 'release', code: o.code, ...e }); break;
        case 'release': this.#do({ op: 'hold', code: o.code, ...e }); break;
        case 'redeem':
          this.#do({ op: 'unredeem', code: o.code, ...e });
          if (o.fromHold) this.#do({ op: 'hold', code: o.code, ...o.fromHold });
          break;
        case 'unredeem': this.#do({ op: 'redeem', code: o.code, ...e }); break;
      }
    }
  }

  #do(o: LedgerOp): void {
    const s = this.#state(o.code);
    const entry: LedgerEntry = { sessionId: o.sessionId, at: o.at, ...(o.terminalId !== undefined ? { terminalId: o.terminalId } : {}), ...(o.confirmedAt !== undefined ? { confirmedAt: o.confirmedAt } : {}) };
    switch (o.op) {
      case 'hold': s.holds.set(o.sessionId, entry); this.#index(o.sessionId, o.code); break;
      case 'release': s.holds.delete(o.sessionId); break;
      case 'redeem': s.holds.delete(o.sessionId); s.uses.set(o.sessionId, entry); this.#index(o.sessionId, o.code); break;
      case 'unredeem': s.uses.delete(o.sessionId); break;
    }
    this.#gc(o.code, o.sessionId);
  }

  /** Marks a session's use of `code` as known to Talon.One at `at`. Returns whether anything changed. */
  confirm(sessionId: string, code: string, at: number): boolean {
    const u = this.#codes.get(code)?.uses.get(sessionId);
    if (!u || u.confirmedAt !== undefined) return false;
    u.confirmedAt = at;
    return true;
  }

  /** Codes with confirmed uses (candidates for `countedByPush`). */
  confirmedCodes(): string[] {
    const out: string[] = [];
    for (const [code, s] of this.#codes) for (const u of s.uses.values()) if (u.confirmedAt !== undefined) {
      out.push(code);
      break;
    }
    return out;
  }

  /**
   * A coupons push whose data was read from Talon.One at `readAt` counts every use confirmed before then; with
   * `all` (the code is used up, unlimited or gone in the push) every confirmed use is covered by the push alone.
   * Those uses are forgotten; unconfirmed ones stay. Returns how many were forgotten.
   */
  countedByPush(code: string, readAt: number, all = false): number {
    const s = this.#codes.get(code);
    if (!s) return 0;
    let n = 0;
    for (const u of [...s.uses.values()]) {
      if (u.confirmedAt === undefined || (!all && u.confirmedAt > readAt)) continue;
      s.uses.delete(u.sessionId);
      this.#gc(code, u.sessionId);
      n++;
    }
    return n;
  }

  /** Releases the holds of a session that will never be closed (abandoned and pruned). */
  releaseHolds(sessionId: string, at: number): number {
    const held = this.heldBy(sessionId);
    for (const code of held) this.#do({ op: 'release', code, sessionId, at });
    return held.length;
  }

  /** What the ledger holds: codes, holds and uses (for the soak benchmark and /status). */
  sizes(): { codes: number; holds: number; uses: number } {
    let holds = 0;
    let uses = 0;
    for (const s of this.#codes.values()) {
      holds += s.holds.size;
      uses += s.uses.size;
    }
    return { codes: this.#codes.size, holds, uses };
  }

  export(): LedgerExport {
    return {
      version: 1,
      codes: [...this.#codes].map(([code, s]) => ({ code, holds: [...s.holds.values()], uses: [...s.uses.values()] })),
    };
  }

  /** Replaces the whole state with an export. */
  import(data: LedgerExport): void {
    if (!data || data.version !== 1 || !Array.isArray(data.codes)) throw new Error('not a coupon ledger export (version 1)');
    this.#codes.clear();
    this.#bySession.clear();
    for (const c of data.codes) {
      for (const h of c.holds) this.#do({ op: 'hold', code: c.code, ...h });
      for (const u of c.uses) this.#do({ op: 'redeem', code: c.code, ...u });
    }
  }
}
