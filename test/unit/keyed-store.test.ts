/**
 * The disk-backed keyed store (src/state/keyed-store.ts): values survive a restart, a torn or damaged tail is
 * cut off at the first bad line (and `hw` says which journal records to replay), compaction keeps exactly the
 * live values, and values that left the in-memory cache are read back from disk. A model (a plain Map) is
 * compared with the store after random operations, restarts and compactions.
 */
import { appendFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FileKeyedStore } from '../../src/state/keyed-store.js';
import { tempDir } from '../helpers/journal-fixtures.js';

type V = { n: number; text: string; list: number[] };

/** Few keys (so puts and deletes of one key meet within one write), one with a tab and a quote in it. */
const KEY = fc.constantFrom('a', 'b', 'c', 'd', 'e\t"f', '');

const open = async (file: string, cacheEntries = 1) => {
  const s = new FileKeyedStore<V>({ file, cacheEntries });
  await s.start();
  return s;
};

describe('FileKeyedStore', () => {
  it('agrees with a Map after random puts, deletes, restarts and compactions (values read back from disk)', async () => {
    const { dir, cleanup } = await tempDir('sg-keyed-');
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.record({ op: fc.constant('put' as const), key: KEY, n: fc.integer(), text: fc.string({ maxLength: 40 }) }),
              fc.record({ op: fc.constant('delete' as const), key: KEY }),
              fc.record({ op: fc.constant('get' as const), key: KEY }),
              fc.record({ op: fc.constant('restart' as const) }),
              fc.record({ op: fc.constant('compact' as const) }),
              fc.record({ op: fc.constant('sync' as const) }),
            ),
            { maxLength: 60 },
          ),
          async (ops) => {
            const file = path.join(dir, `s-${Math.random().toString(36).slice(2)}.log`);
            const model = new Map<string, V>();
            let store = await open(file);
            let seq = 0;
            // A delete of a missing key writes nothing (replaying its record again is harmless).
            let hw = 0;
            for (const o of ops) {
              if (o.op === 'put') {
                const v = { n: o.n, text: o.text, list: [seq, o.n] };
                store.put(o.key, v, ++seq, 1_000 + seq);
                model.set(o.key, v);
                hw = seq;
              } else if (o.op === 'delete') {
                store.delete(o.key, ++seq);
                if (model.delete(o.key)) hw = seq;
              } else if (o.op === 'restart') {
                await store.stop();
                store = await open(file);
                expect(store.hw).toBe(hw);
              } else if (o.op === 'get') {
                expect(store.get(o.key)).toEqual(model.get(o.key));
              } else if (o.op === 'compact') {
                await store.compact();
              } else {
                await store.sync();
              }
              expect(store.size).toBe(model.size);
            }
            for (const [k, v] of model) expect(store.get(k)).toEqual(v);
            expect(new Set(store.keys())).toEqual(new Set(model.keys()));
            await store.stop();
            const again = await open(file);
            for (const [k, v] of model) expect(again.get(k)).toEqual(v);
            expect(again.size).toBe(model.size);
            await again.stop();
          },
        ),
        { numRuns: 150 },
      );
    } finally {
      await cleanup();
    }
  });

  it('cuts a torn or damaged tail at the first bad line, and hw names the last state kept', async () => {
    const { dir, cleanup } = await tempDir('sg-keyed-');
    try {
      const file = path.join(dir, 'sessions.log');
      const s = await open(file);
      for (let i = 1; i <= 5; i++) s.put(`k${i}`, { n: i, text: 'x', list: [] }, i * 10, i);
      await s.stop();
      const full = readFileSync(file);
      const lines = full.toString('utf8').split('\n').filter(Boolean);
      const keep3 = lines.slice(0, 3).join('\n').length + 1;
      // Torn: the file ends inside line 4.
      truncateSync(file, keep3 + 7);
      let r = await open(file);
      expect([...r.keys()]).toEqual(['k1', 'k2', 'k3']);
      expect(r.hw).toBe(30);
      expect(statSync(file).size).toBe(keep3);
      // A new put after the cut is kept by the next start (not hidden behind garbage).
      r.put('k9', { n: 9, text: 'after', list: [] }, 40, 9);
      await r.stop();
      r = await open(file);
      expect(r.get('k9')?.text).toBe('after');
      await r.stop();
      // Damage (a flipped byte in line 2, CRC mismatch): everything from it on is cut, hw = 10.
      writeFileSync(file, full);
      const b = readFileSync(file);
      const at = lines[0]!.length + 1 + 20;
      b[at] = (b[at] as number) ^ 0x20;
      writeFileSync(file, b);
      const torn: number[] = [];
      r = new FileKeyedStore<V>({ file, cacheEntries: 2, onTornTail: (t) => torn.push(t.offset) });
      await r.start();
      expect([...r.keys()]).toEqual(['k1']);
      expect(r.hw).toBe(10);
      expect(torn).toEqual([lines[0]!.length + 1]);
      await r.stop();
      // Garbage zeros after the data (a power cut's unsynced tail) are cut too.
      writeFileSync(file, full);
      appendFileSync(file, Buffer.alloc(4096));
      r = await open(file);
      expect(r.size).toBe(5);
      expect(r.hw).toBe(50);
      await r.stop();
    } finally {
      await cleanup();
    }
  });

  it('compaction keeps the file bounded by the live values and carries hw in its header', async () => {
    const { dir, cleanup } = await tempDir('sg-keyed-');
    try {
      const file = path.join(dir, 'sessions.log');
      const s = await open(file, 10);
      const big = 'z'.repeat(2000);
      let seq = 0;
      for (let round = 0; round < 20; round++) for (let k = 0; k < 200; k++) s.put(`key-${k}`, { n: round, text: big, list: [k] }, ++seq, seq);
      await s.sync();
      const before = statSync(file).size;
      expect(s.wantsCompaction).toBe(true);
      await s.maintain();
      const after = statSync(file).size;
      expect(after).toBeLessThan(before / 10);
      expect(s.get('key-7')).toEqual({ n: 19, text: big, list: [7] });
      // Deleting the newest key leaves hw where the history got to, which a restart must keep.
      s.delete('key-199', ++seq);
      await s.compact();
      await s.stop();
      const r = await open(file);
      expect(r.hw).toBe(seq);
      expect(r.size).toBe(199);
      expect(r.get('key-0')?.n).toBe(19);
      await r.stop();
    } finally {
      await cleanup();
    }
  });

  it('puts and deletes made while a compaction copies (it yields to answer terminals) are kept', async () => {
    const { dir, cleanup } = await tempDir('sg-keyed-');
    try {
      const file = path.join(dir, 'sessions.log');
      const s = await open(file, 1);
      let seq = 0;
      for (let k = 0; k < 5_000; k++) s.put(`key-${k}`, { n: 0, text: 'old', list: [k] }, ++seq, seq);
      await s.sync();
      const compaction = s.compact();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      // Mid-copy: one key copied already put again, one not yet copied deleted, one new.
      s.put('key-1', { n: 1, text: 'new', list: [] }, ++seq, seq);
      s.delete('key-4999', ++seq);
      s.put('fresh', { n: 2, text: 'new', list: [] }, ++seq, seq);
      expect(s.get('key-10')?.text).toBe('old'); // read back from the old file mid-copy
      await compaction;
      const check = (x: FileKeyedStore<V>) => {
        expect(x.get('key-1')?.n).toBe(1);
        expect(x.get('key-4999')).toBeUndefined();
        expect(x.get('fresh')?.n).toBe(2);
        expect(x.get('key-2500')?.list).toEqual([2500]);
        expect(x.size).toBe(5_000);
      };
      check(s);
      await s.stop();
      const r = await open(file);
      check(r);
      expect(r.hw).toBe(seq);
      await r.stop();
    } finally {
      await cleanup();
    }
  });
});

describe('FileKeyedStore after a crash mid-compaction', () => {
  it('removes the temp file a compaction cut short left, and keeps the store whole', async () => {
    const { dir, cleanup } = await tempDir('sg-keyed-');
    try {
      const file = path.join(dir, 'sessions.kv');
      const s = await open(file);
      s.put('a', { n: 1, text: 'x', list: [] }, 1, 1);
      await s.stop();
      const tmp = path.join(dir, '.sessions.kv.4242.compact.tmp');
      writeFileSync(tmp, 'half a compaction');
      const r = await open(file);
      expect(existsSync(tmp)).toBe(false);
      expect(r.get('a')?.n).toBe(1);
      await r.stop();
    } finally {
      await cleanup();
    }
  });
});
