import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigRuntime } from '../../src/config/runtime.js';
import { changedPaths, deepMerge } from '../../src/config/merge.js';
import { overlayPath, withPushedOverlay } from '../../src/config/overlay.js';
import { isStoregateError } from '../../src/core/errors.js';

async function fileConfig(extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-cfg-'));
  const file = path.join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ dataDir: 'var', log: { level: 'info' }, ...extra }));
  return loadConfig({ configPath: file, env: {} });
}

describe('deepMerge / changedPaths', () => {
  it('merges objects, replaces arrays and scalars, keeps a pushed __proto__ an ordinary key', () => {
    const merged = deepMerge({ a: { b: 1, c: [1, 2] }, d: 1 }, JSON.parse('{"a":{"c":[3]},"__proto__":{"polluted":true}}')) as Record<string, unknown>;
    expect(merged).toEqual({ a: { b: 1, c: [3] }, d: 1, ['__proto__']: { polluted: true } });
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(changedPaths({ a: { b: 1, c: [1] }, x: null }, { a: { b: 2, c: [1] }, x: null, y: 1 })).toEqual(['a.b', 'y']);
  });
});

describe('ConfigRuntime', () => {
  it('applies live keys, reports the rest as restartRequired, persists the overlay, and the overlay comes back at start', async () => {
    const file = await fileConfig();
    const rt = new ConfigRuntime({ file, current: file, overlay: null });
    const seen: string[][] = [];
    rt.onChange((_next, _prev, changed) => {
      seen.push([...changed]);
    });
    const r = await rt.apply({ log: { level: 'debug' }, http: { port: 9999 } }, 7);
    expect(r).toEqual({ changed: ['http.port', 'log.level'].sort(), restartRequired: ['http.port'] });
    expect(seen).toEqual([['log.level']]);
    expect(rt.config.log.level).toBe('debug');
    expect(rt.version).toBe(7);
    const stored = JSON.parse(readFileSync(overlayPath(file.config.dataDir), 'utf8'));
    expect(stored).toMatchObject({ version: 7, config: { log: { level: 'debug' }, http: { port: 9999 } } });
    const again = await withPushedOverlay(file);
    expect(again.loaded.config.http.port).toBe(9999);
    expect(again.overlay?.version).toBe(7);
    // A second push merges into the first (the file stays the base).
    await rt.apply({ log: { level: 'warn' } }, 8);
    expect(rt.config.http.port).toBe(9999);
    expect(rt.config.log.level).toBe('warn');
  });

  it('refuses an invalid merge or a dataDir push and changes nothing', async () => {
    const file = await fileConfig();
    const rt = new ConfigRuntime({ file, current: file, overlay: null });
    await expect(rt.apply({ mode: 'sometimes' }, 1)).rejects.toMatchObject({ code: 'SG_ERR_CONFIG_INVALID' });
    await expect(rt.apply({ dataDir: '/tmp/elsewhere' }, 2)).rejects.toMatchObject({ code: 'SG_ERR_CONFIG_INVALID' });
    await expect(rt.apply({ trust: { publicKeys: ['not a key'] } }, 3)).rejects.toMatchObject({ code: 'SG_ERR_CONFIG_INVALID' });
    expect(rt.version).toBe(0);
    expect(() => readFileSync(overlayPath(file.config.dataDir))).toThrow();
  });

  it('rolls back to the last good config when applying fails', async () => {
    const file = await fileConfig();
    const rt = new ConfigRuntime({ file, current: file, overlay: null });
    await rt.apply({ log: { level: 'debug' } }, 1);
    const levels: string[] = [];
    rt.onChange((next) => {
      levels.push(next.log.level);
      if (next.log.level === 'error') throw new Error('logger refused');
    });
    const err = await rt.apply({ log: { level: 'error' } }, 2).catch((e: unknown) => e);
    expect(isStoregateError(err) && err.code).toBe('SG_ERR_CONFIG_APPLY');
    expect(levels).toEqual(['error', 'debug']); // applied, then the previous one applied again
    expect(rt.config.log.level).toBe('debug');
    expect(rt.version).toBe(1);
    expect(JSON.parse(readFileSync(overlayPath(file.config.dataDir), 'utf8'))).toMatchObject({ version: 1, config: { log: { level: 'debug' } } });
  });
});
