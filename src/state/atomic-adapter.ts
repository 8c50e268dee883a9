import type { Adapter } from 'lowdb';
import { type DurableFs, nodeDurableFs } from '../platform/durable-fs.js';

/**
 * A lowdb `Adapter<T>` over one JSON file. `read` returns `null` when the file does not exist;
 * `write` serialises without indentation (large snapshots save fast) and replaces the file durably
 * (temp → fsync → rename → fsync folder).
 */
export class AtomicJsonFile<T> implements Adapter<T> {
  readonly path: string;
  readonly #fs: DurableFs;

  constructor(path: string, fs: DurableFs = nodeDurableFs) {
    this.path = path;
    this.#fs = fs;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = (await this.#fs.readFile(this.path)).toString('utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return JSON.parse(text) as T;
  }

  async write(data: T): Promise<void> {
    await this.#fs.writeFileAtomic(this.path, JSON.stringify(data));
  }
}
