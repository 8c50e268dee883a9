/**
 * Power cuts, not only kill -9: the journal on a filesystem model that loses whatever was not synced (tearing
 * the last unsynced write), cut at random points, reopened, with the conservation law checked after every
 * reopen. CI runs ≥ 100 cut points; `npm run bench -- crash` runs ≥ 1,000.
 */
import { describe, expect, it } from 'vitest';
import { powerCutTrial } from '../helpers/powercut-run.js';

describe('journal under power cuts', () => {
  it('keeps every acknowledged record exactly once across 120 random cut points', async () => {
    let cuts = 0;
    let acked = 0;
    let checks = 0;
    for (let seed = 1; seed <= 40; seed++) {
      try {
        const r = await powerCutTrial(seed * 7919, 3);
        cuts += r.cuts;
        acked += r.acked;
        checks += r.checks;
      } catch (err) {
        throw new Error(`seed ${seed * 7919}: ${(err as Error).message}`);
      }
    }
    expect(cuts).toBeGreaterThanOrEqual(100);
    expect(acked).toBeGreaterThan(1000);
    expect(checks).toBeGreaterThan(500); // acknowledged records actually looked for after reopens
  }, 120_000);
});
