/**
 * Memory does not grow with an outage's backlog: only the newest payloads stay in memory (the resident
 * budget); older ones are read back from their segment, byte for byte, before and after a restart.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal, type JournalOptions } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
const clock = new ManualClock();

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

const opts = (extra: Partial<JournalOptions> = {}): JournalOptions => ({ dir, maxBytes: 1 << 28, clock, segmentBytes: 256 * 1024, ...extra });
const payload = (i: number) => ({ i, cart: [{ sku: `SKU-${i}`, quantity: 1 + (i % 3) }], note: `ü€${'x'.repeat(900)}` });

describe('resident payload budget', () => {
  it('keeps at most the budget of payload bytes in memory; every payload reads back intact, across segments and a restart', async () => {
    const budget = 64 * 1024;
    const j = await Journal.open(opts({ residentPayloadBytes: budget }));
    for (let i = 0; i < 2000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => j.append({ key: `session:${(i + k) % 7}`, kind: 'u', payload: payload(i + k) })));
    expect(j.residentPayloadBytes()).toBeLessThanOrEqual(budget);
    expect(j.residentPayloadBytes()).toBeGreaterThan(budget / 2);
    expect(j.stats().segments).toBeGreaterThan(3);
    expect(j.undelivered().map((e) => e.payload)).toEqual(Array.from({ length: 2000 }, (_, i) => payload(i)));
    // Each read is a fresh object: a caller that changes it changes nothing for the next one.
    const first = j.undelivered()[0] as { payload: { i: number } };
    first.payload.i = -1;
    expect((j.undelivered()[0]?.payload as { i: number }).i).toBe(0);
    // Delivered records leave memory at once.
    await j.markDelivered(j.undelivered().slice(-200).map((e) => e.seq));
    expect(j.residentPayloadBytes()).toBeLessThan(budget / 2);
    await j.close();

    const j2 = await Journal.open(opts({ residentPayloadBytes: budget }));
    expect(j2.residentPayloadBytes()).toBe(0); // a restart holds no payloads: they are read from the segments
    expect(j2.undelivered().map((e) => e.payload)).toEqual(Array.from({ length: 1800 }, (_, i) => payload(i)));
    await j2.close();
  });

  it('a segment deleted after delivery closes its reader; later reads of other segments still work', async () => {
    const j = await Journal.open(opts({ residentPayloadBytes: 0 }));
    for (let i = 0; i < 600; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => j.append({ key: 'k', kind: 'u', payload: payload(i + k) })));
    expect(j.undelivered()[0]?.payload).toEqual(payload(0)); // opens the first segment's reader
    const before = j.stats().segments;
    await j.markDelivered(j.undelivered().slice(0, 400).map((e) => e.seq));
    expect(j.stats().segments).toBeLessThan(before);
    expect(j.undelivered().map((e) => (e.payload as { i: number }).i)).toEqual(Array.from({ length: 200 }, (_, i) => 400 + i));
    await j.close();
  });
});
