/**
 * Power cuts across the journal *and* the state around it, on one model filesystem (test/helpers/powercut-fs.ts):
 * local answers competing for shared single-use codes, delivery marks and dead letters as the flusher makes
 * them, checkpoints and compactions, cut at random operations, everything reopened as `Gateway.start` does and
 * checked (test/helpers/powercut-state-run.ts): every acknowledged record present exactly once or durably
 * delivered, nothing invented, no ledger use lost or counted for two sessions, sessions, profiles and replay
 * answers as their last answer left them. CI runs ≥ 100 cut points; `npm run bench -- crash` runs ≥ 1,000.
 */
import { describe, expect, it } from 'vitest';
import { stateCutTrial } from '../helpers/powercut-state-run.js';

describe('journal and local state under power cuts', () => {
  it('loses no acknowledged record and no ledger use across 120 random cut points', async () => {
    const total = { cuts: 0, inside: 0, answers: 0, redemptions: 0, delivered: 0, deadLettered: 0, checks: 0, probes: 0 };
    for (let seed = 1; seed <= 40; seed++) {
      try {
        const r = await stateCutTrial(seed * 7919, 3);
        for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
      } catch (err) {
        throw new Error(`seed ${seed * 7919}: ${(err as Error).message}`);
      }
    }
    expect(total.cuts).toBeGreaterThanOrEqual(100);
    expect(total.inside).toBeGreaterThanOrEqual(90); // most cuts fall in the middle of the work, not after it
    // The work the law was checked against actually happened.
    expect(total.redemptions).toBeGreaterThan(200);
    expect(total.delivered).toBeGreaterThan(1000);
    expect(total.deadLettered).toBeGreaterThan(300);
    expect(total.checks).toBeGreaterThan(3000);
    expect(total.probes).toBe(total.cuts * 10);
  }, 120_000);
});
