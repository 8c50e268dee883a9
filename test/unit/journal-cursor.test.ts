import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeSet, decodeCursor, encodeCursor } from '../../src/journal/cursor.js';

describe('RangeSet (delivered seqs above the low watermark)', () => {
  it('behaves like a Set of integers and stays minimal', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 300 }), fc.integer({ min: 0, max: 200 }), (xs, cut) => {
        const rs = new RangeSet();
        const ref = new Set<number>();
        for (const x of xs) {
          rs.add(x);
          ref.add(x);
        }
        for (let x = 0; x <= 201; x++) expect(rs.has(x)).toBe(ref.has(x));
        const r = rs.ranges;
        for (let i = 1; i < r.length; i++) expect((r[i] as [number, number])[0]).toBeGreaterThan((r[i - 1] as [number, number])[1] + 1);
        expect(RangeSet.from(r).ranges).toEqual(r);
        rs.dropThrough(cut);
        for (let x = 0; x <= 201; x++) expect(rs.has(x)).toBe(x > cut && ref.has(x));
      }),
    );
  });

  it('round-trips the cursor and rejects garbage as SG_ERR_JOURNAL_CORRUPT', () => {
    const s = { lw: 5, hw: 9, delivered: [[7, 8]] as [number, number][], dead: [{ seq: 6, status: 422, body: { e: 1 }, at: 3 }] };
    expect(decodeCursor(encodeCursor(s), 'c')).toEqual(s);
    // Written by this version: no dead letters (they live in the dead-letter store); a missing list is empty.
    expect(decodeCursor('{"v":1,"lw":3,"hw":4,"delivered":[]}', 'c')).toEqual({ lw: 3, hw: 4, delivered: [], dead: [] });
    for (const bad of ['', '[]', '{"v":2}', '{"v":1,"lw":-1,"hw":0,"delivered":[],"dead":[]}', '{"v":1,"lw":0,"hw":0,"delivered":[1],"dead":[]}']) {
      expect(() => decodeCursor(bad, 'c')).toThrow(expect.objectContaining({ code: 'SG_ERR_JOURNAL_CORRUPT' }));
    }
  });
});
