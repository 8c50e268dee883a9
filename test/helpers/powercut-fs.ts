/**
 * A filesystem with a power-cut model, behind the journal's filesystem port (src/journal/file-ops.ts).
 * Each file keeps two contents: the live bytes (what reads see now) and the bytes known to be on disk
 * (made durable by datasync, or by an atomic durable replace). A directory entry survives a cut only once it was
 * made durable (create and unlink here are durable, as the port promises; a plain unlink is not).
 * `cutAfter(n)` makes the n-th mutating operation from now the last one: it may tear (part of a write lands),
 * and every later operation fails, as if the machine had lost power. `crash()` then keeps the durable bytes
 * plus a random prefix of what was not synced (possibly ending in garbage), and drops names never made durable.
 */
import { dirname } from 'node:path';
import type { JournalFileOps, SegmentHandle } from '../../src/journal/file-ops.js';

interface ModelFile {
  live: Buffer;
  durable: Buffer;
  /** The name is on disk (survives a cut). */
  named: boolean;
  /** The live name exists (false after a non-durable unlink). */
  present: boolean;
}

export class PowerCutFs {
  readonly files = new Map<string, ModelFile>();
  readonly #random: () => number;
  #budget = Number.POSITIVE_INFINITY;
  #dead = false;
  ops = 0;

  constructor(random: () => number) {
    this.#random = random;
  }

  /** The `n`-th mutating operation from now (1 = the next one) is the last before the cut. */
  cutAfter(n: number): void {
    this.#budget = n;
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** Power comes back: only what was durable survives (plus a torn, random prefix of the unsynced tail). */
  crash(): void {
    for (const [path, f] of this.files) {
      if (!f.named) {
        this.files.delete(path);
        continue;
      }
      let content = f.durable;
      if (f.live.length > f.durable.length && f.live.subarray(0, f.durable.length).equals(f.durable)) {
        const extra = f.live.subarray(f.durable.length);
        const keep = Math.floor(this.#random() * (extra.length + 1));
        const torn = Buffer.from(extra.subarray(0, keep));
        // Sometimes the last sector written holds garbage rather than the bytes meant for it.
        if (keep > 0 && this.#random() < 0.3) for (let i = Math.max(0, keep - 1 - Math.floor(this.#random() * 16)); i < keep; i++) torn[i] = Math.floor(this.#random() * 256);
        content = Buffer.concat([f.durable, torn]);
      }
      this.files.set(path, { live: Buffer.from(content), durable: Buffer.from(content), named: true, present: true });
    }
    this.#dead = false;
    this.#budget = Number.POSITIVE_INFINITY;
  }

  /** Counts a mutating operation; returns false when the power is already gone. */
  #step(): 'ok' | 'last' | 'dead' {
    if (this.#dead) return 'dead';
    this.ops++;
    this.#budget--;
    if (this.#budget <= 0) {
      this.#dead = true;
      return 'last';
    }
    return 'ok';
  }

  #cut(): Error {
    return Object.assign(new Error('power cut'), { code: 'EIO' });
  }

  #file(path: string): ModelFile {
    const f = this.files.get(path);
    if (!f || !f.present) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return f;
  }

  #handle(path: string): SegmentHandle {
    const write = (data: Uint8Array, position: number): void => {
      const step = this.#step();
      if (step === 'dead') throw this.#cut();
      const f = this.#file(path);
      // The last write before the cut may land only in part.
      const n = step === 'last' ? Math.floor(this.#random() * (data.byteLength + 1)) : data.byteLength;
      const end = position + n;
      const next = Buffer.alloc(Math.max(f.live.length, end));
      f.live.copy(next);
      Buffer.from(data.buffer, data.byteOffset, n).copy(next, position);
      f.live = next;
      if (step === 'last') throw this.#cut();
    };
    const datasync = (): void => {
      const step = this.#step();
      if (step !== 'ok') throw this.#cut();
      const f = this.#file(path);
      f.durable = Buffer.from(f.live);
    };
    // The journal may take either path (thread pool or inline); the model treats them alike.
    return {
      write: async (data, position) => write(data, position),
      writeSync: write,
      datasync: async () => datasync(),
      datasyncSync: datasync,
      truncate: async (length) => {
        const step = this.#step();
        if (step !== 'ok') throw this.#cut();
        const f = this.#file(path);
        f.live = Buffer.from(f.live.subarray(0, length));
      },
      zeroFill: async (from, to) => {
        write(Buffer.alloc(to - from), from);
        datasync();
      },
      close: async () => {},
    };
  }

  fileOps(): JournalFileOps {
    return {
      openSegment: async (path) => {
        this.#file(path);
        return this.#handle(path);
      },
      createSegment: async (path) => {
        const step = this.#step();
        if (step !== 'ok') throw this.#cut();
        if (this.files.get(path)?.present) throw Object.assign(new Error(`EEXIST: ${path}`), { code: 'EEXIST' });
        this.files.set(path, { live: Buffer.alloc(0), durable: Buffer.alloc(0), named: true, present: true });
        return this.#handle(path);
      },
      readFile: async (path) => Buffer.from(this.#file(path).live),
      openReader: (path) => ({
        read: (position, length) => {
          const live = this.#file(path).live;
          if (position + length > live.length) throw Object.assign(new Error(`EIO: read past the end of ${path}`), { code: 'EIO' });
          return Buffer.from(live.subarray(position, position + length));
        },
        readInto: (target, position, length) => {
          const live = this.#file(path).live;
          if (position + length > live.length) throw Object.assign(new Error(`EIO: read past the end of ${path}`), { code: 'EIO' });
          target.set(live.subarray(position, position + length), 0);
        },
        size: () => this.#file(path).live.length,
        close: () => undefined,
      }),
      readdir: async (dir) => [...this.files].filter(([p, f]) => f.present && dirname(p) === dir).map(([p]) => p.slice(dir.length + 1)),
      unlinkDurable: async (path) => {
        const step = this.#step();
        if (step !== 'ok') throw this.#cut();
        this.#file(path);
        this.files.delete(path);
      },
      unlink: async (path) => {
        const f = this.files.get(path);
        if (f) f.present = false;
      },
      ensureDir: async () => {},
      writeFileAtomic: async (path, data) => {
        const step = this.#step();
        // temp + fsync + rename + fsync dir: a cut leaves the old file or the new one, never a mix.
        const apply = step === 'ok' || (step === 'last' && this.#random() < 0.5);
        if (apply) {
          const b = Buffer.from(data);
          this.files.set(path, { live: b, durable: Buffer.from(b), named: true, present: true });
        }
        if (step !== 'ok') throw this.#cut();
      },
    };
  }
}
