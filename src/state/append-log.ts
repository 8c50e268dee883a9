import path from 'node:path';
import { type DurableFs, type SyncFile, nodeDurableFs } from '../platform/durable-fs.js';

/**
 * A small append-only NDJSON file for state that must be durable at moments the journal cannot cover (just
 * before records are marked delivered): `append` writes lines and fdatasyncs once; `read` skips a torn last
 * line (a crash mid-append: what it held was still in the journal); `rewrite` compacts atomically.
 * Operations are serialised.
 *
 * A torn last line has no newline: the first append after it starts with one, so the fragment stays a line of
 * its own (skipped) instead of swallowing the new line, which is durable and acknowledged.
 */

/** The read window of a compaction (grown for a line longer than it). */
const COMPACT_WINDOW_BYTES = 1024 * 1024;
export class AppendLog<T> {
  readonly file: string;
  readonly #fs: DurableFs;
  #queue: Promise<unknown> = Promise.resolve();
  #lines = 0;
  /** The file ends with a newline (or is empty); undefined: not known (not looked at yet, or an append failed). */
  #endsClean: boolean | undefined;

  /** @param fs the filesystem (default node:fs; tests put a power-cut model here). */
  constructor(file: string, fs: DurableFs = nodeDurableFs) {
    this.file = file;
    this.#fs = fs;
  }

  /** Lines written since the last rewrite (for compaction decisions). */
  get lines(): number {
    return this.#lines;
  }

  async read(): Promise<T[]> {
    let text = '';
    try {
      text = (await this.#fs.readFile(this.file)).toString('utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const out: T[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        // torn tail
      }
    }
    this.#lines = out.length;
    return out;
  }

  append(items: readonly T[]): Promise<void> {
    if (items.length === 0) return this.#serial(async () => undefined);
    return this.#serial(async () => {
      await this.#fs.ensureDir(path.dirname(this.file));
      const clean = this.#endsClean ?? this.#lastByteIsNewline();
      try {
        await this.#fs.appendDurable(this.file, `${clean ? '' : '\n'}${items.map((i) => `${JSON.stringify(i)}\n`).join('')}`);
      } catch (err) {
        this.#endsClean = undefined; // part of it may have landed
        throw err;
      }
      this.#endsClean = true;
      this.#lines += items.length;
    });
  }

  /** Replaces the whole log (temp, fsync, rename, fsync dir). `items` is called inside the queue. */
  rewrite(items: () => readonly T[]): Promise<void> {
    return this.#serial(async () => {
      const list = items();
      await this.#fs.ensureDir(path.dirname(this.file));
      await this.#fs.writeFileAtomic(this.file, list.map((i) => `${JSON.stringify(i)}\n`).join(''));
      this.#endsClean = true;
      this.#lines = list.length;
    });
  }

  /**
   * Keeps only the lines `keep` accepts (read and rewritten inside the queue, so no append is lost). Line by line,
   * through a 1 MiB read window: each line is parsed on its own and dropped at once, and a kept line is copied back
   * as the bytes read (what JSON.stringify wrote). Parsing the whole file first held every entry as objects plus the
   * text twice: for the reconciliation log at its bound (20,000 lines, ~10.8 MiB) that was +61 MiB of RSS at once,
   * in the middle of a drain; this way it is the lines kept and the window.
   */
  compact(keep: (item: T) => boolean): Promise<void> {
    return this.#serial(async () => {
      let f: SyncFile | undefined;
      try {
        f = this.#fs.openSync(this.file, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      let out = Buffer.alloc(0);
      let kept = 0;
      let n = 0;
      if (f) {
        try {
          const size = f.size();
          // Pages of the output are touched only as far as kept lines reach.
          out = Buffer.allocUnsafe(size);
          let win = Buffer.allocUnsafe(Math.min(size, COMPACT_WINDOW_BYTES));
          for (let pos = 0; pos < size; ) {
            const got = f.read(win, pos, Math.min(win.length, size - pos));
            if (got <= 0) break;
            const last = pos + got >= size;
            let start = 0;
            for (;;) {
              let end = win.indexOf(0x0a, start);
              if (end < 0 || end >= got) {
                if (!last) break; // a line cut by the window: read again from its start
                end = got;
              }
              if (end > start) {
                let item: T | undefined;
                let parsed = false;
                try {
                  item = JSON.parse(win.toString('utf8', start, end)) as T;
                  parsed = true;
                } catch {
                  // torn tail
                }
                if (parsed && keep(item as T)) {
                  n += win.copy(out, n, start, end);
                  out[n++] = 0x0a;
                  kept++;
                }
              }
              start = end + 1;
              if (start >= got) break;
            }
            if (start === 0 && !last) win = Buffer.allocUnsafe(win.length * 2); // one line longer than the window
            pos += Math.min(start, got);
            if (last) break;
          }
        } finally {
          f.close();
        }
      }
      await this.#fs.ensureDir(path.dirname(this.file));
      await this.#fs.writeFileAtomic(this.file, out.subarray(0, n));
      this.#endsClean = true;
      this.#lines = kept;
    });
  }

  #lastByteIsNewline(): boolean {
    let f;
    try {
      f = this.#fs.openSync(this.file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw err;
    }
    try {
      const size = f.size();
      if (size === 0) return true;
      const last = Buffer.alloc(1);
      return f.read(last, size - 1, 1) === 1 && last[0] === 0x0a;
    } finally {
      f.close();
    }
  }

  /** Resolves once every operation queued so far has finished (failed ones included). */
  idle(): Promise<void> {
    return this.#queue.then(() => undefined);
  }

  #serial(f: () => Promise<void>): Promise<void> {
    const p = this.#queue.then(f, f);
    this.#queue = p.catch(() => undefined);
    return p;
  }
}
