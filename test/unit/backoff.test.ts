import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, isRetryableStatus } from '../../src/platform/backoff.js';

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 5000 };

  it('grows exponentially up to the cap (upper bound with random → 1)', () => {
    const top = (n: number) => backoffDelay(n, policy, () => 0.999999);
    expect([0, 1, 2, 3, 4, 5, 6, 10].map(top)).toEqual([99, 199, 399, 799, 1599, 3199, 4999, 4999]);
  });

  it('is full jitter: anywhere from 0 to the ceiling', () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (n, r) => {
        const d = backoffDelay(n, policy, () => r);
        return d >= 0 && d <= Math.min(policy.maxMs, policy.baseMs * 2 ** n) && Number.isInteger(d);
      }),
    );
  });

  it('retries 409, 429 and 5xx only', () => {
    expect([409, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([200, 204, 400, 401, 404, 413].some(isRetryableStatus)).toBe(false);
  });
});
