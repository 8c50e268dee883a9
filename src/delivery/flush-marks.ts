/**
 * Batched delivery marking for the flusher: deliveries that arrive while one batch is being recorded
 * share the next batch (`beforeMarkDelivered(seqs)`, then one `journal.markDelivered(seqs)`).
 * A batch that cannot be recorded (the ledger snapshot or the cursor cannot be written: a full disk) is tried
 * again with backoff, not dropped: once space is freed the marks land and the journal can free its segments
 * without a restart. Until then those records are merely replayed after a restart, which upstream dedupes.
 */
import type { Journal, JournalEntry } from '../journal/index.js';

export interface MarkItem {
  seq: number;
  kind: string;
  how: string;
}

export class DeliveryMarker {
  readonly #journal: Journal;
  readonly #before: ((seqs: number[]) => Promise<void>) | undefined;
  readonly #onMarked: (batch: MarkItem[]) => void;
  readonly #onFailed: (err: unknown, batch: MarkItem[]) => void;
  readonly #onIdle: () => void;
  #queue: MarkItem[] = [];
  #loop: Promise<void> | undefined;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #failures = 0;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(o: {
    journal: Journal;
    beforeMarkDelivered?: (seqs: number[]) => Promise<void>;
    onMarked: (batch: MarkItem[]) => void;
    /** The records stay undelivered in the journal: replayed after a restart, which upstream dedupes. */
    onFailed: (err: unknown, batch: MarkItem[]) => void;
    /** Called when the last batch is settled and nothing is left to mark. */
    onIdle: () => void;
    /** Waits between retries of a failed batch (the clock port). */
    sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  }) {
    this.#sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#journal = o.journal;
    this.#before = o.beforeMarkDelivered;
    this.#onMarked = o.onMarked;
    this.#onFailed = o.onFailed;
    this.#onIdle = o.onIdle;
  }

  get busy(): boolean {
    return this.#loop !== undefined;
  }

  add(group: readonly JournalEntry[], how: string): void {
    for (const e of group) this.#queue.push({ seq: e.seq, kind: e.kind, how });
    this.#loop ??= this.#run();
  }

  /** Resolves when every delivery handed over so far is recorded (or, after `stop`, given up). */
  async drain(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  /** Ends retrying (shutdown): what is not recorded is replayed after the restart. */
  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const seqs = batch.map((b) => b.seq);
      try {
        await this.#before?.(seqs);
        await this.#journal.markDelivered(seqs);
        this.#failures = 0;
        this.#onMarked(batch);
      } catch (err) {
        this.#onFailed(err, batch);
        if (this.#stopped) continue;
        this.#queue = [...batch, ...this.#queue];
        await this.#sleep(Math.min(30_000, 250 * 2 ** Math.min(this.#failures++, 7)), this.#abort.signal).catch(() => undefined);
      }
    }
    this.#loop = undefined;
    this.#onIdle();
  }
}
