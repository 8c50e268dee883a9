import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { AtomicJsonFile } from '../../src/state/atomic-adapter.js';
import { writeFileAtomic } from '../../src/platform/durable-fs.js';

describe('snapshot store', () => {
  it('saves one compact JSON file per kind and loads it back (also under NODE_ENV=test)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-state-'));
    const s = new FileSnapshotStore(dir);
    expect(await s.load('rules')).toBeUndefined();
    await s.save({ kind: 'rules', version: 3, savedAt: 1, data: { a: [1, 2] } });
    expect(readFileSync(join(dir, 'state', 'rules.json'), 'utf8')).toBe('{"kind":"rules","version":3,"savedAt":1,"data":{"a":[1,2]}}');
    expect(await new FileSnapshotStore(dir).load('rules')).toEqual({ kind: 'rules', version: 3, savedAt: 1, data: { a: [1, 2] } });
    expect(readdirSync(join(dir, 'state'))).toEqual(['rules.json']); // no temp files left
  });

  it('refuses odd kinds (no path traversal)', async () => {
    const s = new FileSnapshotStore(mkdtempSync(join(tmpdir(), 'sg-state-')));
    await expect(s.save({ kind: '../x', version: 1, savedAt: 1, data: 1 })).rejects.toThrow(/invalid snapshot kind/);
  });

  it('writeFileAtomic replaces the file; a missing folder fails without leaving a temp file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-state-'));
    await writeFileAtomic(join(dir, 'f'), 'one');
    await writeFileAtomic(join(dir, 'f'), 'two');
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('two');
    await expect(writeFileAtomic(join(dir, 'missing', 'f'), 'x')).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(['f']);
    expect(await new AtomicJsonFile(join(dir, 'nope.json')).read()).toBeNull();
  });

  it('removes the temp files of atomic writes a crash cut short (other processes\' only), once, before the first use', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-state-'));
    const state = join(dir, 'state');
    mkdirSync(state);
    const stale = ['.sessions.json.4242.0a1b2c3d.tmp', '.sessions.log.17.ffffffff.tmp'];
    const mine = `.ledger.json.${process.pid}.01234567.tmp`; // this process may be writing it right now
    for (const f of [...stale, mine, 'rules.json', '.keep']) writeFileSync(join(state, f), 'x');
    expect(await new FileSnapshotStore(dir).load('ledger')).toBeUndefined();
    expect(readdirSync(state).sort()).toEqual(['.keep', mine, 'rules.json'].sort());
  });
});
