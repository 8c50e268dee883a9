/**
 * The single binary's embedded addon (serialport's) is written once to a hash-named cache folder and loaded
 * from there; a damaged or replaced file is never loaded. Uses the real prebuilt addon and the real dlopen.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadEmbeddedAddon, nativeCacheDir, setNativeCacheDir } from '../../src/platform/native-addon.js';
import { APP_DIR } from '../../src/config/load.js';

const prebuild = path.join(APP_DIR, 'node_modules', '@serialport', 'bindings-cpp', 'prebuilds', 'linux-x64', '@serialport+bindings-cpp.glibc.node');
const bytes = new Uint8Array(readFileSync(prebuild));
const hash = createHash('sha256').update(bytes).digest('hex');
const mode = (p: string) => statSync(p).mode & 0o777;

describe('embedded native addon', () => {
  it('is written once to <dir>/<sha256>/ (folder 0700, file 0500) and loads: the serial binding answers', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-native-'));
    const first = loadEmbeddedAddon({ name: 'serialport.node', bytes, dir });
    expect(first.file).toBe(path.join(dir, hash, 'serialport.node'));
    expect(first.written).toBe(true);
    expect(mode(path.join(dir, hash))).toBe(0o700);
    expect(mode(first.file)).toBe(0o500);
    expect(typeof (first.exports as { open?: unknown }).open).toBe('function');
    // No temp file is left behind.
    expect(readdirSync(path.join(dir, hash))).toEqual(['serialport.node']);

    const again = loadEmbeddedAddon({ name: 'serialport.node', bytes, dir, dlopen: () => undefined });
    expect(again.written).toBe(false);
  });

  it('a file whose bytes do not match its hash is replaced, never loaded', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-native-'));
    loadEmbeddedAddon({ name: 'serialport.node', bytes, dir, dlopen: () => undefined });
    const file = path.join(dir, hash, 'serialport.node');
    chmodSync(file, 0o700);
    writeFileSync(file, 'planted');
    const loaded: Buffer[] = [];
    const r = loadEmbeddedAddon({ name: 'serialport.node', bytes, dir, dlopen: (_m, f) => loaded.push(readFileSync(f)) });
    expect(r.written).toBe(true);
    expect(createHash('sha256').update(loaded[0] as Buffer).digest('hex')).toBe(hash);
  });

  it('a folder made wider by someone is narrowed to 0700 again', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-native-'));
    loadEmbeddedAddon({ name: 'serialport.node', bytes, dir, dlopen: () => undefined });
    chmodSync(path.join(dir, hash), 0o777);
    loadEmbeddedAddon({ name: 'serialport.node', bytes, dir, dlopen: () => undefined });
    expect(mode(path.join(dir, hash))).toBe(0o700);
  });

  it('the cache folder: the data dir once set, else systemd cache or runtime dir, else ~/.cache; never the temp dir', () => {
    expect(nativeCacheDir({ CACHE_DIRECTORY: '/var/cache/storegate' })).toBe('/var/cache/storegate/native');
    expect(nativeCacheDir({ RUNTIME_DIRECTORY: '/run/storegate:/run/other' })).toBe('/run/storegate/native');
    expect(nativeCacheDir({ XDG_CACHE_HOME: '/home/t/.cache' })).toBe('/home/t/.cache/storegate/native');
    expect(nativeCacheDir({ XDG_CACHE_HOME: 'relative' })).not.toContain('relative');
    expect(nativeCacheDir({})).not.toMatch(/^\/tmp/);
    setNativeCacheDir('/var/lib/storegate/native');
    expect(nativeCacheDir({ CACHE_DIRECTORY: '/var/cache/storegate' })).toBe('/var/lib/storegate/native');
  });
});
