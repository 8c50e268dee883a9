/**
 * Group commit: callers `submit` items; one `commit(batch)` runs at a time; everything submitted
 * while a commit is in progress waits and goes into the next batch. Each submitter's promise settles
 * with the outcome of the commit that carried its item.
 *
 * Why no timer: batching comes for free from the cost of the commit itself (an fdatasync takes
 * milliseconds, during which the next batch accumulates). A lone writer pays one sync and no added
 * delay; 64 concurrent writers share roughly one sync per round.
 */
interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  readonly #commit: (batch: readonly T[]) => Promise<void>;
  #queue: Waiter<T>[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  #batches = 0;
  #items = 0;

  constructor(commit: (batch: readonly T[]) => Promise<void>) {
    this.#commit = commit;
  }

  /** Queues `item`; resolves once the batch carrying it has committed, rejects if that commit failed. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        void this.#loop();
      }
    });
  }

  /** Resolves when nothing is queued or committing. */
  drain(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Batches committed so far and items carried (for tests and metrics). */
  get counts(): { batches: number; items: number } {
    return { batches: this.#batches, items: this.#items };
  }

  async #loop(): Promise<void> {
    // One microtask of grace: submits made in the same synchronous run join the first batch.
    await Promise.resolve();
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#batches += 1;
        this.#items += batch.length;
        try {
          await this.#commit(batch.map((w) => w.item));
        } catch (err) {
          for (const w of batch) w.reject(err);
          continue;
        }
        for (const w of batch) w.resolve();
      }
    } finally {
      // Runs synchronously after the last emptiness check, so no submit can slip between the two.
      this.#running = false;
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  }
}
