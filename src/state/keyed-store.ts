/**
 * Keyed state derived from the journal (local sessions, profiles, replay answers), kept on disk with only an
 * index and a small cache of parsed values in memory.
 *
 * Why: a busy shop keeps three days of sessions (~90,000) and a day of replay answers for returns, reopens and
 * retries while offline. Held as objects they cost hundreds of MB, and a snapshot rewriting all of them every
 * minute cost seconds of CPU; on a mini-PC whose whole daemon should stay near 100 MB neither is possible.
 *
 * How: a log-structured file (one line per `put`), an in-memory index key → (seq, time, offset, length) in
 * typed arrays, and an LRU of the most recently used parsed values. Reads of a value that left the cache are a
 * synchronous positional read of its line (page-cache fast; values are small).
 *
 * Line: `crc32hex \t seq \t at \t keyJSON \t valueJSON \n` (valueJSON empty = deleted). JSON never holds a raw
 * tab or newline, so the fields split without parsing the value; the CRC covers the rest of the line.
 *
 * Durability contract with the journal. Each line carries the seq of the journal record whose state it holds,
 * and `put`s come in seq order, so the file is always a prefix of the history: every record up to `hw` (the
 * highest seq in the file, or in the header of a compacted file) is reflected, none after it. Lines are
 * written without an fsync (they survive `kill -9` in the page cache); `sync()` makes them durable, and is
 * called before journal records are marked delivered — until then the journal still holds what a lost line
 * held. At start, a torn or damaged tail (a crash mid-write; a power cut can also leave garbage in the unsynced
 * part) is cut off at the first bad line, and the caller replays the journal records newer than `hw`.
 *
 * Compaction rewrites the live lines (temp file, fsync, rename, fsync dir) once the file holds more than twice
 * their bytes, so the file is bounded by the live entries, not by the number of puts.
 */
import path from 'node:path';
import { type DurableFs, type SyncFile, nodeDurableFs } from '../platform/durable-fs.js';
import { Slots, lineOf, scanLines } from './keyed-lines.js';
import { copyLive } from './keyed-compact.js';
import type { KeyedStore, KeyedStoreStats } from './keyed.js';

export type { KeyedStore, KeyedStoreStats } from './keyed.js';

/** Pending lines past this many characters are written at once rather than at the next loop turn. */
const WRITE_THROUGH_BYTES = 1024 * 1024;
/** A file smaller than this is never compacted (rewriting it would save little). */
const COMPACT_MIN_BYTES = 4 * 1024 * 1024;

/** A line put but not yet written; `valueAt` is where its value starts within the line (bytes). */
interface PendingLine {
  key: string;
  /** A line with no key that only advances `hw` (see `mark`). */
  marker?: true;
  slot: number;
  seq: number;
  line: string;
  valueAt: number;
  valueBytes: number;
}

export interface FileKeyedStoreOptions {
  file: string;
  /** Parsed values kept in memory (least recently used dropped first). */
  cacheEntries: number;
  /** Called for each line read at start whose key is live; return false to drop it (e.g. past its retention). */
  keepAtStart?: (key: string, at: number) => boolean;
  /** Called once for a bad tail cut off at start (bytes dropped), for the logs. */
  onTornTail?: (info: { offset: number; bytes: number }) => void;
  /** The filesystem (default node:fs; tests put a power-cut model here). */
  fs?: DurableFs;
}

export class FileKeyedStore<V> implements KeyedStore<V> {
  readonly #o: FileKeyedStoreOptions;
  readonly #fs: DurableFs;
  readonly #index = new Map<string, number>();
  readonly #slots = new Slots();
  readonly #cache = new Map<string, V>();
  /** Lines put but not yet written, in put order; their values stay readable from `#unwritten`. */
  #pending: PendingLine[] = [];
  readonly #unwritten = new Map<string, string>();
  #file: SyncFile | null = null;
  #fileBytes = 0;
  #liveBytes = 0;
  #hw = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #flushScheduled = false;
  #dirty = false;
  #pendingBytes = 0;
  /** An operation of the queue (write, sync, compaction) is running. */
  #busy = false;

  constructor(o: FileKeyedStoreOptions) {
    this.#o = o;
    this.#fs = o.fs ?? nodeDurableFs;
  }

  get size(): number {
    return this.#index.size;
  }

  get hw(): number {
    return this.#hw;
  }

  stats(): KeyedStoreStats {
    return { entries: this.#index.size, cached: this.#cache.size, fileBytes: this.#fileBytes, liveBytes: this.#liveBytes };
  }

  async start(): Promise<void> {
    const fs = this.#fs;
    const dir = path.dirname(this.#o.file);
    await fs.ensureDir(dir);
    // A compaction cut short by a crash leaves its temp file (the store itself is whole): remove it.
    const stale = `.${path.basename(this.#o.file)}.`;
    for (const n of await fs.readdir(dir)) if (n.startsWith(stale) && n.endsWith('.compact.tmp')) await fs.unlink(path.join(dir, n)).catch(() => undefined);
    let created = false;
    let file: SyncFile;
    try {
      file = fs.openSync(this.#o.file, 'r+');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      file = fs.openSync(this.#o.file, 'w+');
      created = true;
    }
    this.#file = file;
    if (created) {
      file.sync();
      await fs.fsyncDir(path.dirname(this.#o.file));
    }
    this.#scan(file);
  }

  /** Reads every line (a bounded window at a time), builds the index, cuts a bad tail off. */
  #scan(file: SyncFile): void {
    const size = file.size();
    const keep = this.#o.keepAtStart;
    const end = scanLines((buf, pos, len) => this.#readInto(buf, pos, len), size, (l) => {
      this.#hw = Math.max(this.#hw, l.seq);
      if (l.key === null) return; // the header of a compacted file: everything up to its seq was reflected
      this.#dropIndex(l.key);
      if (l.valueLen === 0 || (keep && !keep(l.key, l.at))) return;
      const slot = this.#slots.alloc();
      this.#slots.seq[slot] = l.seq;
      this.#slots.at[slot] = l.at;
      this.#slots.off[slot] = l.valueOffset;
      this.#slots.len[slot] = l.valueLen;
      this.#index.set(l.key, slot);
      this.#liveBytes += l.lineBytes;
    });
    if (end < size) {
      this.#o.onTornTail?.({ offset: end, bytes: size - end });
      file.truncate(end);
      file.sync();
    }
    this.#fileBytes = end;
  }

  #read(position: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    const done = this.#readInto(buf, position, length);
    return done < length ? buf.subarray(0, done) : buf;
  }

  /** Reads up to `length` bytes at `position` into the start of `buf`; returns how many (fewer at the end of file). */
  #readInto(buf: Buffer, position: number, length: number): number {
    return (this.#file as SyncFile).read(buf, position, length);
  }

  has(key: string): boolean {
    return this.#index.has(key);
  }

  meta(key: string): { seq: number; at: number } | undefined {
    const slot = this.#index.get(key);
    return slot === undefined ? undefined : { seq: this.#slots.seq[slot] as number, at: this.#slots.at[slot] as number };
  }

  get(key: string): V | undefined {
    const cached = this.#cache.get(key);
    if (cached !== undefined) {
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const slot = this.#index.get(key);
    if (slot === undefined) return undefined;
    const text = this.#unwritten.get(key) ?? this.#read(this.#slots.off[slot] as number, this.#slots.len[slot] as number).toString('utf8');
    const value = JSON.parse(text) as V;
    this.#remember(key, value);
    return value;
  }

  put(key: string, value: V, seq: number, at: number): void {
    this.#hw = Math.max(this.#hw, seq);
    const keyJson = JSON.stringify(key);
    const valueJson = JSON.stringify(value);
    this.#dropIndex(key);
    const slot = this.#slots.alloc();
    this.#slots.seq[slot] = seq;
    this.#slots.at[slot] = at;
    this.#slots.off[slot] = -1;
    const line = lineOf(seq, at, keyJson, valueJson);
    const valueBytes = Buffer.byteLength(valueJson);
    this.#slots.len[slot] = valueBytes;
    this.#index.set(key, slot);
    this.#unwritten.set(key, valueJson);
    this.#remember(key, value);
    this.#enqueue({ key, slot, seq, line, valueAt: Buffer.byteLength(line) - 1 - valueBytes, valueBytes });
  }

  delete(key: string, seq: number): void {
    if (!this.#index.has(key)) return;
    this.#hw = Math.max(this.#hw, seq);
    this.#dropIndex(key);
    this.#cache.delete(key);
    this.#unwritten.delete(key);
    this.#enqueue({ key, slot: -1, seq, line: lineOf(seq, 0, JSON.stringify(key), ''), valueAt: 0, valueBytes: 0 });
  }

  keys(): IterableIterator<string> {
    return this.#index.keys();
  }

  mark(seq: number): void {
    if (seq <= this.#hw) return;
    this.#hw = seq;
    this.#enqueue({ key: '', marker: true, slot: -1, seq, line: lineOf(seq, 0, 'null', ''), valueAt: 0, valueBytes: 0 });
  }

  /** Makes every put so far durable (written, then one fdatasync). */
  sync(): Promise<void> {
    this.#flushScheduled = false;
    return this.#serial(async () => {
      this.#writePending();
      if (this.#dirty) {
        this.#dirty = false;
        this.#file?.sync();
      }
    });
  }

  async stop(): Promise<void> {
    if (!this.#file) return;
    await this.sync();
    await this.#queue;
    this.#file?.close();
    this.#file = null;
  }

  #remember(key: string, value: V): void {
    this.#cache.delete(key);
    this.#cache.set(key, value);
    if (this.#cache.size > this.#o.cacheEntries) this.#cache.delete(this.#cache.keys().next().value as string);
  }

  #dropIndex(key: string): void {
    const slot = this.#index.get(key);
    if (slot === undefined) return;
    this.#index.delete(key);
    const off = this.#slots.off[slot] as number;
    if (off >= 0) this.#liveBytes -= this.#lineBytesAt(slot);
    this.#slots.release(slot);
  }

  /** Bytes of the whole line of a written slot (header + value + newline), recomputed from its fields. */
  #lineBytesAt(slot: number): number {
    // The header is ASCII except the key: measured as written. Kept approximate on purpose: `liveBytes` only
    // decides when to compact, so the value bytes plus a fixed header estimate are enough.
    return (this.#slots.len[slot] as number) + 64;
  }

  #enqueue(p: PendingLine): void {
    this.#pending.push(p);
    this.#pendingBytes += p.line.length;
    // A long synchronous run of puts (a start replaying a backlog) never reaches the next loop turn: write as
    // it goes, so what waits in memory stays bounded. Only when nothing else holds the file.
    if (this.#pendingBytes >= WRITE_THROUGH_BYTES && !this.#busy) {
      this.#writePending();
      return;
    }
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // One write per event-loop turn for everything put meanwhile.
    setImmediate(() => {
      if (!this.#flushScheduled) return;
      this.#flushScheduled = false;
      void this.#serial(async () => this.#writePending()).catch(() => undefined);
    });
  }

  /** Writes pending lines at the end of the file and points their slots at them. Runs inside the queue. */
  #writePending(): void {
    const file = this.#file;
    if (this.#pending.length === 0 || !file) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const buf = Buffer.from(batch.map((p) => p.line).join(''), 'utf8');
    const base = this.#fileBytes;
    try {
      file.write(buf, base);
    } catch (err) {
      // Nothing of this batch counts as written: put it back in front, the next write or sync retries it.
      ftruncateSafe(file, base);
      this.#pending = batch.concat(this.#pending);
      for (const p of batch) this.#pendingBytes += p.line.length;
      throw err;
    }
    this.#fileBytes += buf.length;
    this.#dirty = true;
    // The batch holds every put made so far, so a key's last line in it is its current state.
    const last = new Map<string, { slot: number; valueStart: number }>();
    let lineStart = base;
    for (const p of batch) {
      if (!p.marker) last.set(p.key, { slot: p.slot, valueStart: lineStart + p.valueAt });
      lineStart += Buffer.byteLength(p.line);
    }
    for (const [key, { slot, valueStart }] of last) {
      if (slot < 0 || this.#index.get(key) !== slot) continue;
      this.#slots.off[slot] = valueStart;
      this.#liveBytes += this.#lineBytesAt(slot);
    }
    this.#unwritten.clear();
  }

  /** Compacts the file when it holds more than twice its live lines. */
  async maintain(): Promise<void> {
    if (this.wantsCompaction) await this.compact();
  }

  /** True once the file holds more than twice its live lines (and is big enough to be worth rewriting). */
  get wantsCompaction(): boolean {
    return this.#fileBytes > COMPACT_MIN_BYTES && this.#fileBytes > 2 * this.#liveBytes;
  }

  /**
   * Rewrites the live lines into a new file (temp, fsync, rename, fsync dir), headed by the current `hw`.
   * Puts made meanwhile wait in memory and are written to the new file after it.
   */
  compact(): Promise<void> {
    return this.#serial(async () => {
      this.#writePending();
      const dir = path.dirname(this.#o.file);
      const tmp = path.join(dir, `.${path.basename(this.#o.file)}.${process.pid}.compact.tmp`);
      const fs = this.#fs;
      const out = fs.openSync(tmp, 'w');
      let copy: Awaited<ReturnType<typeof copyLive>>;
      try {
        // Live values in file order (sequential reads of the old file).
        const live = [...this.#index]
          .map(([key, slot]) => ({ key, slot, seq: this.#slots.seq[slot] as number, at: this.#slots.at[slot] as number, off: this.#slots.off[slot] as number, len: this.#slots.len[slot] as number }))
          .filter((v) => v.off >= 0)
          .sort((a, b) => a.off - b.off);
        copy = await copyLive({
          out,
          hw: this.#hw,
          live,
          stillLive: (v) => this.#index.get(v.key) === v.slot && this.#slots.off[v.slot] === v.off,
          readInto: (buf, pos, len) => this.#readInto(buf, pos, len),
          fileBytes: this.#fileBytes,
        });
        out.sync();
      } catch (err) {
        out.close();
        await fs.unlink(tmp).catch(() => undefined); // already gone
        throw err;
      }
      out.close();
      await fs.rename(tmp, this.#o.file);
      await fs.fsyncDir(dir);
      this.#file?.close();
      this.#file = fs.openSync(this.#o.file, 'r+');
      // A value put again or deleted while the copy ran keeps its new line (written after this, in the new file).
      for (const m of copy.moved) if (this.#index.get(m.key) === m.slot && this.#slots.off[m.slot] === m.from) this.#slots.off[m.slot] = m.to;
      this.#fileBytes = copy.bytes;
      this.#liveBytes = 0;
      for (const slot of this.#index.values()) if ((this.#slots.off[slot] as number) >= 0) this.#liveBytes += this.#lineBytesAt(slot);
      this.#dirty = false;
    });
  }

  #serial(f: () => Promise<void>): Promise<void> {
    const run = async (): Promise<void> => {
      this.#busy = true;
      try {
        await f();
      } finally {
        this.#busy = false;
      }
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => undefined);
    return p;
  }
}

function ftruncateSafe(file: SyncFile, len: number): void {
  try {
    file.truncate(len);
  } catch {
    // the next start cuts a bad tail off anyway
  }
}
