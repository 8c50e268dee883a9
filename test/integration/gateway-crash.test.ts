/**
 * `kill -9` under load (test/helpers/kill-run.ts): ≥ 100 real SIGKILLs of a gateway process answering terminals
 * that share single-use codes, then a flush. Nothing acknowledged is lost, nothing is redeemed twice, and the
 * ledger never accepts one code for two sessions. `npm run bench -- crash` runs 1,000.
 */
import { describe, expect, it } from 'vitest';
import { killRun } from '../helpers/kill-run.js';

describe('kill -9 under load, restart, flush', () => {
  it(
    'loses no acknowledged update and never accepts a single-use code for two sessions (100 kills)',
    async () => {
      const r = await killRun({ rounds: 100 });
      expect(r.acknowledged).toBeGreaterThan(100 * 4);
      expect(r.codesAcceptedAtClose).toBeGreaterThan(5);
    },
    600_000,
  );
});
