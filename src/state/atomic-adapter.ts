import { readFile } from 'node:fs/promises';
import type { Adapter } from 'lowdb';
import { writeFileAtomic } from '../platform/durable-fs.js';

/**
 * A lowdb `Adapter<T>` over one JSON file. `read` returns `null` when the file does not exist;
 * `write` serialises without indentation (large snapshots save fast) and replaces the file durably
 * (temp → fsync → rename → fsync folder).
 */
export class AtomicJsonFile<T> implements Adapter<T> {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    return JSON.parse(text) as T;
  }

  async write(data: T): Promise<void> {
    await writeFileAtomic(this.path, JSON.stringify(data));
  }
}
