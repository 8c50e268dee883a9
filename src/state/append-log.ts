import path from 'node:path';
import { type DurableFs, nodeDurableFs } from '../platform/durable-fs.js';

/**
 * A small append-only NDJSON file for state that must be durable at moments the journal cannot cover (just
 * before records are marked delivered): `append` writes lines and fdatasyncs once; `read` skips a torn last
 * line (a crash mid-append: what it held was still in the journal); `rewrite` compacts atomically.
 * Operations are serialised.
 *
 * A torn last line has no newline: the first append after it starts with one, so the fragment stays a line of
 * its own (skipped) instead of swallowing the new line, which is durable and acknowledged.
 */

const NEWLINE = Buffer.from('\n');
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
   * Keeps only the lines `keep` accepts (read and rewritten inside the queue, so no append is lost). Line by line:
   * each line is parsed on its own and dropped at once, and a kept line goes back as the bytes read (what
   * JSON.stringify wrote). Parsing the whole file first held every entry as objects, plus the text twice: for the
   * reconciliation log's 20,000 lines (~10 MiB) that was tens of MiB of heap at once, in the middle of a drain.
   */
  compact(keep: (item: T) => boolean): Promise<void> {
    return this.#serial(async () => {
      let bytes: Buffer;
      try {
        bytes = await this.#fs.readFile(this.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        bytes = Buffer.alloc(0);
      }
      const parts: Buffer[] = [];
      let kept = 0;
      for (let start = 0; start < bytes.length; ) {
        let end = bytes.indexOf(0x0a, start);
        if (end < 0) end = bytes.length;
        if (end > start) {
          let item: T | undefined;
          let parsed = false;
          try {
            item = JSON.parse(bytes.toString('utf8', start, end)) as T;
            parsed = true;
          } catch {
            // torn tail
          }
          if (parsed && keep(item as T)) {
            parts.push(bytes.subarray(start, end), NEWLINE);
            kept++;
          }
        }
        start = end + 1;
      }
      await this.#fs.ensureDir(path.dirname(this.file));
      await this.#fs.writeFileAtomic(this.file, Buffer.concat(parts));
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
