/**
 * Decides, batch by batch, whether the journal makes a batch durable on the event loop's own thread
 * (`write` + `fdatasync` as blocking calls) or through libuv's thread pool (two async round trips).
 *
 * Why: on a fast disk one fdatasync of a basket takes ~0.15 ms, and each thread-pool round trip adds
 * ~0.05–0.1 ms on top (measured on the 2-core VM, see README "Benchmarks"): a lone basket would wait
 * almost twice as long as the disk needs. Blocking the loop for one fast sync is cheaper than the hops,
 * and it is what SQLite (through better-sqlite3) does for every commit. On a slow disk (an SD card, a
 * disk under write-back pressure) blocking would stall every other terminal, MQTT keep-alives and
 * health checks for the whole sync, so the pacer falls back to the thread pool as soon as the recent
 * syncs are slow, and returns to inline syncs once they are fast again.
 *
 * The measure is an exponentially weighted moving average of write+sync durations, whichever path
 * produced them (the async path's figure includes its hops, which only makes it more cautious).
 */
export class SyncPacer {
  readonly #maxMs: number;
  readonly #alpha: number;
  #ewmaMs = 0;
  #inline = 0;
  #pooled = 0;

  /**
   * @param maxMs inline while the average sync takes at most this long; 0 never inlines.
   * @param alpha weight of the newest sample (0.2: one 30 ms stall pushes the average to ~6 ms, so the
   *              next batches go to the pool; ~10 fast syncs bring it back under 1 ms).
   */
  constructor(maxMs: number, alpha = 0.2) {
    this.#maxMs = maxMs;
    this.#alpha = alpha;
  }

  /** True when the next batch should be written and synced on the calling thread. */
  inline(): boolean {
    return this.#maxMs > 0 && this.#ewmaMs <= this.#maxMs;
  }

  /** Records how long one batch's write + sync took, in ms. */
  record(ms: number, inline: boolean): void {
    this.#ewmaMs = this.#ewmaMs === 0 ? ms : this.#ewmaMs + this.#alpha * (ms - this.#ewmaMs);
    if (inline) this.#inline += 1;
    else this.#pooled += 1;
  }

  get stats(): { ewmaMs: number; inlineBatches: number; pooledBatches: number } {
    return { ewmaMs: this.#ewmaMs, inlineBatches: this.#inline, pooledBatches: this.#pooled };
  }
}
