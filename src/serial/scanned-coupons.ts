/**
 * Coupons scanned at a terminal with `autoApplyCoupons`, waiting for that terminal's next session update
 * (checkout merges them into `customerSession.couponCodes`, then they are forgotten).
 *
 * A retry of that update (the same `Idempotency-Key`) gets the same codes again, not the ones scanned since:
 * a retried request must be the same request, or the local answer's idempotency check refuses it (409) and
 * Talon.One would see two different bodies under one key.
 */
export const MAX_PENDING_PER_TERMINAL = 20;
/** A scanned coupon no update came for within this time is forgotten (the customer has left). */
export const PENDING_TTL_MS = 30 * 60_000;

export class ScannedCouponStore {
  readonly #now: () => number;
  readonly #pending = new Map<string, { code: string; at: number }[]>();
  readonly #lastApplied = new Map<string, { key: string; codes: readonly string[] }>();

  constructor(now: () => number) {
    this.#now = now;
  }

  add(terminalId: string, code: string): void {
    const list = this.#live(terminalId).filter((p) => p.code !== code);
    list.push({ code, at: this.#now() });
    while (list.length > MAX_PENDING_PER_TERMINAL) list.shift();
    this.#pending.set(terminalId, list);
  }

  /** Codes to merge into this terminal's session update (those of the first try for a retry of the same key). */
  pending(terminalId: string, idempotencyKey: string | undefined): readonly string[] {
    const last = this.#lastApplied.get(terminalId);
    if (idempotencyKey !== undefined && last?.key === idempotencyKey) return last.codes;
    return this.#live(terminalId).map((p) => p.code);
  }

  /**
   * A session update of this terminal was answered carrying `codes` (maybe none): they are forgotten (codes
   * scanned meanwhile stay), and a retry under the same key will carry exactly them again.
   */
  applied(terminalId: string, codes: readonly string[], idempotencyKey: string | undefined): void {
    if (idempotencyKey !== undefined) this.#lastApplied.set(terminalId, { key: idempotencyKey, codes: [...codes] });
    if (codes.length === 0) return;
    const rest = this.#live(terminalId).filter((p) => !codes.includes(p.code));
    if (rest.length > 0) this.#pending.set(terminalId, rest);
    else this.#pending.delete(terminalId);
  }

  /** Terminals with pending codes (a bounded map: one entry per configured terminal at most). */
  get size(): number {
    return this.#pending.size;
  }

  #live(terminalId: string): { code: string; at: number }[] {
    const cutoff = this.#now() - PENDING_TTL_MS;
    return (this.#pending.get(terminalId) ?? []).filter((p) => p.at > cutoff);
  }
}
