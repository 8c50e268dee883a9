import { createHash } from 'node:crypto';
import path from 'node:path';
import { AppendLog } from '../state/append-log.js';
import type { Logger } from '../telemetry/logger.js';

/** One answered call with the terminal's own `Idempotency-Key`. */
export interface ReplayEntry {
  key: string;
  /** SHA-256 of what was asked (operation, path parameters, query, body). */
  hash: string;
  status: number;
  /** The answer body as sent (JSON text; empty for 204). */
  body: string;
  /** The journal record that holds it (`X-Storegate-Journal-Seq`). */
  seq: number;
  /** Wall-clock ms of the first answer. */
  at: number;
}

/** Talon.One keeps an `Idempotency-Key` for 24 h; so does the shop. */
export const REPLAY_TTL_MS = 24 * 3600_000;
const MAX_ENTRIES = 20_000;

/** What makes two calls "the same" for a key. */
export function requestHash(op: string, params: Readonly<Record<string, string>>, query: string, body: unknown): string {
  const h = createHash('sha256');
  h.update(op).update('\0').update(JSON.stringify(Object.entries(params).sort())).update('\0').update(query).update('\0').update(JSON.stringify(body ?? null));
  return h.digest('hex');
}

/**
 * The local replay cache: a terminal that retries a call with the same `Idempotency-Key` while the shop answers
 * locally gets the first answer (same body, same journal seq) instead of a second journal record — a retried
 * close would otherwise be refused as "session closed", a retried return applied twice.
 *
 * Durable without an extra fsync per answer: each entry travels inside its own journal record (written with
 * the same fsync), and the entries of records about to be marked delivered are appended to
 * `state/replay.log` first (one fsync per delivery batch), so at every instant an entry is in the journal or in
 * the log. At start the log (entries younger than 24 h) and the undelivered records rebuild the cache.
 * Bounded: 24 h and at most MAX_ENTRIES (oldest dropped first); the log is compacted when it holds twice the
 * live entries.
 */
export class ReplayCache {
  readonly #file: AppendLog<ReplayEntry>;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #byKey = new Map<string, ReplayEntry>();
  /** Entries whose record is still in the journal (not yet in the log), by seq. */
  readonly #unlogged = new Map<number, ReplayEntry>();
  #bytes = 0;

  constructor(deps: { dataDir: string; log: Logger; now: () => number }) {
    this.#file = new AppendLog(path.join(deps.dataDir, 'state', 'replay.log'));
    this.#log = deps.log;
    this.#now = deps.now;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** Characters of answer bodies held (the bulk of the cache's memory). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Rebuilds from the log and from the entries carried by undelivered (and dead) journal records. */
  async start(fromJournal: Iterable<{ seq: number; replay: Omit<ReplayEntry, 'seq'> | undefined }>): Promise<void> {
    const cutoff = this.#now() - REPLAY_TTL_MS;
    for (const e of await this.#file.read()) if (e.at >= cutoff) this.#put(e);
    for (const { seq, replay } of fromJournal) {
      if (!replay || replay.at < cutoff) continue;
      const e = { ...replay, seq };
      this.#put(e);
      this.#unlogged.set(seq, e);
    }
  }

  get(key: string): ReplayEntry | undefined {
    const e = this.#byKey.get(key);
    if (e && e.at < this.#now() - REPLAY_TTL_MS) {
      this.#drop(e);
      return undefined;
    }
    return e;
  }

  /** Called once the record carrying the entry is durable. */
  remember(e: ReplayEntry): void {
    this.#put(e);
    this.#unlogged.set(e.seq, e);
  }

  #put(e: ReplayEntry): void {
    const prev = this.#byKey.get(e.key);
    if (prev) this.#drop(prev);
    this.#byKey.set(e.key, e);
    this.#bytes += e.body.length;
    while (this.#byKey.size > MAX_ENTRIES) this.#drop(this.#byKey.values().next().value as ReplayEntry);
  }

  #drop(e: ReplayEntry): void {
    if (this.#byKey.get(e.key) !== e) return;
    this.#byKey.delete(e.key);
    this.#bytes -= e.body.length;
    if (this.#unlogged.get(e.seq) === e) this.#unlogged.delete(e.seq);
  }

  /** Before records are marked delivered (and may be deleted with their segment): their entries go to the log. */
  async persist(seqs: readonly number[]): Promise<void> {
    const cutoff = this.#now() - REPLAY_TTL_MS;
    const lines: ReplayEntry[] = [];
    for (const s of seqs) {
      const e = this.#unlogged.get(s);
      if (e && e.at >= cutoff && this.#byKey.get(e.key) === e) lines.push(e);
    }
    await this.#file.append(lines);
    for (const s of seqs) this.#unlogged.delete(s);
    if (this.#file.lines > 2 * this.#byKey.size + 1000) {
      // Compacted to the live entries that are no longer in the journal.
      await this.#file.rewrite(() => [...this.#byKey.values()].filter((e) => !this.#unlogged.has(e.seq)));
      this.#log.debug({ entries: this.#file.lines }, 'replay log compacted');
    }
  }
}
