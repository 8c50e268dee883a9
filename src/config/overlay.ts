import path from 'node:path';
import { type DurableFs, nodeDurableFs } from '../platform/durable-fs.js';
import type { LoadedConfig } from './load.js';
import { validateConfig } from './load.js';
import { deepMerge } from './merge.js';

/**
 * The config head office pushed (`P/config/set`, README "Head office and MQTT"), kept in the data dir as the accumulated partial
 * config and the version that last changed it. The effective config is the config file with this overlay merged
 * on top (environment overrides still win over both). It lives in the data dir, not in the config file, because
 * the daemon's hardened unit cannot write `/etc/storegate`, and so that a technician's file stays as written.
 */
export interface ConfigOverlay {
  version: number;
  config: Record<string, unknown>;
  appliedAt: string;
}

export function overlayPath(dataDir: string): string {
  return path.join(dataDir, 'state', 'config-push.json');
}

export async function readOverlay(dataDir: string, fs: DurableFs = nodeDurableFs): Promise<ConfigOverlay | null> {
  let text: string;
  try {
    text = (await fs.readFile(overlayPath(dataDir))).toString('utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const o = JSON.parse(text) as ConfigOverlay;
  if (!Number.isSafeInteger(o.version) || typeof o.config !== 'object' || o.config === null) throw new Error(`${overlayPath(dataDir)} is not a config overlay`);
  return o;
}

/** Durable replace (temp, fsync, rename, fsync dir): after it resolves a crash keeps the new overlay. */
export async function writeOverlay(dataDir: string, overlay: ConfigOverlay, fs: DurableFs = nodeDurableFs): Promise<void> {
  await fs.ensureDir(path.dirname(overlayPath(dataDir)));
  await fs.writeFileAtomic(overlayPath(dataDir), `${JSON.stringify(overlay, null, 2)}\n`);
}

/** The file config with a pushed overlay on top. */
export function mergeOverlay(loaded: LoadedConfig, overlay: Record<string, unknown>, version: number): Promise<LoadedConfig> {
  return validateConfig(deepMerge(loaded.raw, overlay), {
    env: loaded.env,
    source: `${loaded.source} + pushed config v${version}`,
    baseDir: loaded.baseDir,
    rawFile: loaded.raw,
  });
}

/**
 * At start: the file config plus the stored overlay. An overlay that no longer validates over the file (a
 * technician changed the file since) is ignored with a warning: the file as written is what starts.
 */
export async function withPushedOverlay(loaded: LoadedConfig, fs: DurableFs = nodeDurableFs): Promise<{ loaded: LoadedConfig; overlay: ConfigOverlay | null; warning?: string }> {
  let overlay: ConfigOverlay | null;
  try {
    overlay = await readOverlay(loaded.config.dataDir, fs);
  } catch (err) {
    return { loaded, overlay: null, warning: `pushed config unreadable, ignored: ${(err as Error).message}` };
  }
  if (!overlay) return { loaded, overlay: null };
  try {
    return { loaded: await mergeOverlay(loaded, overlay.config, overlay.version), overlay };
  } catch (err) {
    return { loaded, overlay, warning: `pushed config v${overlay.version} does not validate over the config file, ignored: ${(err as Error).message}` };
  }
}
