/**
 * The contract of a keyed store: state derived from the journal, by key, with the journal seq it reflects
 * (`hw`). FileKeyedStore (keyed-store.ts) keeps it on disk; MemoryKeyedStore stands in for it in unit tests.
 */
export interface KeyedStoreStats {
  /** Live keys. */
  entries: number;
  /** Parsed values held in memory. */
  cached: number;
  /** Bytes of the file, and of its live lines. */
  fileBytes: number;
  liveBytes: number;
}

/** What the state modules need of a keyed store; {@link MemoryKeyedStore} stands in for it in unit tests. */
export interface KeyedStore<V> {
  readonly size: number;
  /** Every journal record up to this seq is reflected in the store (see the module comment). */
  readonly hw: number;
  start(): Promise<void>;
  get(key: string): V | undefined;
  has(key: string): boolean;
  /** Seq and wall time (ms) of a key's last put. */
  meta(key: string): { seq: number; at: number } | undefined;
  /** Stores `value` as the state of `key` after journal record `seq`, at wall time `at`. */
  put(key: string, value: V, seq: number, at: number): void;
  delete(key: string, seq: number): void;
  /** Keys, least recently put first. */
  keys(): IterableIterator<string>;
  /**
   * Records that every journal record up to `seq` is reflected (records that changed nothing here included), so a
   * restart replays none of them into this store. Call it only once every record up to `seq` was put.
   */
  mark(seq: number): void;
  /** Makes every put so far durable. */
  sync(): Promise<void>;
  /** Background upkeep (compaction), called now and then by the owner. */
  maintain(): Promise<void>;
  stop(): Promise<void>;
  stats(): KeyedStoreStats;
}
