import { describe, expect, it } from 'vitest';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { tempDir } from '../helpers/journal-fixtures.js';

describe('journal ordering keys', () => {
  it('knows which keys still wait for delivery, across delivery and a reopen', async () => {
    const { dir, cleanup } = await tempDir();
    const clock = new ManualClock();
    try {
      let j = await Journal.open({ dir, maxBytes: 1 << 24, clock });
      const a1 = await j.append({ key: 'session:A', kind: 'updateSession', payload: { n: 1 } });
      const a2 = await j.append({ key: 'session:A', kind: 'updateSession', payload: { n: 2 } });
      const b1 = await j.append({ key: 'profile:B', kind: 'trackEvent', payload: {} });
      expect([j.hasUndelivered('session:A'), j.hasUndelivered('profile:B'), j.hasUndelivered('session:C')]).toEqual([true, true, false]);
      await j.markDelivered(a1.seq);
      expect(j.hasUndelivered('session:A')).toBe(true);
      await j.close();
      j = await Journal.open({ dir, maxBytes: 1 << 24, clock });
      expect([j.hasUndelivered('session:A'), j.hasUndelivered('profile:B')]).toEqual([true, true]);
      await j.markDelivered([a2.seq, b1.seq]);
      expect([j.hasUndelivered('session:A'), j.hasUndelivered('profile:B')]).toEqual([false, false]);
      await j.close();
    } finally {
      await cleanup();
    }
  });
});
