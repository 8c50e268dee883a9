/**
 * The records appended since open are held in a compact index (src/journal/live-index.ts), not as objects: checked
 * against a plain model (a Map of the records) through thousands of appends and deliveries in any order, so its
 * compaction (the delivered head copied away), its key ids (forgotten with a key's last record and reused) and its
 * resident budget (the newest bytes from the write batch, older ones from the segment) are all exercised.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LiveIndex } from '../../src/journal/live-index.js';
import { encodeBatch, prepareRecord } from '../../src/journal/segment.js';
import type { JournalEntry, PayloadSource } from '../../src/journal/types.js';

interface Model {
  seq: number;
  id: string;
  key: string;
  kind: string;
  at: number;
  mono: number;
  payload: unknown;
}

const plain = (e: JournalEntry): Model => ({ seq: e.seq, id: e.id, key: e.key, kind: e.kind, at: e.at, mono: e.mono, payload: e.payload });

/** A segment as bytes in memory, with a source that counts its reads (an evicted record is read from here). */
function fakeSegment(path: string) {
  const seg = { path, live: 0, bytes: Buffer.alloc(1 << 22), size: 0, reads: 0 };
  const src: PayloadSource = {
    read: (position, length) => {
      seg.reads++;
      return seg.bytes.subarray(position, position + length);
    },
  };
  return { seg, src };
}

describe('live index', () => {
  it('matches a model of the undelivered records through appends and deliveries in any order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ batch: fc.integer({ min: 1, max: 40 }), deliver: fc.integer({ min: 0, max: 60 }), oldest: fc.boolean(), keys: fc.integer({ min: 1, max: 300 }) }), { minLength: 20, maxLength: 120 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer(),
        (steps, budget, seed) => {
          let rnd = seed >>> 0;
          const next = (n: number) => {
            rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
            return rnd % n;
          };
          const segs = [fakeSegment('a'), fakeSegment('b')];
          const byPath = new Map(segs.map((s) => [s.seg.path, s]));
          const index = new LiveIndex(budget, (seg) => (byPath.get(seg.path) as (typeof segs)[0]).src);
          const model = new Map<number, Model>();
          let seq = 10;
          for (const [n, step] of steps.entries()) {
            const target = segs[n % 4 < 2 ? 0 : 1] as (typeof segs)[0];
            const recs = Array.from({ length: step.batch }, () => {
              seq += 1 + next(3); // gaps, as after a failed write
              const key = `session:${next(step.keys)}${seq % 11 === 0 ? 'ü' : ''}`;
              const r = prepareRecord(`id-${seq}`, key, seq % 5 === 0 ? 'trackEvent' : 'updateSession', JSON.stringify({ seq, pad: 'p'.repeat(next(400)) }));
              r.seq = seq;
              r.at = 1_000_000 + seq * 3;
              r.mono = seq / 7;
              return r;
            });
            const off = target.seg.size;
            const buf = encodeBatch(recs, off);
            buf.copy(target.seg.bytes, off);
            target.seg.size += buf.length;
            let at = off;
            for (const r of recs) {
              index.add(r.seq, r.at, r.mono, target.seg, at, r.size, r.key, r.kind, buf, off);
              model.set(r.seq, { seq: r.seq, id: r.id, key: r.key, kind: r.kind, at: r.at, mono: r.mono, payload: JSON.parse(r.payloadJson) });
              at += r.size;
            }
            expect(index.residentBytes).toBeLessThanOrEqual(budget);
            // Deliveries: mostly the oldest (the flusher's order), or any.
            const live = [...model.keys()];
            for (let d = 0; d < step.deliver && live.length > 0; d++) {
              const s = step.oldest ? (live.shift() as number) : (live.splice(next(live.length), 1)[0] as number);
              const m = model.get(s) as Model;
              expect(index.remove(s)).toEqual({ key: m.key, seg: expect.objectContaining({ path: expect.any(String) }) });
              expect(index.remove(s)).toBeUndefined();
              model.delete(s);
            }
            expect(index.live).toBe(model.size);
            const want = [...model.values()];
            expect(index.firstSeq()).toBe(want[0]?.seq);
            expect(index.firstAt()).toBe(want[0]?.at);
            if (n % 10 === 0 || n === steps.length - 1) {
              expect(index.entriesAfter(0).map(plain)).toEqual(want);
              const mid = want[want.length >> 1]?.seq ?? 0;
              expect(index.entriesAfter(mid, [], 3).map(plain)).toEqual(want.filter((m) => m.seq > mid).slice(0, 3));
              const seen: [number, string][] = [];
              index.forEachAfter(mid, (s, k) => seen.push([s, k]));
              expect(seen).toEqual(want.filter((m) => m.seq > mid).map((m) => [m.seq, m.key]));
              const keys = new Set(want.map((m) => m.key));
              for (let k = 0; k < 300; k++) for (const key of [`session:${k}`, `session:${k}ü`]) expect(index.hasKey(key)).toBe(keys.has(key));
              for (let s = seq - 50; s <= seq; s++) {
                expect(index.has(s)).toBe(model.has(s));
                const e = index.get(s);
                expect(e && plain(e)).toEqual(model.get(s));
              }
            }
          }
          // Everything delivered: nothing left, and the index starts over cleanly.
          for (const s of model.keys()) index.remove(s);
          expect(index.live).toBe(0);
          expect(index.residentBytes).toBe(0);
          expect(index.firstSeq()).toBeUndefined();
          expect(index.entriesAfter(0)).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps every record right when the delivered head is compacted away, with key ids reused', () => {
    const { seg, src } = fakeSegment('s');
    const index = new LiveIndex(50_000, () => src);
    const model = new Map<number, Model>();
    let seq = 0;
    const append = (n: number) => {
      const recs = Array.from({ length: n }, () => {
        seq++;
        const r = prepareRecord(`id-${seq}`, `session:${seq % 97}`, seq % 2 ? 'updateSession' : 'trackEvent', JSON.stringify({ seq }));
        r.seq = seq;
        r.at = seq * 10;
        r.mono = seq;
        return r;
      });
      const off = seg.size;
      const buf = encodeBatch(recs, off);
      buf.copy(seg.bytes, off);
      seg.size += buf.length;
      let at = off;
      for (const r of recs) {
        index.add(r.seq, r.at, r.mono, seg, at, r.size, r.key, r.kind, buf, off);
        model.set(r.seq, { seq: r.seq, id: r.id, key: r.key, kind: r.kind, at: r.at, mono: r.mono, payload: { seq: r.seq } });
        at += r.size;
      }
    };
    const deliver = (seqs: number[]) => {
      for (const s of seqs) {
        expect(index.remove(s)?.key).toBe(model.get(s)?.key);
        model.delete(s);
      }
    };
    for (let round = 0; round < 4; round++) {
      for (let b = 0; b < 30; b++) append(100);
      const live = [...model.keys()];
      // The oldest 2,000 (the head: compacted away), every third of the rest, and all of a few keys.
      deliver([...live.slice(0, 2000), ...live.slice(2000).filter((s, i) => i % 3 === 0 || s % 97 < 3)]);
      expect(index.live).toBe(model.size);
      expect(index.firstSeq()).toBe([...model.keys()][0]);
      expect(index.entriesAfter(0).map(plain)).toEqual([...model.values()]);
      for (const m of model.values()) expect(index.has(m.seq)).toBe(true);
      // The newest records are still read from their write batch after the compaction, none from the segment.
      const reads = seg.reads;
      const newest = [...model.keys()].pop() as number;
      expect(newest).toBeGreaterThan(seq - 10);
      expect(index.get(newest)?.payload).toEqual({ seq: newest });
      expect(seg.reads).toBe(reads);
      expect(index.residentBytes).toBeGreaterThan(25_000);
      expect(index.residentBytes).toBeLessThanOrEqual(50_000);
    }
  });

  it('reads the newest records from their write batch and only the evicted ones from the segment', () => {
    const { seg, src } = fakeSegment('s');
    const index = new LiveIndex(2500, () => src);
    const recs = Array.from({ length: 10 }, (_, i) => {
      const r = prepareRecord(`id-${i}`, 'session:1', 'updateSession', JSON.stringify({ i, pad: 'x'.repeat(900) }));
      r.seq = i + 1;
      return r;
    });
    const buf = encodeBatch(recs, 0);
    buf.copy(seg.bytes);
    let at = 0;
    for (const r of recs) {
      index.add(r.seq, 0, 0, seg, at, r.size, r.key, r.kind, buf, 0);
      at += r.size;
    }
    // ~1 KB each: the newest two fit the budget.
    expect(index.residentBytes).toBeGreaterThan(1500);
    expect(index.residentBytes).toBeLessThanOrEqual(2500);
    expect((index.get(10)?.payload as { i: number }).i).toBe(9);
    expect((index.get(9)?.payload as { i: number }).i).toBe(8);
    expect(seg.reads).toBe(0);
    expect((index.get(1)?.payload as { i: number }).i).toBe(0);
    expect(seg.reads).toBe(1);
    index.remove(10);
    expect(index.residentBytes).toBeLessThan(1500);
  });
});
