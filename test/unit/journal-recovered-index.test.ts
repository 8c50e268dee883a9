/**
 * The records a restart finds are held in a compact index (src/journal/recovered-index.ts), not as objects: what
 * the journal hands out must still be exactly the records written — fields, ids and payloads read back from their
 * segments — in seq order with the records appended after the restart, and delivery must count down keys and
 * segments the same way, whichever index a record is in.
 */
import { describe, expect, it } from 'vitest';
import { Journal, type JournalEntry } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { segmentFiles, tempDir } from '../helpers/journal-fixtures.js';

const plain = (e: JournalEntry) => ({ seq: e.seq, id: e.id, key: e.key, kind: e.kind, at: e.at, mono: e.mono, payload: e.payload });

describe('recovered index', () => {
  it('hands back every undelivered record as written, across segments, deliveries and a second restart', async () => {
    const { dir, cleanup } = await tempDir();
    const clock = new ManualClock();
    // Small segments: the 60 records span several files. Keys and kinds repeat; one key is not ASCII.
    const opts = { dir, maxBytes: 1 << 24, segmentBytes: 4096, clock, preallocate: false };
    try {
      let j = await Journal.open(opts);
      const written: ReturnType<typeof plain>[] = [];
      for (let i = 0; i < 60; i++) {
        clock.advance(7);
        const key = i % 5 === 0 ? 'session:çà' : `session:${i % 4}`;
        const e = await j.append({ key, kind: i % 3 ? 'updateSession' : 'trackEvent', payload: { i, pad: 'x'.repeat(i * 3) } });
        written.push(plain(e));
      }
      // Delivered before the restart: the first 10 (a whole segment goes) and every seventh.
      const gone = new Set(written.filter((w, i) => i < 10 || i % 7 === 0).map((w) => w.seq));
      await j.markDelivered([...gone]);
      await j.close();
      expect((await segmentFiles(dir)).length).toBeGreaterThan(3);

      j = await Journal.open(opts);
      const left = written.filter((w) => !gone.has(w.seq));
      expect(j.undelivered().map(plain)).toEqual(left);
      expect(j.stats().depth).toBe(left.length);
      expect(j.stats().oldestAgeSec).toBeCloseTo((clock.now() - (left[0] as { at: number }).at) / 1000, 6);
      const mid = (left[20] as { seq: number }).seq;
      expect(j.undeliveredAfter(mid).map(plain)).toEqual(left.filter((w) => w.seq > mid));
      for (const w of written) {
        expect(j.isUndelivered(w.seq)).toBe(!gone.has(w.seq));
        expect(j.get(w.seq) && plain(j.get(w.seq) as JournalEntry)).toEqual(gone.has(w.seq) ? undefined : w);
      }
      expect(j.hasUndelivered('session:çà')).toBe(true);

      // Appended after the restart: after the recovered ones, in one seq order.
      const more = plain(await j.append({ key: 'session:çà', kind: 'updateSession', payload: { more: true } }));
      expect(j.undelivered().map(plain)).toEqual([...left, more]);
      expect(j.undeliveredAfter(mid).map(plain)).toEqual([...left.filter((w) => w.seq > mid), more]);
      // The first N only (what /admin/journal/list asks for), across both indexes.
      expect(j.undeliveredAfter(0, 5).map(plain)).toEqual(left.slice(0, 5));
      const afterMid = left.filter((w) => w.seq > mid);
      expect(j.undeliveredAfter(mid, afterMid.length).map(plain)).toEqual(afterMid); // the appended one is past the limit

      // Delivering every recovered record of the key leaves it waiting only for the appended one.
      await j.markDelivered(left.filter((w) => w.key === 'session:çà').map((w) => w.seq));
      expect(j.hasUndelivered('session:çà')).toBe(true);
      await j.markDelivered(more.seq);
      expect(j.hasUndelivered('session:çà')).toBe(false);
      expect(j.hasUndelivered('session:1')).toBe(true);

      // The rest delivered: every sealed segment is deleted, the depth is 0, and the oldest record is gone.
      await j.markDelivered(left.map((w) => w.seq));
      expect(j.stats().depth).toBe(0);
      expect(j.stats().oldestAgeSec).toBe(0);
      expect(j.undelivered()).toEqual([]);
      expect(j.isUndelivered((left[0] as { seq: number }).seq)).toBe(false);
      expect((await segmentFiles(dir)).length).toBe(1);
      await j.close();

      j = await Journal.open(opts);
      expect(j.undelivered()).toEqual([]);
      const after = plain(await j.append({ key: 'k', kind: 'k', payload: 1 }));
      expect(after.seq).toBe(more.seq + 1);
      await j.close();
    } finally {
      await cleanup();
    }
  });

  it('keeps every record through the arrays growing past their first room and shrinking back after the scan', async () => {
    const { dir, cleanup } = await tempDir();
    const opts = { dir, maxBytes: 1 << 26, segmentBytes: 1 << 22, clock: new ManualClock(), preallocate: false };
    try {
      let j = await Journal.open(opts);
      const written: ReturnType<typeof plain>[] = [];
      for (let b = 0; b < 30; b++) {
        const batch = await Promise.all(
          Array.from({ length: 100 }, (_, i) => j.append({ key: `session:${(b * 100 + i) % 97}`, kind: 'updateSession', payload: { n: b * 100 + i, pad: 'q'.repeat(600) } })),
        );
        written.push(...batch.map(plain));
      }
      await j.close();
      // 3,000 undelivered in a 2 MB segment: more than the room made from its size, so the arrays grow (copied).
      j = await Journal.open(opts);
      expect(j.undelivered().map(plain)).toEqual(written);
      await j.markDelivered(written.slice(0, 2900).map((w) => w.seq));
      await j.close();
      // 100 left in the same segment: far less than its room, so the arrays are shrunk (copied) after the scan.
      j = await Journal.open(opts);
      expect(j.undelivered().map(plain)).toEqual(written.slice(2900));
      await j.close();
    } finally {
      await cleanup();
    }
  });
});
