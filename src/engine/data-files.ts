import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { SnapshotStore } from '../state/snapshot-store.js';
import type { Logger } from '../telemetry/logger.js';
import type { DataKind, LocalData } from './local-data.js';

/** What identifies a data file as read: its path, size, modification time and inode. */
interface Fingerprint {
  path: string;
  size: number;
  mtimeMs: number;
  ino: number;
  /** The version of that kind once the file was read. */
  version: number;
}

const SNAPSHOT = 'data-files';
const KINDS: readonly DataKind[] = ['collections', 'rules', 'prices', 'coupons', 'loyalty', 'catalog'];

export interface DataFileOutcome {
  kind: DataKind;
  file: string;
  /** false: the file was read at an earlier start, is unchanged, and its data (or newer) is in use. */
  read: boolean;
  version: number;
  changed: number;
}

/**
 * Reads the `dataFiles.*` files at start (README "Local data"), except one unchanged since an earlier start
 * whose data, or newer data, the snapshots still hold: reading 100,000 prices or catalog items again only to find
 * them not newer cost a restart about a second and, in garbage V8 keeps, up to 100 MB of RSS. A file counts as
 * unchanged when its path, size, modification time and inode are those recorded after it was last read; a lost
 * or older snapshot (a data dir restored from a backup) means the file is read again.
 */
export async function loadDataFiles(deps: {
  localData: LocalData;
  store: SnapshotStore;
  files: Partial<Record<DataKind, string | null>>;
  log: Logger;
  now: () => number;
}): Promise<DataFileOutcome[]> {
  const { localData, store, files, log } = deps;
  const seen = (await store.load<Partial<Record<DataKind, Fingerprint>>>(SNAPSHOT))?.data ?? {};
  const next: Partial<Record<DataKind, Fingerprint>> = {};
  const out: DataFileOutcome[] = [];
  for (const kind of KINDS) {
    const file = files[kind];
    if (!file) continue;
    const before = await stat(file).catch(() => null);
    const prior = seen[kind];
    const inUse = localData.versions()[kind];
    if (before && prior && inUse > 0 && inUse >= prior.version && sameFile(prior, file, before)) {
      next[kind] = prior;
      out.push({ kind, file, read: false, version: inUse, changed: 0 });
      log.info({ kind, file: path.basename(file), version: inUse }, 'local data file unchanged since it was last read: not read again');
      continue;
    }
    const r = await localData.ingestFile(kind, file); // a missing or broken file throws its own explanation
    if (before) next[kind] = { path: file, size: before.size, mtimeMs: before.mtimeMs, ino: before.ino, version: r.version };
    out.push({ kind, file, read: true, version: r.version, changed: r.changed });
    log.info({ kind, file: path.basename(file), version: r.version, changed: r.changed }, 'local data file loaded');
  }
  if (JSON.stringify(next) !== JSON.stringify(seen)) await store.save({ kind: SNAPSHOT, version: 1, savedAt: deps.now(), data: next });
  return out;
}

function sameFile(prior: Fingerprint, file: string, s: { size: number; mtimeMs: number; ino: number }): boolean {
  return prior.path === file && prior.size === s.size && prior.mtimeMs === s.mtimeMs && prior.ino === s.ino;
}
