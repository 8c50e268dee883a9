/**
 * One filesystem with a power-cut model, behind both ports that write the data dir: the state modules'
 * DurableFs (src/platform/durable-fs.ts, through its primitives, so the real atomic-replace, append and mkdir
 * sequences run on it) and the journal's JournalFileOps (src/journal/file-ops.ts). The journal's files and the
 * state files share one durability order, as on a real disk.
 *
 * - Each file (inode) keeps two contents: the live bytes (what reads see now) and the bytes known to be on disk
 *   (made durable by fsync/fdatasync).
 * - Names (files created, renamed, removed; directories made) are live at once but durable only once their
 *   directory is fsync'd; until then they wait, in order, as pending name changes.
 * - `cutAfter(n)` makes the n-th mutating operation from now the last: a write may land in part, and every later
 *   operation (reads included) fails with EIO, as if the machine had lost power.
 * - `crash()` brings the power back: a random prefix of the pending name changes reaches the disk (a filesystem
 *   journal commits metadata in order, on its own schedule); each file still named keeps its durable bytes plus
 *   a random prefix of what was written since its last sync (the last bytes possibly garbage), or, after an
 *   unsynced truncate, either length; a file whose name (or whose directory) never became durable is gone.
 *   Ports handed out before the crash belong to the dead process: every call on them fails from then on.
 */
import { dirname } from 'node:path';
import { type JournalFileOps, type SegmentHandle, segmentReader } from '../../src/journal/file-ops.js';
import { type DurableFs, type FsPrimitives, type PrimitiveFile, type SyncFile, type SyncOpenMode, durableFs } from '../../src/platform/durable-fs.js';

class Inode {
  /** Live bytes are `data[0, size)`; `data` grows geometrically so appends are not quadratic. */
  data = Buffer.alloc(0);
  size = 0;
  durable = Buffer.alloc(0);

  constructor(content?: Buffer) {
    if (content) {
      this.data = Buffer.from(content);
      this.size = content.length;
      this.durable = Buffer.from(content);
    }
  }

  live(): Buffer {
    return this.data.subarray(0, this.size);
  }

  #reserve(n: number): void {
    if (n <= this.data.length) return;
    const next = Buffer.alloc(Math.max(n, this.data.length * 2, 256));
    this.data.copy(next, 0, 0, this.size);
    this.data = next;
  }

  write(bytes: Uint8Array, position: number): void {
    const end = position + bytes.byteLength;
    this.#reserve(end);
    if (position > this.size) this.data.fill(0, this.size, position);
    this.data.set(bytes, position);
    this.size = Math.max(this.size, end);
  }

  truncate(length: number): void {
    if (length > this.size) {
      this.#reserve(length);
      this.data.fill(0, this.size, length);
    }
    this.size = length;
  }

  sync(): void {
    this.durable = Buffer.from(this.live());
  }
}

type NameOp =
  | { t: 'link'; path: string; inode: Inode }
  | { t: 'unlink'; path: string }
  | { t: 'rename'; from: string; to: string; inode: Inode }
  | { t: 'mkdir'; path: string };

const touches = (op: NameOp, dir: string): boolean =>
  op.t === 'rename' ? dirname(op.from) === dir || dirname(op.to) === dir : dirname(op.path) === dir;

const errno = (code: string, what: string): Error => Object.assign(new Error(`${code}: ${what}`), { code });

export class PowerCutFs {
  #names = new Map<string, Inode>();
  #dirs = new Set<string>(['/']);
  #diskNames = new Map<string, Inode>();
  #diskDirs = new Set<string>(['/']);
  #pending: NameOp[] = [];
  readonly #random: () => number;
  #budget = Number.POSITIVE_INFINITY;
  #dead = false;
  #boot = 0;
  /** Mutating operations so far (all boots). */
  ops = 0;

  constructor(random: () => number) {
    this.#random = random;
  }

  /** The `n`-th mutating operation from now (1 = the next one) is the last before the cut. */
  cutAfter(n: number): void {
    this.#budget = n;
  }

  /** The power goes now: every operation from here on fails, until `crash()`. */
  powerOff(): void {
    this.#dead = true;
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** The live bytes of a file (tests), or undefined. */
  content(path: string): Buffer | undefined {
    const f = this.#names.get(path);
    return f ? Buffer.from(f.live()) : undefined;
  }

  /** Live file names under `dir` (tests). */
  list(dir: string): string[] {
    return [...this.#names.keys()].filter((p) => p.startsWith(`${dir}/`)).sort();
  }

  /** Power comes back: only what was durable survives (see the module comment). */
  crash(): void {
    const keep = Math.floor(this.#random() * (this.#pending.length + 1));
    for (const op of this.#pending.slice(0, keep)) this.#persist(op);
    this.#pending = [];
    const onDisk = (dir: string): boolean => {
      for (let d = dir; ; d = dirname(d)) {
        if (!this.#diskDirs.has(d)) return false;
        if (d === '/') return true;
      }
    };
    this.#diskDirs = new Set([...this.#diskDirs].filter(onDisk));
    const fresh = new Map<Inode, Inode>();
    const names = new Map<string, Inode>();
    for (const [path, ino] of this.#diskNames) {
      if (!onDisk(dirname(path))) continue;
      let next = fresh.get(ino);
      if (!next) fresh.set(ino, (next = new Inode(this.#settle(ino))));
      names.set(path, next);
    }
    this.#names = names;
    this.#diskNames = new Map(names);
    this.#dirs = new Set(this.#diskDirs);
    this.#dead = false;
    this.#budget = Number.POSITIVE_INFINITY;
    this.#boot++;
  }

  /** What a file holds after the cut. */
  #settle(ino: Inode): Buffer {
    const live = ino.live();
    const durable = ino.durable;
    if (live.equals(durable)) return Buffer.from(durable);
    let d = 0;
    const m = Math.min(live.length, durable.length);
    while (d < m && live[d] === durable[d]) d++;
    // Only a shorter length is unsynced (a truncate): it landed or not.
    if (d >= live.length) return Buffer.from(this.#random() < 0.5 ? live : durable);
    // Bytes from `d` on were written but not synced: a random prefix of them reached the disk; sometimes the
    // last sector written holds garbage rather than the bytes meant for it.
    const keep = Math.floor(this.#random() * (live.length - d + 1));
    const out = Buffer.from(live.subarray(0, d + keep));
    if (keep > 0 && this.#random() < 0.3) {
      for (let i = Math.max(d, d + keep - 1 - Math.floor(this.#random() * 16)); i < d + keep; i++) out[i] = Math.floor(this.#random() * 256);
    }
    return out.length < durable.length ? Buffer.concat([out, durable.subarray(out.length)]) : out;
  }

  #persist(op: NameOp): void {
    switch (op.t) {
      case 'link':
        this.#diskNames.set(op.path, op.inode);
        break;
      case 'unlink':
        this.#diskNames.delete(op.path);
        break;
      case 'rename':
        this.#diskNames.delete(op.from);
        this.#diskNames.set(op.to, op.inode);
        break;
      case 'mkdir':
        this.#diskDirs.add(op.path);
        break;
    }
  }

  #cut(): Error {
    return errno('EIO', 'power cut');
  }

  /** Throws when the power is off or the caller belongs to a boot before the last crash. */
  #alive(boot: number): void {
    if (boot !== this.#boot || this.#dead) throw this.#cut();
  }

  /** Counts a mutating operation; 'last' when it is the one the power goes during. */
  #step(boot: number): 'ok' | 'last' {
    this.#alive(boot);
    this.ops++;
    if (--this.#budget <= 0) {
      this.#dead = true;
      return 'last';
    }
    return 'ok';
  }

  #file(path: string): Inode {
    const f = this.#names.get(path);
    if (!f) throw errno('ENOENT', path);
    return f;
  }

  #create(boot: number, path: string): Inode {
    if (this.#step(boot) === 'last') throw this.#cut();
    if (this.#names.has(path)) throw errno('EEXIST', path);
    if (!this.#dirs.has(dirname(path))) throw errno('ENOENT', dirname(path));
    const ino = new Inode();
    this.#names.set(path, ino);
    this.#pending.push({ t: 'link', path, inode: ino });
    return ino;
  }

  /** A write that may land only in part when it is the last operation. */
  #write(boot: number, ino: Inode, data: Uint8Array, position: number): void {
    const step = this.#step(boot);
    const n = step === 'last' ? Math.floor(this.#random() * (data.byteLength + 1)) : data.byteLength;
    ino.write(data.subarray(0, n), position);
    if (step === 'last') throw this.#cut();
  }

  #sync(boot: number, ino: Inode): void {
    if (this.#step(boot) === 'last') throw this.#cut();
    ino.sync();
  }

  #truncate(boot: number, ino: Inode, length: number): void {
    if (this.#step(boot) === 'last') throw this.#cut();
    ino.truncate(length);
  }

  #syncFile(boot: number, ino: Inode): SyncFile {
    return {
      read: (target, position, length) => {
        this.#alive(boot);
        const live = ino.live();
        const n = Math.max(0, Math.min(length, live.length - position));
        live.copy(target, 0, position, position + n);
        return n;
      },
      write: (data, position) => this.#write(boot, ino, data, position),
      datasync: () => this.#sync(boot, ino),
      sync: () => this.#sync(boot, ino),
      truncate: (length) => this.#truncate(boot, ino, length),
      size: () => {
        this.#alive(boot);
        return ino.size;
      },
      close: () => undefined,
    };
  }

  /** The POSIX calls, bound to the current boot. */
  primitives(): FsPrimitives {
    const boot = this.#boot;
    return {
      open: async (path, flags): Promise<PrimitiveFile> => {
        this.#alive(boot);
        const ino = flags === 'a' && this.#names.has(path) ? this.#file(path) : this.#create(boot, path);
        let pos = flags === 'a' ? ino.size : 0;
        return {
          write: async (data) => {
            const bytes = typeof data === 'string' ? Buffer.from(data) : data;
            if (flags === 'a') pos = ino.size;
            this.#write(boot, ino, bytes, pos);
            pos += bytes.byteLength;
          },
          sync: async () => this.#sync(boot, ino),
          datasync: async () => this.#sync(boot, ino),
          close: async () => undefined,
        };
      },
      openSync: (path: string, mode: SyncOpenMode) => {
        this.#alive(boot);
        if (mode === 'r' || mode === 'r+') return this.#syncFile(boot, this.#file(path));
        const existing = this.#names.get(path);
        if (!existing) return this.#syncFile(boot, this.#create(boot, path));
        this.#truncate(boot, existing, 0);
        return this.#syncFile(boot, existing);
      },
      readFile: async (path) => {
        this.#alive(boot);
        return Buffer.from(this.#file(path).live());
      },
      readdir: async (dir) => {
        this.#alive(boot);
        if (!this.#dirs.has(dir)) throw errno('ENOENT', dir);
        const under = (p: string) => dirname(p) === dir;
        return [...[...this.#names.keys()].filter(under), ...[...this.#dirs].filter((d) => d !== '/' && under(d))].map((p) => p.slice(dir.length + 1));
      },
      mkdir: async (dir) => {
        this.#alive(boot);
        const missing: string[] = [];
        for (let d = dir; !this.#dirs.has(d); d = dirname(d)) missing.unshift(d);
        if (missing.length === 0) return undefined;
        if (this.#step(boot) === 'last') throw this.#cut();
        for (const d of missing) {
          this.#dirs.add(d);
          this.#pending.push({ t: 'mkdir', path: d });
        }
        return missing[0];
      },
      rename: async (from, to) => {
        if (this.#step(boot) === 'last') throw this.#cut();
        const ino = this.#file(from);
        if (!this.#dirs.has(dirname(to))) throw errno('ENOENT', dirname(to));
        this.#names.delete(from);
        this.#names.set(to, ino);
        this.#pending.push({ t: 'rename', from, to, inode: ino });
      },
      unlink: async (path) => {
        if (this.#step(boot) === 'last') throw this.#cut();
        this.#file(path);
        this.#names.delete(path);
        this.#pending.push({ t: 'unlink', path });
      },
      fsyncDir: async (dir) => {
        if (this.#step(boot) === 'last') throw this.#cut();
        if (!this.#dirs.has(dir)) throw errno('ENOENT', dir);
        const rest: NameOp[] = [];
        for (const op of this.#pending) {
          if (touches(op, dir)) this.#persist(op);
          else rest.push(op);
        }
        this.#pending = rest;
      },
    };
  }

  /** The state modules' port, bound to the current boot. */
  port(): DurableFs {
    return durableFs(this.primitives());
  }

  /** The journal's port on the same filesystem, bound to the current boot. */
  fileOps(): JournalFileOps {
    const boot = this.#boot;
    const p = this.primitives();
    const port = durableFs(p);
    const segment = (ino: Inode): SegmentHandle => ({
      // The journal may take either path (thread pool or inline); the model treats them alike.
      write: async (data, position) => this.#write(boot, ino, data, position),
      writeSync: (data, position) => this.#write(boot, ino, data, position),
      datasync: async () => this.#sync(boot, ino),
      datasyncSync: () => this.#sync(boot, ino),
      truncate: async (length) => this.#truncate(boot, ino, length),
      zeroFill: async (from, to) => {
        this.#write(boot, ino, Buffer.alloc(to - from), from);
        this.#sync(boot, ino);
      },
      close: async () => undefined,
    });
    return {
      readFile: port.readFile,
      readdir: port.readdir,
      unlinkDurable: port.unlinkDurable,
      unlink: port.unlink,
      ensureDir: port.ensureDir,
      writeFileAtomic: port.writeFileAtomic,
      openReader: (path) => segmentReader(port.openSync(path, 'r'), path),
      openSegment: async (path) => {
        this.#alive(boot);
        return segment(this.#file(path));
      },
      // As nodeFileOps does it: create, fsync the new inode, fsync the directory (a cut may fall between).
      createSegment: async (path) => {
        const ino = this.#create(boot, path);
        this.#sync(boot, ino);
        await p.fsyncDir(dirname(path));
        return segment(ino);
      },
    };
  }
}
