/**
 * The dead-letter store: records Talon.One refused for good (a 4xx other than the retried ones), kept out of
 * the journal in their own small durable file, `<dataDir>/state/dead-letters.log` (README "Dead letters").
 *
 * Why not in the journal: the journal frees space a whole segment at a time (64 MiB by default), so a dead
 * letter left in it kept its whole segment alive, and a few scattered ones filled `journal.maxBytes`. Here a
 * dead letter costs its own bytes only. The flusher writes a dead letter here first (durable), then marks
 * it delivered in the journal; a crash between the two leaves it in both, which the gateway resolves at
 * start (the journal copy is marked delivered, the store's is kept).
 *
 * The file is an append-only NDJSON log (one fsync per change, a torn last line ignored: the change it
 * held was never acknowledged), replayed at open and compacted when it holds mostly history:
 * - `dead`: a record moved here (the whole record: seq, id, key, kind, time, payload) with Talon.One's status
 *   and body; also written again, as `failed`, when a retried one is refused again;
 * - `laterSent`: a later record of the same key was sent to Talon.One after it failed (the order guarantee:
 *   it can then no longer be retried in order);
 * - `retry`: an operator sent it back to the delivery path (survives a restart);
 * - `delivered`: a retry reached Talon.One: it is gone;
 * - `discarded`: an operator gave it up, with the reason and who: it is gone, the line stays as the audit
 *   record (the newest {@link MAX_AUDIT} are kept across compactions).
 */
import type { JournalEntry } from '../journal/index.js';
import type { DurableFs } from '../platform/durable-fs.js';
import { AppendLog } from '../state/append-log.js';

/** Discard audit records kept across compactions (newest first). */
export const MAX_AUDIT = 1000;

/** `laterSent` of a dead letter taken over from an older storegate: whether a later record went is unknown. */
export const LATER_SENT_UNKNOWN = 0;

/** An operator's discard, as audited. */
export interface DiscardRecord {
  readonly seq: number;
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  /** Talon.One's status when it refused the record. */
  readonly status: number;
  readonly reason: string;
  readonly by: string;
  /** Wall-clock ms of the discard. */
  readonly at: number;
}

interface DeadFields {
  seq: number;
  id: string;
  key: string;
  kind: string;
  at: number;
  payload: unknown;
  status: number;
  body: unknown;
  failedAt: number;
  laterSent?: number | null;
}

type Line =
  | ({ t: 'dead' } & DeadFields)
  | { t: 'failed'; seq: number; status: number; body: unknown; failedAt: number }
  | { t: 'laterSent'; seqs: number[]; by: number }
  | { t: 'retry'; seqs: number[]; force: boolean; at: number }
  | { t: 'delivered'; seqs: number[]; at: number }
  | ({ t: 'discarded' } & DiscardRecord);

/**
 * One dead letter. It is a {@link JournalEntry} (same seq, id, key and kind as its journal record), so the
 * flusher can deliver a retried one on the same path, in seq order with the key's journal records, under
 * its own id as `Idempotency-Key`.
 */
export class DeadLetter implements JournalEntry {
  readonly seq: number;
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  readonly at: number;
  /** Monotonic time is only comparable within one run: a dead letter has none. */
  readonly mono = 0;
  /** Talon.One's status and body when it last refused the record, and when. */
  status: number;
  body: unknown;
  failedAt: number;
  /** Seq of a later record of the same key sent to Talon.One after this one failed (null: none). */
  laterSent: number | null;
  /** On the delivery path again (an operator's retry) until delivered or refused again. */
  retrying = false;
  /** The retry was forced past the order guarantee. */
  forced = false;
  readonly #json: string;

  constructor(f: DeadFields) {
    this.seq = f.seq;
    this.id = f.id;
    this.key = f.key;
    this.kind = f.kind;
    this.at = f.at;
    this.status = f.status;
    this.body = f.body;
    this.failedAt = f.failedAt;
    this.laterSent = f.laterSent ?? null;
    this.#json = JSON.stringify(f.payload ?? null);
  }

  /** A fresh copy on every read (as journal entries give), so no caller can change the stored record. */
  get payload(): unknown {
    return JSON.parse(this.#json) as unknown;
  }

  toLine(): Line {
    return {
      t: 'dead', seq: this.seq, id: this.id, key: this.key, kind: this.kind, at: this.at, payload: this.payload,
      status: this.status, body: this.body, failedAt: this.failedAt, laterSent: this.laterSent,
    };
  }

  toJSON(): JournalEntry {
    return { seq: this.seq, id: this.id, key: this.key, kind: this.kind, at: this.at, mono: this.mono, payload: this.payload };
  }
}

/** What a record refused for good is moved here with. */
export interface Refusal {
  readonly entry: JournalEntry;
  readonly status: number;
  readonly body: unknown;
  readonly failedAt: number;
  /** Only when taking over a dead letter of an older storegate ({@link LATER_SENT_UNKNOWN}). */
  readonly laterSent?: number | null;
}

export class DeadLetterStore {
  readonly file: string;
  readonly #log: AppendLog<Line>;
  /** Live dead letters by seq. */
  readonly #bySeq = new Map<number, DeadLetter>();
  /** Live dead letters' seqs by ordering key. */
  readonly #byKey = new Map<string, Set<number>>();
  #audit: DiscardRecord[] = [];

  private constructor(file: string, fs?: DurableFs) {
    this.file = file;
    this.#log = new AppendLog<Line>(file, fs);
  }

  /** Reads the store (a missing file is an empty store). `fs`: the filesystem (default node:fs). */
  static async open(file: string, fs?: DurableFs): Promise<DeadLetterStore> {
    const s = new DeadLetterStore(file, fs);
    for (const l of await s.#log.read()) s.#apply(l);
    return s;
  }

  get size(): number {
    return this.#bySeq.size;
  }

  has(seq: number): boolean {
    return this.#bySeq.has(seq);
  }

  get(seq: number): DeadLetter | undefined {
    return this.#bySeq.get(seq);
  }

  /** Live dead letters in seq order. */
  list(): DeadLetter[] {
    return [...this.#bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Those on the delivery path again (an operator's retry), in seq order. */
  retrying(): DeadLetter[] {
    return this.list().filter((d) => d.retrying);
  }

  /** True while a dead letter of this key is being retried (it is then undelivered, like a journal record). */
  retryingKey(key: string): boolean {
    for (const seq of this.#byKey.get(key) ?? []) if (this.#bySeq.get(seq)?.retrying) return true;
    return false;
  }

  /** The discard audit records, oldest first (the newest {@link MAX_AUDIT} survive a compaction). */
  discarded(): readonly DiscardRecord[] {
    return this.#audit;
  }

  /**
   * Records refused for good, durably (one fsync). A record already here (a retried one refused again, or
   * a crash left it in both places) has its refusal updated and goes back to plain dead.
   */
  async add(items: readonly Refusal[]): Promise<void> {
    const lines: Line[] = items.map((r) => {
      const old = this.#bySeq.get(r.entry.seq);
      if (old) return { t: 'failed', seq: old.seq, status: r.status, body: r.body, failedAt: r.failedAt };
      const e = r.entry;
      return {
        t: 'dead', seq: e.seq, id: e.id, key: e.key, kind: e.kind, at: e.at, payload: e.payload,
        status: r.status, body: r.body, failedAt: r.failedAt, laterSent: r.laterSent ?? null,
      };
    });
    await this.#append(lines);
  }

  /**
   * A send of `group` (records of `key`) is about to go to Talon.One: every dead letter of that key older
   * than the group's first record (and not itself being retried) can no longer be delivered in order, so it
   * is marked so, durably, *before* the send. Resolves at once when there is nothing to mark.
   */
  noteLaterSent(key: string, group: readonly JournalEntry[]): Promise<void> | undefined {
    const seqs = this.#byKey.get(key);
    if (!seqs || seqs.size === 0 || group.length === 0) return undefined;
    const first = (group[0] as JournalEntry).seq;
    const by = (group[group.length - 1] as JournalEntry).seq;
    const marked: number[] = [];
    for (const seq of seqs) {
      const d = this.#bySeq.get(seq) as DeadLetter;
      if (seq < first && !d.retrying && d.laterSent === null) marked.push(seq);
    }
    if (marked.length === 0) return undefined;
    // In memory first: a retry asked for while the line is being written is refused already.
    for (const seq of marked) (this.#bySeq.get(seq) as DeadLetter).laterSent = by;
    return this.#append([{ t: 'laterSent', seqs: marked, by }]).catch((err: unknown) => {
      // Not durable, so the send must not go (the caller retries it); undo, so the next try writes it again.
      for (const seq of marked) {
        const d = this.#bySeq.get(seq);
        if (d?.laterSent === by) d.laterSent = null;
      }
      throw err;
    });
  }

  /** Puts dead letters back on the delivery path (durable, so a restart keeps delivering them). */
  async markRetry(seqs: readonly number[], force: boolean, at: number): Promise<void> {
    const live = seqs.filter((s) => this.#bySeq.has(s));
    if (live.length > 0) await this.#append([{ t: 'retry', seqs: live, force, at }]);
  }

  /** Retried dead letters that reached Talon.One: they leave the store. */
  async delivered(seqs: readonly number[], at: number): Promise<void> {
    const live = seqs.filter((s) => this.#bySeq.has(s));
    if (live.length > 0) await this.#append([{ t: 'delivered', seqs: live, at }]);
  }

  /** An operator gives a dead letter up: it leaves the store; the audit record stays. */
  async discard(seq: number, o: { reason: string; by: string; at: number }): Promise<DiscardRecord> {
    const d = this.#bySeq.get(seq);
    if (!d) throw new Error(`no dead letter ${seq}`);
    const rec: DiscardRecord = { seq, id: d.id, key: d.key, kind: d.kind, status: d.status, reason: o.reason, by: o.by, at: o.at };
    await this.#append([{ t: 'discarded', ...rec }]);
    return rec;
  }

  /** Resolves once a compaction started in the background has finished (called on stop). */
  idle(): Promise<void> {
    return this.#log.idle();
  }

  /** Writes the lines durably, then applies them; compacts when the file is mostly history. */
  async #append(lines: Line[]): Promise<void> {
    if (lines.length === 0) return;
    await this.#log.append(lines);
    for (const l of lines) this.#apply(l);
    const live = this.#bySeq.size + this.#audit.length;
    if (this.#log.lines > 256 && this.#log.lines > 4 * live) {
      // Not awaited: the caller's lines are durable already, and rewriting a file of big dead letters can take
      // seconds on a busy disk (an operator's retry was left unanswered behind one). The log serialises it with
      // later appends; a failed compaction only waits for the next one.
      void this.#log.rewrite(() => this.#snapshot()).catch(() => undefined);
    }
  }

  #snapshot(): Line[] {
    const out: Line[] = this.#audit.map((a) => ({ t: 'discarded', ...a }));
    for (const d of this.list()) {
      out.push(d.toLine());
      if (d.retrying) out.push({ t: 'retry', seqs: [d.seq], force: d.forced, at: d.failedAt });
    }
    return out;
  }

  #apply(l: Line): void {
    switch (l.t) {
      case 'dead': {
        this.#remove(l.seq);
        const d = new DeadLetter(l);
        this.#bySeq.set(d.seq, d);
        let set = this.#byKey.get(d.key);
        if (!set) this.#byKey.set(d.key, (set = new Set()));
        set.add(d.seq);
        return;
      }
      case 'failed': {
        const d = this.#bySeq.get(l.seq);
        if (!d) return;
        d.status = l.status;
        d.body = l.body;
        d.failedAt = l.failedAt;
        d.retrying = false;
        d.forced = false;
        return;
      }
      case 'laterSent':
        for (const seq of l.seqs) {
          const d = this.#bySeq.get(seq);
          if (d && d.laterSent === null) d.laterSent = l.by;
        }
        return;
      case 'retry':
        for (const seq of l.seqs) {
          const d = this.#bySeq.get(seq);
          if (!d) continue;
          d.retrying = true;
          d.forced = l.force;
        }
        return;
      case 'delivered':
        for (const seq of l.seqs) this.#remove(seq);
        return;
      case 'discarded': {
        this.#remove(l.seq);
        const { t: _t, ...rec } = l;
        this.#audit.push(rec);
        if (this.#audit.length > MAX_AUDIT) this.#audit = this.#audit.slice(-MAX_AUDIT);
        return;
      }
    }
  }

  #remove(seq: number): void {
    const d = this.#bySeq.get(seq);
    if (!d) return;
    this.#bySeq.delete(seq);
    const set = this.#byKey.get(d.key);
    set?.delete(seq);
    if (set?.size === 0) this.#byKey.delete(d.key);
  }
}
