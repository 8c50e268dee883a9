/** Public types of the journal, and the entry class that parses payloads lazily. */
import type { Logger } from '../telemetry/logger.js';
import type { Clock } from '../platform/clock.js';
import type { JournalFileOps } from './file-ops.js';
import type { LegacyDeadInfo } from './cursor.js';

export interface JournalOptions {
  /** Directory holding the segments and `cursor.json` (created durably if missing). */
  readonly dir: string;
  /** Ceiling on the bytes of live segment files; an append past it rejects with SG_ERR_JOURNAL_FULL (503). */
  readonly maxBytes: number;
  /** Size at which a new segment is started (default 64 MiB; 4 KiB .. 1 GiB). */
  readonly segmentBytes?: number;
  /** Wall time (`at`) and monotonic time (`mono`) of each record. */
  readonly clock: Clock;
  readonly log?: Logger;
  /**
   * What to do with a corrupt record that is not a torn tail (damage in bytes that had been fsync'd):
   * `'fail'` (default) rejects `open` with SG_ERR_JOURNAL_CORRUPT, naming file and offset, so an operator
   * decides; `'skip'` logs each damaged range at error level and drops it, keeping every valid record.
   */
  readonly onCorrupt?: 'fail' | 'skip';
  /** Filesystem port (tests inject faults or count syncs). Defaults to node:fs. */
  readonly fileOps?: JournalFileOps;
  /**
   * Write and fdatasync a batch as blocking calls on the event loop while recent syncs average at most
   * this many ms (default 2); slower, they go through the thread pool. 0 always uses the thread pool.
   */
  readonly inlineSyncMaxMs?: number;
  /**
   * Keep zero-filled space ahead of the write position in the active segment (default true), so each
   * sync flushes data only (see preallocator.ts). Tests that inspect exact file sizes turn it off.
   */
  readonly preallocate?: boolean;
  /**
   * Payload bytes of undelivered records kept in memory, newest first (default 4 MiB); older payloads are
   * read back from their segment when needed, so memory does not grow with an outage's backlog.
   */
  readonly residentPayloadBytes?: number;
}

/** One journal record. Immutable; `payload` is parsed from disk on first access. */
export interface JournalEntry<P = unknown> {
  /** Strictly increasing across the journal's whole life (gaps possible after a failed write). */
  readonly seq: number;
  /** Stable unique id, sent upstream as `Idempotency-Key`. */
  readonly id: string;
  /** Ordering key (`session:<id>`, `profile:<id>`): the flusher keeps per-key order. */
  readonly key: string;
  /** What the payload is (`updateSession`, `trackEvent`, ...). */
  readonly kind: string;
  /** Wall-clock ms at append (Clock.now()). */
  readonly at: number;
  /** Monotonic ms at append (Clock.monotonic(); only comparable within one process run). */
  readonly mono: number;
  readonly payload: P;
}

export interface AppendRequest<P> {
  readonly key: string;
  readonly kind: string;
  readonly payload: P;
  /** Defaults to crypto.randomUUID(). */
  readonly id?: string;
}

/** A dead letter an older storegate's cursor listed, with the record it names (see `Journal.legacyDeadLetters`). */
export interface LegacyDeadLetter {
  readonly entry: JournalEntry;
  readonly status: LegacyDeadInfo['status'];
  readonly body: unknown;
  /** When it was dead-lettered (wall-clock ms). */
  readonly at: number;
}

export interface JournalStats {
  /** Undelivered records. */
  readonly depth: number;
  /** Bytes of live segment files (what maxBytes limits). */
  readonly bytes: number;
  /** Age of the oldest undelivered record, seconds (0 when none). */
  readonly oldestAgeSec: number;
  readonly segments: number;
  /** Highest seq made durable (0 when nothing was ever appended). */
  readonly lastSeq: number;
}

/** Reads payload bytes back from a segment file (a synchronous positional read, page-cache fast). */
export interface PayloadSource {
  /** The bytes, valid until the next read of any source (they may be a view of a reused window). */
  read(position: number, length: number): Buffer;
}

/**
 * An entry as held in memory: header fields decoded; the payload is JSON bytes, kept in memory while the
 * journal's resident budget allows (see payloads.ts) and read back from its segment file after that.
 * The payload is parsed on every read and never cached: a backlog of 100,000 records must not become
 * 100,000 parsed objects (each read gets a fresh object, which the caller may keep or modify).
 */
export class StoredEntry<P = unknown> implements JournalEntry<P> {
  readonly seq: number;
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  readonly at: number;
  readonly mono: number;
  /** JSON text (until the batch is durable) or `bytes[start, end)`; undefined once evicted. */
  #raw: string | Buffer | undefined;
  #start = 0;
  #end = 0;
  /** Where the payload lies on disk, once durable. */
  #src: PayloadSource | undefined;
  #pos = 0;
  #len = 0;

  constructor(
    f: { seq: number; id: string; key: string; kind: string; at: number; mono: number },
    raw: string | Buffer | undefined,
    start = 0,
    end = typeof raw === 'string' || raw === undefined ? 0 : raw.length,
  ) {
    this.seq = f.seq;
    this.id = f.id;
    this.key = f.key;
    this.kind = f.kind;
    this.at = f.at;
    this.mono = f.mono;
    this.#raw = raw;
    this.#start = start;
    this.#end = end;
  }

  /**
   * @internal Once the batch is durable, point at the payload bytes inside the written batch buffer
   * (off the V8 heap, shared by the batch) instead of keeping the JSON string: a large offline backlog
   * then costs the garbage collector one object per batch, not one big string per record.
   */
  attach(bytes: Buffer, start: number, end: number): void {
    this.#raw = bytes;
    this.#start = start;
    this.#end = end;
  }

  /** @internal Where the payload lies in its segment file, so its bytes can leave memory. */
  locate(src: PayloadSource, position: number, length: number): void {
    this.#src = src;
    this.#pos = position;
    this.#len = length;
  }

  get payload(): P {
    let text: string;
    if (this.#raw !== undefined) text = typeof this.#raw === 'string' ? this.#raw : this.#raw.toString('utf8', this.#start, this.#end);
    else if (this.#src !== undefined) text = this.#src.read(this.#pos, this.#len).toString('utf8');
    else throw new Error(`journal entry ${this.seq} has no payload`);
    return JSON.parse(text) as P;
  }

  /** Plain object for logs and JSON responses (getters are not serialised by JSON.stringify). */
  toJSON(): JournalEntry<P> {
    return { seq: this.seq, id: this.id, key: this.key, kind: this.kind, at: this.at, mono: this.mono, payload: this.payload };
  }
}
