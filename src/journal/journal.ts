/**
 * The durable journal: every locally answered transaction is appended here (and fsync'd) before the
 * terminal gets its answer, then flushed upstream in per-key order by the flusher.
 *
 * Durability contract:
 * - `append` resolves only after the record's bytes are on disk (write + fdatasync, shared by a group
 *   of concurrent appends). `kill -9` or power loss after that loses nothing.
 * - `markDelivered` resolves after the cursor file is durable. Many calls made
 *   while one cursor write runs share the next write. A delivery not yet recorded when the process dies
 *   is simply replayed later, which is safe: upstream dedupes by `Idempotency-Key` (the record id).
 * - Whole sealed segments whose records are all delivered are deleted after the cursor recording that is
 *   durable. The active (last) segment is never deleted: with the cursor's `hw` it anchors the seq
 *   high-water mark, so seqs are never reused.
 *
 * Memory: undelivered records are indexed in typed arrays (~60 bytes each: recovered-index.ts, live-index.ts); only
 * the newest records' bytes stay in memory (`residentPayloadBytes`), older ones are read back from their segment.
 * Two processes never open one directory: the gateway holds the data dir lock (src/platform/lock.ts) first.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { StoregateError } from '../core/errors.js';
import type { Clock } from '../platform/clock.js';
import { KeyCount } from './key-count.js';
import type { Logger } from '../telemetry/logger.js';
import { pino } from 'pino';
import { CURSOR_FILE, type LegacyDeadInfo, type RangeSet, encodeCursor } from './cursor.js';
import { type JournalFileOps, type SegmentHandle, nodeFileOps } from './file-ops.js';
import { SyncPacer } from './sync-pacer.js';
import { Preallocator } from './preallocator.js';
import { SegmentSources } from './payloads.js';
import { LiveIndex } from './live-index.js';
import { GroupCommit } from './group-commit.js';
import { type SegmentState, type Slot, recover } from './recovery.js';
import type { RecoveredIndex } from './recovered-index.js';
import { MAX_FIELD_BYTES, type PreparedRecord, encodeBatch, prepareRecord, segmentFileName } from './segment.js';
import {
  type AppendRequest,
  type LegacyDeadLetter,
  type JournalEntry,
  type JournalOptions,
  type JournalStats,
  StoredEntry,
} from './types.js';

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/**
 * Record bytes kept in memory for the newest undelivered records (see live-index.ts). Connected, a record is sent
 * within milliseconds of its append, so 1 MiB (~1,000 session updates) covers it; during an outage nothing is sent,
 * and a larger budget only held that much more of the backlog's newest records in memory until Talon.One was back.
 */
const DEFAULT_RESIDENT_PAYLOAD_BYTES = 1024 * 1024;
/** Inline (blocking) write + fdatasync while recent syncs average ≤ 2 ms (see SyncPacer). */
const DEFAULT_INLINE_SYNC_MAX_MS = 2;
const MIN_SEGMENT_BYTES = 4 * 1024;
const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024; // keeps batch offsets within the u32 `batchOff` field

interface Pending {
  readonly rec: PreparedRecord;
  readonly entry: StoredEntry;
}

function writeError(message: string, cause?: unknown): StoregateError {
  // A full disk has its own code: its remedy (free space; delivered segments free themselves once Talon.One
  // is reachable) is not an I/O error's.
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StoregateError('SG_ERR_DISK_FULL', `${message}: the data dir's disk is full`, {
      statusCode: 503,
      retryable: true,
      cause,
      // The code in the error body's title (README "Error codes"), for a terminal or a technician to act on.
      details: [{ path: '/', message: `disk full (${code}): nothing was recorded; answers resume once space is freed` }],
    });
  }
  return new StoregateError('SG_ERR_JOURNAL_WRITE', message, { statusCode: 503, retryable: true, cause });
}

function badRequest(message: string): StoregateError {
  return new StoregateError('SG_ERR_BAD_REQUEST', message, { statusCode: 400 });
}

export class Journal {
  readonly #dir: string;
  readonly #ops: JournalFileOps;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #maxBytes: number;
  readonly #segmentBytes: number;
  readonly #preallocate: boolean;
  #segments: SegmentState[];
  #active: SegmentState;
  #handle: SegmentHandle;
  /** Undelivered records found at open, in seq order (compact: see recovered-index.ts). */
  readonly #recovered: RecoveredIndex;
  /** Undelivered records appended since open, in seq order (compact too: see live-index.ts); all above the recovered ones. */
  readonly #undelivered: LiveIndex;
  /** Undelivered records per key among the recovered ones (the live index counts its own: live-index.ts). */
  readonly #keys = new KeyCount();
  /** Dead letters of a cursor written by an older storegate, until taken over (see cursor.ts). */
  readonly #setAside: Map<number, { slot: Slot; info: LegacyDeadInfo }>;
  readonly #delivered: RangeSet;
  #nextSeq: number;
  #lastDurableSeq: number;
  #bytes: number;
  #pendingBytes = 0;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closing: Promise<void> | undefined;
  /** Set when a failed batch could not be truncated away: the tail is unknown, so no more appends. */
  #broken: StoregateError | undefined;
  /** The last append that failed to reach the disk, until one succeeds (what a technician is shown). */
  #lastWriteFailure: { code: string; at: number } | null = null;
  readonly #listeners = new Set<(e: JournalEntry) => void>();
  readonly #appender = new GroupCommit<Pending>((b) => this.#commitBatch(b));
  readonly #pacer: SyncPacer;
  #prealloc: Preallocator;
  /** Read-only handles on segments, opened when a payload that left memory is read back. */
  readonly #sources: SegmentSources;
  readonly #cursorWriter = new GroupCommit<null>(() => this.#commitCursor());

  private constructor(o: {
    opts: JournalOptions;
    ops: JournalFileOps;
    log: Logger;
    segmentBytes: number;
    rec: Awaited<ReturnType<typeof recover>>;
    active: SegmentState;
    handle: SegmentHandle;
    fileBytes: number;
    sources: SegmentSources;
  }) {
    this.#dir = o.opts.dir;
    this.#ops = o.ops;
    this.#log = o.log;
    this.#clock = o.opts.clock;
    this.#maxBytes = o.opts.maxBytes;
    this.#segmentBytes = o.segmentBytes;
    this.#preallocate = o.opts.preallocate ?? true;
    this.#pacer = new SyncPacer(o.opts.inlineSyncMaxMs ?? DEFAULT_INLINE_SYNC_MAX_MS);
    this.#sources = o.sources;
    this.#undelivered = new LiveIndex(o.opts.residentPayloadBytes ?? DEFAULT_RESIDENT_PAYLOAD_BYTES, (seg) => o.sources.for(seg as SegmentState));
    this.#prealloc = this.#preallocatorFor(o.handle, o.active, o.fileBytes);
    this.#segments = o.rec.segments;
    this.#active = o.active;
    this.#handle = o.handle;
    this.#recovered = o.rec.undelivered;
    for (const [key, n] of this.#recovered.keyCounts()) this.#keys.add(key, n);
    this.#setAside = o.rec.setAside;
    this.#delivered = o.rec.delivered;
    this.#lastDurableSeq = o.rec.lastSeq;
    this.#nextSeq = o.rec.lastSeq + 1;
    this.#bytes = o.rec.segments.reduce((a, s) => a + s.size, 0);
  }

  /**
   * Opens (or creates) the journal in `opts.dir`: recovers every segment, drops a torn tail (logged),
   * rejects with SG_ERR_JOURNAL_CORRUPT on damage to durable records (unless `onCorrupt: 'skip'`).
   */
  static async open(opts: JournalOptions): Promise<Journal> {
    const segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!(segmentBytes >= MIN_SEGMENT_BYTES && segmentBytes <= MAX_SEGMENT_BYTES)) {
      throw new StoregateError('SG_ERR_CONFIG_INVALID', `journal segmentBytes must be 4 KiB..1 GiB, got ${segmentBytes}`);
    }
    if (!(opts.maxBytes > 0)) {
      throw new StoregateError('SG_ERR_CONFIG_INVALID', `journal maxBytes must be > 0, got ${opts.maxBytes}`);
    }
    const ops = opts.fileOps ?? nodeFileOps;
    const log = (opts.log ?? pino({ level: 'silent' })).child({ mod: 'journal' });
    const t0 = performance.now();
    const sources = new SegmentSources(ops);
    const rec = await recover(opts.dir, ops, log, opts.onCorrupt ?? 'fail', (seg) => sources.for(seg));
    let active = rec.segments[rec.segments.length - 1];
    let handle = rec.active;
    let fileBytes = rec.activeFileBytes;
    if (!active || !handle) {
      fileBytes = 0;
      const path = join(opts.dir, segmentFileName(rec.lastSeq + 1));
      handle = await ops.createSegment(path);
      active = { firstSeq: rec.lastSeq + 1, path, size: 0, live: 0 };
      rec.segments.push(active);
    }
    const j = new Journal({ opts, ops, log, segmentBytes, rec, active, handle, fileBytes, sources });
    // A crash between a cursor write and the segment deletions it allowed leaves deletable segments.
    if (rec.segments.some((s) => s !== active && s.live === 0)) await j.#cursorWriter.submit(null);
    log.info({ ...j.stats(), openMs: Math.round(performance.now() - t0) }, 'journal: opened');
    return j;
  }

  /**
   * Appends a record and resolves once it is durable. Rejects with SG_ERR_JOURNAL_FULL (503) when
   * `maxBytes` would be exceeded (nothing written), SG_ERR_JOURNAL_WRITE (503) on an I/O error (the
   * whole batch is rolled back), SG_ERR_BAD_REQUEST when the record cannot be encoded.
   */
  async append<P>(req: AppendRequest<P>): Promise<JournalEntry<P>> {
    this.#assertOpen();
    if (this.#broken) throw this.#broken;
    const id = req.id ?? randomUUID();
    if (typeof req.key !== 'string' || req.key === '' || typeof req.kind !== 'string' || req.kind === '' || id === '') {
      throw badRequest('journal record needs a non-empty key, kind and id');
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(req.payload);
    } catch (err) {
      throw badRequest(`journal payload is not JSON-serialisable: ${(err as Error).message}`);
    }
    const rec = prepareRecord(id, req.key, req.kind, json ?? 'null');
    if (Math.max(rec.idLen, rec.keyLen, rec.kindLen) > MAX_FIELD_BYTES) {
      throw badRequest('journal id, key and kind must each be under 64 KiB');
    }
    if (this.#bytes + this.#pendingBytes + rec.size > this.#maxBytes) {
      throw new StoregateError(
        'SG_ERR_JOURNAL_FULL',
        `journal full: ${this.#bytes + this.#pendingBytes} of ${this.#maxBytes} bytes used, record needs ${rec.size}`,
        { statusCode: 503, retryable: true },
      );
    }
    rec.seq = this.#nextSeq++;
    rec.at = this.#clock.now();
    rec.mono = this.#clock.monotonic();
    this.#pendingBytes += rec.size;
    const entry = new StoredEntry<P>(rec, rec.payloadJson);
    try {
      await this.#appender.submit({ rec, entry });
    } catch (err) {
      this.#lastWriteFailure = { code: (err as StoregateError).code ?? 'SG_ERR_JOURNAL_WRITE', at: this.#clock.now() };
      throw err;
    }
    this.#lastWriteFailure = null;
    return entry;
  }

  /**
   * Whether appends reach the disk now: false after an append failed (a full disk, an I/O error) until one
   * succeeds, and for good once the journal is broken (README "Status page": the red verdict).
   */
  writeHealth(): { writable: boolean; lastFailure: { code: string; at: number } | null } {
    const failure = this.#broken ? { code: this.#broken.code, at: this.#lastWriteFailure?.at ?? this.#clock.now() } : this.#lastWriteFailure;
    return { writable: failure === null, lastFailure: failure };
  }

  /**
   * Records delivery of `seqs` (unknown or already delivered seqs are ignored; so is a record set aside by an
   * older storegate's cursor, once taken over). Resolves when the cursor is durable.
   */
  async markDelivered(seqs: number | readonly number[]): Promise<void> {
    this.#assertNotClosed();
    for (const seq of typeof seqs === 'number' ? [seqs] : seqs) {
      const found = this.#recovered.remove(seq);
      if (found) {
        this.#keys.add(found.key, -1);
        found.seg.live -= 1;
        this.#delivered.add(seq);
        continue;
      }
      const live = this.#undelivered.remove(seq);
      if (live) {
        live.seg.live -= 1;
        this.#delivered.add(seq);
        continue;
      }
      const slot = this.#setAside.get(seq)?.slot;
      if (!slot) continue;
      this.#setAside.delete(seq);
      slot.seg.live -= 1;
      this.#delivered.add(seq);
    }
    // Nothing left to read back: the 1 MiB read-ahead window need not stay resident through a quiet night.
    if (this.#recovered.live === 0 && this.#undelivered.live === 0 && this.#setAside.size === 0) this.#sources.releaseWindow();
    await this.#cursorWriter.submit(null);
  }

  /**
   * The dead letters an older storegate's cursor listed (it kept them in the journal), for their new owner
   * to take over: once it has them durably, it marks them delivered here and the cursor forgets them.
   * Empty for a cursor written by this version.
   */
  legacyDeadLetters(): LegacyDeadLetter[] {
    return [...this.#setAside.values()]
      .sort((a, b) => a.slot.entry.seq - b.slot.entry.seq)
      .map((d) => ({ entry: d.slot.entry, status: d.info.status, body: d.info.body, at: d.info.at }));
  }

  /** True while records with this ordering key wait for delivery. */
  hasUndelivered(key: string): boolean {
    return this.#keys.has(key) || this.#undelivered.hasKey(key);
  }

  /** Undelivered records, in seq order. A snapshot array. */
  undelivered(): JournalEntry[] {
    return this.undeliveredAfter(0);
  }

  /**
   * Undelivered records with a seq above `after`, in seq order (a snapshot array), the first `limit`. A restart's state rebuild
   * asks only for what its stores do not reflect yet, so the records before it are never made into objects.
   */
  undeliveredAfter(after: number, limit = Infinity): JournalEntry[] {
    return this.#undelivered.entriesAfter(after, this.#recovered.entriesAfter(after, [], limit), limit);
  }

  /**
   * Calls `fn(seq, key)` for each undelivered record with a seq above `after`, in seq order, without making an entry
   * object for each (the flusher queues seqs: a backlog of 100,000 records is not 100,000 objects).
   */
  forEachUndelivered(after: number, fn: (seq: number, key: string) => void): void {
    this.#recovered.forEachAfter(after, fn);
    this.#undelivered.forEachAfter(after, fn);
  }

  /** True while the record with this seq waits for delivery (not delivered, not set aside). */
  isUndelivered(seq: number): boolean {
    return this.#undelivered.has(seq) || this.#recovered.has(seq);
  }

  /** The undelivered record with this seq, if any (delivered ones are not kept in memory). */
  get(seq: number): JournalEntry | undefined {
    return this.#recovered.get(seq) ?? this.#undelivered.get(seq) ?? this.#setAside.get(seq)?.slot.entry;
  }

  /**
   * Calls `fn` for each record that becomes undelivered: after an append is durable (in seq order,
   * before the appender's promise settles). Returns an unsubscribe.
   */
  onAppend(fn: (entry: JournalEntry) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  stats(): JournalStats {
    const oldestAt = this.#recovered.firstAt() ?? this.#undelivered.firstAt();
    return {
      depth: this.#recovered.live + this.#undelivered.live,
      bytes: this.#bytes,
      oldestAgeSec: oldestAt !== undefined ? Math.max(0, (this.#clock.now() - oldestAt) / 1000) : 0,
      segments: this.#segments.length,
      lastSeq: this.#lastDurableSeq,
    };
  }

  /** Payload bytes of undelivered records held in memory now (bounded by `residentPayloadBytes`). */
  residentPayloadBytes(): number {
    return this.#undelivered.residentBytes;
  }

  /** How batches were made durable: the recent sync time and how many ran inline or in the pool. */
  syncStats(): { ewmaMs: number; inlineBatches: number; pooledBatches: number } {
    return this.#pacer.stats;
  }

  /** Waits for in-flight appends and cursor writes, then closes the files. Later calls reject. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#state = 'closing'; // appends now reject; deliveries are still recorded until 'closed'
      await this.#appender.drain();
      await this.#cursorWriter.drain();
      this.#state = 'closed';
      await this.#prealloc.settle();
      this.#sources.closeAll();
      await this.#handle.close();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw writeError('journal is closed');
  }

  #assertNotClosed(): void {
    if (this.#state === 'closed') throw writeError('journal is closed');
  }

  #notify(entry: JournalEntry): void {
    for (const fn of this.#listeners) {
      try {
        fn(entry);
      } catch (err) {
        this.#log.error({ err, seq: entry.seq }, 'journal: onAppend listener threw');
      }
    }
  }

  /**
   * One write + one fdatasync for the whole batch. Runs one at a time (GroupCommit). On a fast disk the
   * two calls block the loop for the sync itself (no thread-pool round trips); on a slow one they go to
   * the pool (see SyncPacer). A batch that starts a new segment always takes the async path.
   */
  #commitBatch(batch: readonly Pending[]): Promise<void> | void {
    let total = 0;
    for (const p of batch) total += p.rec.size;
    const rotate = this.#active.size > 0 && this.#active.size + total > this.#segmentBytes;
    const seg = this.#active;
    const off = seg.size;
    if (this.#broken || rotate || !this.#pacer.inline() || !this.#prealloc.clear(off, total)) return this.#commitPooled(batch, total, rotate);
    let buf: Buffer;
    try {
      buf = encodeBatch(batch.map((p) => p.rec), off);
      // Timed on the clock port's monotonic time, so tests can give a disk any speed deterministically.
      const t0 = this.#clock.monotonic();
      this.#handle.writeSync(buf, off);
      this.#handle.datasyncSync();
      this.#pacer.record(this.#clock.monotonic() - t0, true);
    } catch (err) {
      // Truncating back is async; the batch settles (rejected) once the tail is clean again.
      return this.#failBatch(batch, total, off, err);
    }
    this.#committed(batch, total, seg, buf);
  }

  async #commitPooled(batch: readonly Pending[], total: number, rotate: boolean): Promise<void> {
    let seg: SegmentState | undefined;
    let off = 0;
    let buf: Buffer;
    try {
      if (this.#broken) throw this.#broken;
      if (rotate) await this.#rotate((batch[0] as Pending).rec.seq);
      seg = this.#active;
      off = seg.size;
      if (!this.#prealloc.clear(off, total)) await this.#prealloc.settle();
      buf = encodeBatch(batch.map((p) => p.rec), off);
      const t0 = this.#clock.monotonic();
      await this.#handle.write(buf, off);
      // fdatasync is enough: it flushes the data and the metadata needed to read it back (a new file
      // size, when the batch went past the preallocated zeros); only timestamps are skipped.
      await this.#handle.datasync();
      this.#pacer.record(this.#clock.monotonic() - t0, false);
    } catch (err) {
      if (seg === undefined) {
        this.#pendingBytes -= total;
        throw err;
      }
      return this.#failBatch(batch, total, off, err);
    }
    this.#committed(batch, total, seg, buf);
  }

  /** A durable batch: index its records, then tell the listeners (in seq order). */
  #committed(batch: readonly Pending[], total: number, seg: SegmentState, buf: Buffer): void {
    this.#pendingBytes -= total;
    seg.size += total;
    this.#bytes += total;
    const src = this.#sources.for(seg);
    const off = seg.size - total;
    let at = off;
    for (const p of batch) {
      const r = p.rec;
      // The entry handed to the appender and the listeners; the index keeps only the record's place (live-index.ts).
      p.entry.attach(buf, r.payloadAt, r.payloadAt + r.payloadLen);
      p.entry.locate(src, off + r.payloadAt, r.payloadLen);
      this.#undelivered.add(r.seq, r.at, r.mono, seg, at, r.size, r.key, r.kind, buf, off);
      at += r.size;
      seg.live += 1;
    }
    this.#lastDurableSeq = (batch[batch.length - 1] as Pending).rec.seq;
    if (seg === this.#active) this.#prealloc.wrote(seg.size);
    for (const p of batch) this.#notify(p.entry);
  }

  /** A failed write or sync: cut the tail back, then reject the whole batch. */
  async #failBatch(batch: readonly Pending[], total: number, off: number, err: unknown): Promise<never> {
    try {
      await this.#prealloc.settle(); // no zero-fill may land after the cut
      await this.#truncateBack(off, err);
      this.#prealloc.cut(off);
    } finally {
      this.#pendingBytes -= total;
    }
    throw writeError(`journal write failed (${(err as NodeJS.ErrnoException).code ?? 'I/O error'}); batch of ${batch.length} rolled back`, err);
  }

  /**
   * After a failed write or sync, cut the segment back to the last durable offset, so half-written
   * bytes are neither acknowledged nor left in front of later records. Earlier bytes were fsync'd by
   * earlier batches, so a failed fsync here (which may drop dirty pages, cf. "fsyncgate") cannot hurt them.
   */
  async #truncateBack(off: number, cause: unknown): Promise<void> {
    try {
      await this.#handle.truncate(off);
      await this.#handle.datasync();
      this.#log.error({ err: cause, file: this.#active.path, offset: off }, 'journal: write failed, segment truncated back');
    } catch (err) {
      this.#broken = writeError('journal unusable until restart: a failed write could not be truncated away', err);
      this.#log.fatal({ err, cause, file: this.#active.path, offset: off }, 'journal: truncate-back failed');
    }
  }

  async #rotate(firstSeq: number): Promise<void> {
    const path = join(this.#dir, segmentFileName(firstSeq));
    let handle: SegmentHandle;
    try {
      handle = await this.#ops.createSegment(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await this.#ops.unlink(path).catch(() => undefined);
      throw writeError(`journal could not start segment ${path}`, err);
    }
    const old = this.#handle;
    const sealed = this.#active;
    await this.#prealloc.settle();
    this.#handle = handle;
    this.#active = { firstSeq, path, size: 0, live: 0 };
    this.#segments.push(this.#active);
    this.#prealloc = this.#preallocatorFor(handle, this.#active, 0);
    // The sealed segment's unused zeros go back to the disk. Not synced: a crash that keeps them is
    // harmless (an all-zero rest of a file reads as the end of its data).
    await old.truncate(sealed.size).catch((err: unknown) => this.#log.warn({ err, file: sealed.path }, 'journal: trimming sealed segment failed'));
    await old.close().catch((err: unknown) => this.#log.warn({ err }, 'journal: closing sealed segment failed'));
    // A segment sealed with everything delivered can go now; the cursor writer deletes it.
    if (sealed.live === 0) this.#cursorWriter.submit(null).catch(() => undefined);
  }

  #preallocatorFor(handle: SegmentHandle, seg: SegmentState, fileBytes: number): Preallocator {
    const limit = this.#preallocate ? this.#segmentBytes : 0;
    const p = new Preallocator({ handle, path: seg.path, fileBytes, limit, log: this.#log });
    p.wrote(seg.size);
    return p;
  }

  #lowWatermark(): number {
    let lw = this.#lastDurableSeq;
    const first = this.#recovered.firstSeq() ?? this.#undelivered.firstSeq();
    if (first !== undefined) lw = Math.min(lw, first - 1);
    for (const seq of this.#setAside.keys()) lw = Math.min(lw, seq - 1);
    return lw;
  }

  /** Writes the cursor atomically, then deletes the sealed segments it made fully delivered. */
  async #commitCursor(): Promise<void> {
    const lw = this.#lowWatermark();
    this.#delivered.dropThrough(lw);
    // Written back until taken over (an older storegate's dead letters), so a crash before that loses none.
    const dead = [...this.#setAside.values()].map((d) => d.info).sort((a, b) => a.seq - b.seq);
    const doomed = this.#segments.filter((s) => s !== this.#active && s.live === 0);
    const text = encodeCursor({ lw, hw: this.#lastDurableSeq, delivered: this.#delivered.ranges, dead });
    await this.#ops.writeFileAtomic(join(this.#dir, CURSOR_FILE), text);
    for (const s of doomed) {
      try {
        await this.#ops.unlinkDurable(s.path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
        this.#segments = this.#segments.filter((x) => x !== s);
        this.#sources.forget(s.path);
        this.#bytes -= s.size;
      } catch (err) {
        this.#log.warn({ err, file: s.path }, 'journal: could not delete delivered segment; will retry');
      }
    }
  }
}
