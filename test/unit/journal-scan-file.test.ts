/**
 * The windowed segment scan (src/journal/scan-file.ts) must find exactly what a scan of the whole file finds —
 * records, data end, torn tail, corruption — whatever the window size, so bounding start-up memory changes no
 * recovery decision. And payloads read back through the read-ahead window (src/journal/payloads.ts) must be the
 * bytes written, also for records appended after a window was read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBatch, prepareRecord, scanSegment } from '../../src/journal/segment.js';
import { indexSegmentFile, scanSegmentFile } from '../../src/journal/scan-file.js';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { tempDir } from '../helpers/journal-fixtures.js';

/** A segment of `batches` write batches (records of random sizes), then `zeros` preallocated zero bytes. */
function segment(batches: number[][], zeros: number): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  let seq = 1;
  for (const sizes of batches) {
    const recs = sizes.map((n) => {
      const r = prepareRecord(`id-${seq}`, `session:${seq % 3}`, 'updateSession', JSON.stringify({ seq, pad: 'x'.repeat(n) }));
      r.seq = seq++;
      r.at = 1_000 + seq;
      return r;
    });
    const b = encodeBatch(recs, off);
    parts.push(b);
    off += b.length;
  }
  parts.push(Buffer.alloc(zeros));
  return Buffer.concat(parts);
}

const reader = (buf: Buffer, sizes: number[] = []) => ({
  read(pos: number, len: number): Buffer {
    if (pos + len > buf.length) throw new Error('read past end');
    sizes.push(len);
    return Buffer.from(buf.subarray(pos, pos + len));
  },
  readInto(target: Buffer, pos: number, len: number): void {
    if (pos + len > buf.length) throw new Error('read past end');
    sizes.push(len);
    target.set(buf.subarray(pos, pos + len), 0);
  },
});

/** A segment of random batches and zero padding, maybe cut short, maybe with one byte flipped; a read window; last or not. */
const damagedSegment = fc
  .tuple(
    fc.array(fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
    fc.integer({ min: 0, max: 300 }),
    fc.option(fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) })),
    fc.option(fc.nat()),
    fc.integer({ min: 1, max: 2048 }),
    fc.boolean(),
  )
  .map(([batches, zeros, flip, cut, window, isLast]) => {
    let buf = segment(batches, zeros);
    if (cut !== null) buf = buf.subarray(0, cut % (buf.length + 1));
    if (flip !== null && buf.length > 0) {
      buf = Buffer.from(buf);
      const i = flip.at % buf.length;
      buf[i] = (buf[i] as number) ^ flip.mask;
    }
    return { buf, window, isLast };
  });

describe('windowed segment scan', () => {
  it('agrees with a whole-file scan on clean, torn, zero-padded and damaged segments, for any window', () => {
    fc.assert(
      fc.property(damagedSegment, ({ buf, window, isLast }) => {
        const whole = scanSegment(buf, isLast);
        const windowed = scanSegmentFile(reader(buf), buf.length, isLast, window);
        expect(windowed).toEqual(whole);
      }),
      { numRuns: 2000 },
    );
  });

  it('the index scan recovery runs finds the same records (fields, place), data end, torn tail and damage, for any window', () => {
    fc.assert(
      fc.property(damagedSegment, ({ buf, window, isLast }) => {
        const whole = scanSegment(buf, isLast);
        const seen: { seq: number; at: number; mono: number; offset: number; size: number; key: string; kind: string }[] = [];
        const res = indexSegmentFile(reader(buf), buf.length, isLast, (seq, at, mono, offset, size, key, kind) => seen.push({ seq, at, mono, offset, size, key, kind }), window);
        expect(seen).toEqual(whole.records.map(({ seq, at, mono, offset, size, key, kind }) => ({ seq, at, mono, offset, size, key, kind })));
        expect({ ...res, records: [] }).toEqual({ ...whole, records: [] });
      }),
      { numRuns: 2000 },
    );
  });

  it('reads each window once for a clean segment (bounded reads, none bigger than the window or one record)', () => {
    const buf = segment([[100, 200, 300], [50, 60], [700]], 4096);
    const sizes: number[] = [];
    const res = scanSegmentFile(reader(buf, sizes), buf.length, true, 512);
    expect(res.records).toHaveLength(6);
    expect(res.end).toBe(buf.length - 4096);
    // Every read but the last (the zeros handed to the whole-buffer scan) is one window or one bigger record.
    for (const l of sizes.slice(0, -1)) expect(l).toBeLessThanOrEqual(Math.max(512, 800));
  });
});

describe('read-ahead of payloads', () => {
  it('returns the bytes written, also for records appended after a window was read', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const clock = new ManualClock();
      // A resident budget of 0: every payload is read back from the segment, through the window.
      const j = await Journal.open({ dir, maxBytes: 1 << 26, clock, residentPayloadBytes: 0 });
      const payloads: unknown[] = [];
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 20; i++) {
          const p = { round, i, pad: 'y'.repeat((round * 37 + i * 11) % 300) };
          payloads.push(p);
          await j.append({ key: `session:${i}`, kind: 'updateSession', payload: p });
        }
        // Reading now fills the window up to the data written so far; the next round appends past it.
        expect(j.undelivered().map((e) => e.payload)).toEqual(payloads);
      }
      await j.close();
      const again = await Journal.open({ dir, maxBytes: 1 << 26, clock, residentPayloadBytes: 0 });
      expect(again.undelivered().map((e) => e.payload)).toEqual(payloads);
      await again.close();
    } finally {
      await cleanup();
    }
  });
});
