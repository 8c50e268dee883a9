import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DurableFs } from '../platform/durable-fs.js';
import { FileKeyedStore, type KeyedStore } from '../state/keyed-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { RecordConsumer } from './local-state.js';

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
const MAX_ENTRIES = 50_000;
/** Answers kept parsed in memory (a retry comes within seconds of its first call). */
const CACHED_ANSWERS = 256;

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
 * Each entry travels inside its own journal record (written with the same fsync) and is written, when the
 * record is committed, to a disk-backed keyed store (`state/replay.kv`, src/state/keyed-store.ts): in memory
 * are only the index (key → seq, time, place on disk) and a few recent answers; a hit reads its answer back from
 * disk (retries are rare, and answers are kilobytes each: a day of them held in memory cost tens of MB). The
 * store is made durable before records are marked delivered (`persist`), so at every instant an entry is in the
 * journal or durable in the store; at start, records newer than what the store reflects are replayed into it.
 * Bounded: 24 h (swept with the local state's upkeep, every minute) and at most MAX_ENTRIES (oldest dropped
 * first); the file is compacted when it holds more than twice its live lines.
 */
export class ReplayCache {
  readonly #store: KeyedStore<ReplayEntry>;
  readonly #log: Logger;
  readonly #now: () => number;
  #upkeep: Promise<void> = Promise.resolve();

  /** `store` replaces the file store (unit tests); `fs` is the file store's filesystem (default node:fs). */
  constructor(deps: { dataDir: string; log: Logger; now: () => number; store?: KeyedStore<ReplayEntry>; fs?: DurableFs }) {
    this.#log = deps.log;
    this.#now = deps.now;
    this.#store =
      deps.store ??
      new FileKeyedStore<ReplayEntry>({
        file: path.join(deps.dataDir, 'state', 'replay.kv'),
        cacheEntries: CACHED_ANSWERS,
        keepAtStart: (_key, at) => at >= this.#now() - REPLAY_TTL_MS,
        onTornTail: (t) => this.#log.warn(t, 'replay log: torn tail cut off (its entries are replayed from the journal)'),
        ...(deps.fs ? { fs: deps.fs } : {}),
      });
  }

  get size(): number {
    return this.#store.size;
  }

  /** Bytes of the store's file (the answers live there, not in memory). */
  get bytes(): number {
    return this.#store.stats().fileBytes;
  }

  /** Opens the store; journal records newer than what it holds are then fed through {@link consumer}. */
  async open(): Promise<void> {
    await this.#store.start();
  }

  /** What LocalState's start-up replay hands the records to (src/checkout/local-state.ts `RecordConsumer`). */
  consumer(): RecordConsumer {
    const cutoff = this.#now() - REPLAY_TTL_MS;
    return {
      hw: this.#store.hw,
      take: (seq, record) => {
        if (record.replay && record.replay.at >= cutoff) this.remember({ ...record.replay, seq });
      },
      mark: (seq) => this.#store.mark(seq),
      upkeep: () => this.upkeep(),
    };
  }

  get(key: string): ReplayEntry | undefined {
    const m = this.#store.meta(key);
    if (!m) return undefined;
    if (m.at < this.#now() - REPLAY_TTL_MS) return undefined;
    return this.#store.get(key);
  }

  /** Called once the record carrying the entry is durable (in seq order, with the other commits). */
  remember(e: ReplayEntry): void {
    this.#store.put(e.key, e, e.seq, e.at);
  }

  /** Before records are marked delivered (and may be deleted with their segment): the entries become durable. */
  async persist(_seqs: readonly number[]): Promise<void> {
    await this.#store.sync();
  }

  /** Drops entries past 24 h or past MAX_ENTRIES (oldest first), then compacts the file when worth it. */
  upkeep(): Promise<void> {
    const run = this.#upkeep.then(() => this.#runUpkeep());
    this.#upkeep = run.catch(() => undefined);
    return run;
  }

  async #runUpkeep(): Promise<void> {
    const cutoff = this.#now() - REPLAY_TTL_MS;
    const drop: string[] = [];
    let over = this.#store.size - MAX_ENTRIES;
    for (const key of this.#store.keys()) {
      const m = this.#store.meta(key);
      if (m && m.at >= cutoff && over <= 0) break; // put order is time order: the rest is younger
      drop.push(key);
      over--;
    }
    for (const key of drop) this.#store.delete(key, this.#store.hw);
    await this.#store.maintain();
    if (drop.length > 0) this.#log.debug({ dropped: drop.length, entries: this.#store.size }, 'replay entries past their retention dropped');
  }

  async stop(): Promise<void> {
    await this.#upkeep;
    await this.#store.stop();
  }
}
