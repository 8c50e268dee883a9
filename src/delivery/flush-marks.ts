/**
 * Batched delivery marking for the flusher: deliveries that arrive while one batch is being recorded
 * share the next batch (`beforeMarkDelivered(seqs)`, then one `journal.markDelivered(seqs)`).
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

  constructor(o: {
    journal: Journal;
    beforeMarkDelivered?: (seqs: number[]) => Promise<void>;
    onMarked: (batch: MarkItem[]) => void;
    /** The records stay undelivered in the journal: replayed after a restart, which upstream dedupes. */
    onFailed: (err: unknown, batch: MarkItem[]) => void;
    /** Called when the last batch is settled and nothing is left to mark. */
    onIdle: () => void;
  }) {
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

  /** Resolves when every delivery handed over so far is recorded (or failed). */
  async drain(): Promise<void> {
    while (this.#loop) await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const seqs = batch.map((b) => b.seq);
      try {
        await this.#before?.(seqs);
        await this.#journal.markDelivered(seqs);
        this.#onMarked(batch);
      } catch (err) {
        this.#onFailed(err, batch);
      }
    }
    this.#loop = undefined;
    this.#onIdle();
  }
}
