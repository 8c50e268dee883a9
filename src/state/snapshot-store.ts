import { join } from 'node:path';
import { type DurableFs, nodeDurableFs } from '../platform/durable-fs.js';
import { Low } from 'lowdb';
import { AtomicJsonFile } from './atomic-adapter.js';

/** Envelope of every persisted snapshot. */
export interface Snapshot<T = unknown> {
  /** Snapshot kind (`rules`, `prices`, …); also the file name. */
  kind: string;
  /** The data set's version (prices: a local revision counter). */
  version: number;
  /** Wall-clock ms when it was stored. */
  savedAt: number;
  data: T;
}

/**
 * A store of small JSON snapshots, one file per kind under `<dataDir>/state/<kind>.json`, kept with
 * lowdb 7 over {@link AtomicJsonFile} (never `JSONFilePreset`, which turns into an in-memory store when
 * NODE_ENV=test). `save` returns only once the file is durable.
 */
export interface SnapshotStore {
  load<T>(kind: string): Promise<Snapshot<T> | undefined>;
  save<T>(snapshot: Snapshot<T>): Promise<void>;
}

const KIND_RE = /^[a-z][a-z0-9-]{0,40}$/;
/** A temp file of writeFileAtomic (`.<name>.<pid>.<8 hex>.tmp`); the pid says which process wrote it. */
const TEMP_RE = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** File-backed {@link SnapshotStore}. */
export class FileSnapshotStore implements SnapshotStore {
  readonly dir: string;
  readonly #fs: DurableFs;
  #ready: Promise<void> | undefined;
  #dbs = new Map<string, Low<Snapshot<unknown> | null>>();

  /**
   * @param dataDir the daemon's data dir; files go to `<dataDir>/state/`.
   * @param fs the filesystem (default node:fs; tests put a power-cut model here).
   */
  constructor(dataDir: string, fs: DurableFs = nodeDurableFs) {
    this.dir = join(dataDir, 'state');
    this.#fs = fs;
  }

  #db(kind: string): Low<Snapshot<unknown> | null> {
    if (!KIND_RE.test(kind)) throw new Error(`invalid snapshot kind ${JSON.stringify(kind)}`);
    let db = this.#dbs.get(kind);
    if (!db) {
      db = new Low<Snapshot<unknown> | null>(new AtomicJsonFile(join(this.dir, `${kind}.json`), this.#fs), null);
      this.#dbs.set(kind, db);
    }
    return db;
  }

  async #mkdir(): Promise<void> {
    // Durable mkdir: a snapshot written into a folder whose own entry is not yet on disk could vanish with it.
    this.#ready ??= this.#fs
      .ensureDir(this.dir)
      .then(() => this.#removeStaleTemps())
      .catch((err: unknown) => {
        this.#ready = undefined; // a full disk now is not a full disk forever
        throw err;
      });
    return this.#ready;
  }

  /**
   * Temp files of atomic writes cut short by a crash (a `kill -9` mid-snapshot leaves one, up to a snapshot's
   * size): nothing reads them, so a daemon that crashes often would otherwise fill its disk with them. Only
   * other processes' are removed (this daemon holds the data dir lock: no other live process writes here).
   */
  async #removeStaleTemps(): Promise<void> {
    for (const name of await this.#fs.readdir(this.dir)) {
      const m = TEMP_RE.exec(name);
      if (m && Number(m[1]) !== process.pid) await this.#fs.unlink(join(this.dir, name)).catch(() => undefined);
    }
  }

  // lowdb keeps what it last read or wrote in `db.data`; a snapshot is read once at start and written whole, so
  // it is let go at once: held there, the 100,000 rows of a prices snapshot (or a catalog's arrays) stayed in
  // memory for the life of the process beside the structures built from them.
  async load<T>(kind: string): Promise<Snapshot<T> | undefined> {
    await this.#mkdir();
    const db = this.#db(kind);
    await db.read();
    const data = db.data;
    db.data = null;
    return (data ?? undefined) as Snapshot<T> | undefined;
  }

  async save<T>(snapshot: Snapshot<T>): Promise<void> {
    await this.#mkdir();
    const db = this.#db(snapshot.kind);
    db.data = snapshot as Snapshot<unknown>;
    try {
      await db.write();
    } finally {
      db.data = null;
    }
  }
}

/** In-memory {@link SnapshotStore} for tests and benchmarks (stores a JSON copy, like the file one). */
export class MemorySnapshotStore implements SnapshotStore {
  readonly files = new Map<string, string>();
  async load<T>(kind: string): Promise<Snapshot<T> | undefined> {
    const s = this.files.get(kind);
    return s === undefined ? undefined : (JSON.parse(s) as Snapshot<T>);
  }
  async save<T>(snapshot: Snapshot<T>): Promise<void> {
    this.files.set(snapshot.kind, JSON.stringify(snapshot));
  }
}
