/**
 * Native addons inside the single binary. A Node.js single executable can carry files (SEA assets) but cannot
 * `dlopen` from memory: the addon has to be a file on disk first. This writes an embedded addon once to a
 * cache folder named by its SHA-256 and loads it from there.
 *
 * - The folder is `<dataDir>/native` once the daemon knows its data dir (`setNativeCacheDir`), so a running
 *   gateway writes nowhere else; systemd's `CacheDirectory=`/`RuntimeDirectory=` otherwise, then the user's
 *   cache folder. Never the temp dir: /tmp is often mounted `noexec`, and a shared /tmp lets another user plant
 *   a file where we would load it.
 * - `<cache>/<sha256>/` is 0700 and the file 0500, written to a temp name and renamed, so a reader never sees a
 *   half-written addon. An existing file is hashed again before it is trusted: a damaged or replaced file is
 *   rewritten, never loaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

let configured: string | null = null;

/** The running daemon's choice (`<dataDir>/native`), set before anything loads an addon. */
export function setNativeCacheDir(dir: string): void {
  configured = dir;
}

/** Where embedded addons are written: see the module comment for the order. */
export function nativeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  for (const v of [env.CACHE_DIRECTORY, env.RUNTIME_DIRECTORY]) {
    const first = v?.split(':')[0];
    if (first && path.isAbsolute(first)) return path.join(first, 'native');
  }
  const xdg = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(homedir(), '.cache');
  return path.join(xdg, 'storegate', 'native');
}

export interface LoadAddonOptions {
  /** File name inside the hash folder, e.g. `serialport.node`. */
  name: string;
  bytes: Uint8Array;
  dir: string;
  /** `process.dlopen` (tests pass a recorder). */
  dlopen?: (module: { exports: unknown }, file: string) => void;
}

export interface LoadedAddon {
  exports: unknown;
  file: string;
  /** true when this call wrote the file (first run of this build, or a damaged file replaced). */
  written: boolean;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Writes (if needed) and loads an embedded addon; throws with the path and the reason when it cannot. */
export function loadEmbeddedAddon(opts: LoadAddonOptions): LoadedAddon {
  const hash = sha256(opts.bytes);
  const folder = path.join(opts.dir, hash);
  const file = path.join(folder, opts.name);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and leaves an existing folder as it was.
  chmodSync(folder, 0o700);
  let written = false;
  if (!trusted(file, hash)) {
    rmSync(file, { force: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      writeFileSync(tmp, opts.bytes, { mode: 0o500, flag: 'wx' });
      renameSync(tmp, file);
    } finally {
      rmSync(tmp, { force: true });
    }
    written = true;
  }
  const mod = { exports: {} as unknown };
  (opts.dlopen ?? ((m, f) => process.dlopen(m, f)))(mod, file);
  return { exports: mod.exports, file, written };
}

/** A regular file (not a link) whose bytes have the expected hash. */
function trusted(file: string, hash: string): boolean {
  try {
    if (!lstatSync(file).isFile()) return false;
    return sha256(readFileSync(file)) === hash;
  } catch {
    return false;
  }
}
