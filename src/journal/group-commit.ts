/**
 * Group commit: callers `submit` items; one `commit(batch)` runs at a time; everything submitted
 * while a commit is in progress waits and goes into the next batch. Each submitter's promise settles
 * with the outcome of the commit that carried its item.
 *
 * Why no timer: batching comes from the event loop and from the cost of the commit itself. A batch
 * starts in the loop's check phase (`setImmediate`), so every terminal request that the same poll
 * phase read joins it; while an asynchronous commit runs, the next batch accumulates. A commit may
 * also be synchronous (the journal's inline fdatasync): then the requests that arrive meanwhile wait
 * in the socket buffers and form the next batch in the next loop turn. A lone writer pays one sync
 * and one loop turn (microseconds); 64 concurrent writers share roughly one sync per turn.
 */
interface Waiter<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class GroupCommit<T> {
  readonly #commit: (batch: readonly T[]) => Promise<void> | void;
  #queue: Waiter<T>[] = [];
  #running = false;
  #idle: (() => void)[] = [];
  #batches = 0;
  #items = 0;

  /** `commit` may finish synchronously (return nothing, or throw) or return a promise. */
  constructor(commit: (batch: readonly T[]) => Promise<void> | void) {
    this.#commit = commit;
  }

  /** Queues `item`; resolves once the batch carrying it has committed, rejects if that commit failed. */
  submit(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        setImmediate(() => void this.#loop());
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
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#batches += 1;
        this.#items += batch.length;
        try {
          const pending = this.#commit(batch.map((w) => w.item));
          if (pending) await pending;
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
