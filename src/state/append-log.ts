import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureDirDurable, writeFileAtomic } from '../platform/durable-fs.js';

/**
 * A small append-only NDJSON file for state that must be durable at moments the journal cannot cover (just
 * before records are marked delivered): `append` writes lines and fdatasyncs once; `read` skips a torn last
 * line (a crash mid-append: what it held was still in the journal); `rewrite` compacts atomically.
 * Operations are serialised.
 */
export class AppendLog<T> {
  readonly file: string;
  #queue: Promise<unknown> = Promise.resolve();
  #lines = 0;

  constructor(file: string) {
    this.file = file;
  }

  /** Lines written since the last rewrite (for compaction decisions). */
  get lines(): number {
    return this.#lines;
  }

  async read(): Promise<T[]> {
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
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
      await ensureDirDurable(path.dirname(this.file));
      const h = await open(this.file, 'a');
      try {
        await h.write(items.map((i) => `${JSON.stringify(i)}\n`).join(''));
        await h.datasync();
      } finally {
        await h.close();
      }
      this.#lines += items.length;
    });
  }

  /** Replaces the whole log (temp, fsync, rename, fsync dir). `items` is called inside the queue. */
  rewrite(items: () => readonly T[]): Promise<void> {
    return this.#serial(async () => {
      const list = items();
      await ensureDirDurable(path.dirname(this.file));
      await writeFileAtomic(this.file, list.map((i) => `${JSON.stringify(i)}\n`).join(''));
      this.#lines = list.length;
    });
  }

  /** Keeps only the lines `keep` accepts (read and rewritten inside the queue, so no append is lost). */
  compact(keep: (item: T) => boolean): Promise<void> {
    return this.#serial(async () => {
      const list = (await this.read()).filter(keep);
      await ensureDirDurable(path.dirname(this.file));
      await writeFileAtomic(this.file, list.map((i) => `${JSON.stringify(i)}\n`).join(''));
      this.#lines = list.length;
    });
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
