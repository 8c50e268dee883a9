/**
 * Batched delivery marking for the flusher: deliveries that arrive while one batch is being recorded
 * share the next batch (`beforeMarkDelivered(seqs)`, then one `journal.markDelivered(seqs)`).
 * A batch that cannot be recorded (the ledger snapshot or the cursor cannot be written: a full disk) is tried
 * again with backoff, not dropped: once space is freed the marks land and the journal can free its segments
 * without a restart. Until then those records are merely replayed after a restart, which upstream dedupes.
 *
 * Two kinds of items besides plain deliveries:
 * - {@link DEAD_LETTERED}: a record already written to the dead-letter store leaves the journal. It is still
 *   replayed into local state from that store, so `beforeMarkDelivered` is not needed for it.
 * - a retried dead letter that was delivered (`from: 'deadLetters'`): it leaves the dead-letter store, not
 *   the journal, after `beforeMarkDelivered` like any delivery.
 */
import type { Journal, JournalEntry } from '../journal/index.js';
import { DeadLetter } from './dead-letter-store.js';
import { isDiskFull } from '../platform/disk-reserve.js';

/** Items per batch while the disk is full. */
const DISK_FULL_BATCH = 256;

/** `how` of a record that moved to the dead-letter store and now leaves the journal. */
export const DEAD_LETTERED = 'deadLettered';

export interface MarkItem {
  seq: number;
  kind: string;
  how: string;
  /** Where the record lives when it is not the journal: a retried dead letter. */
  from?: 'deadLetters';
}

export class DeliveryMarker {
  readonly #journal: Journal;
  readonly #deadLetters: { delivered(seqs: readonly number[], at: number): Promise<void> } | undefined;
  readonly #now: () => number;
  readonly #before: ((seqs: number[]) => Promise<void>) | undefined;
  readonly #onDiskFull: (() => Promise<boolean>) | undefined;
  readonly #onMarked: (batch: MarkItem[]) => void;
  readonly #onFailed: (err: unknown, batch: MarkItem[]) => void;
  readonly #onIdle: () => void;
  #queue: MarkItem[] = [];
  #loop: Promise<void> | undefined;
  readonly #sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  #failures = 0;
  #diskFull = false;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(o: {
    journal: Journal;
    /** Where retried dead letters leave once delivered. */
    deadLetters?: { delivered(seqs: readonly number[], at: number): Promise<void> };
    now?: () => number;
    beforeMarkDelivered?: (seqs: number[]) => Promise<void>;
    onMarked: (batch: MarkItem[]) => void;
    /** The records stay undelivered in the journal: replayed after a restart, which upstream dedupes. */
    onFailed: (err: unknown, batch: MarkItem[]) => void;
    /** Called when the last batch is settled and nothing is left to mark. */
    onIdle: () => void;
    /**
     * A batch failed on a full disk: release the disk reserve (src/platform/disk-reserve.ts) and resolve true
     * if that freed space, so the batch is tried again at once: its marks are what frees delivered segments.
     */
    onDiskFull?: () => Promise<boolean>;
    /** Waits between retries of a failed batch (the clock port). */
    sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  }) {
    this.#sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#journal = o.journal;
    this.#deadLetters = o.deadLetters;
    this.#now = o.now ?? Date.now;
    this.#before = o.beforeMarkDelivered;
    this.#onDiskFull = o.onDiskFull;
    this.#onMarked = o.onMarked;
    this.#onFailed = o.onFailed;
    this.#onIdle = o.onIdle;
  }

  get busy(): boolean {
    return this.#loop !== undefined;
  }

  add(group: readonly JournalEntry[], how: string): void {
    for (const e of group) this.#queue.push({ seq: e.seq, kind: e.kind, how, ...(e instanceof DeadLetter ? { from: 'deadLetters' as const } : {}) });
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
      // After a full disk, small batches: each needs little space for its state lines and cursor, and each
      // landed batch can free a segment for the next.
      const batch = this.#diskFull ? this.#queue.splice(0, DISK_FULL_BATCH) : this.#queue;
      if (!this.#diskFull) this.#queue = [];
      const leaving = batch.filter((b) => b.how !== DEAD_LETTERED).map((b) => b.seq);
      const inJournal = batch.filter((b) => b.from === undefined).map((b) => b.seq);
      const inStore = batch.filter((b) => b.from === 'deadLetters').map((b) => b.seq);
      try {
        if (leaving.length > 0) await this.#before?.(leaving);
        if (inJournal.length > 0) await this.#journal.markDelivered(inJournal);
        if (inStore.length > 0) await this.#deadLetters?.delivered(inStore, this.#now());
        this.#failures = 0;
        if (this.#queue.length === 0) this.#diskFull = false;
        this.#onMarked(batch);
      } catch (err) {
        this.#onFailed(err, batch);
        if (this.#stopped) continue;
        this.#queue = [...batch, ...this.#queue];
        if (isDiskFull(err)) {
          this.#diskFull = true;
          if (this.#onDiskFull && (await this.#onDiskFull().catch(() => false))) continue;
        }
        await this.#sleep(Math.min(30_000, 250 * 2 ** Math.min(this.#failures++, 7)), this.#abort.signal).catch(() => undefined);
      }
    }
    this.#loop = undefined;
    this.#onIdle();
  }
}
