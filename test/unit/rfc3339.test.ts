import { describe, expect, it } from 'vitest';
import { parseRfc3339 } from '../../src/core/rfc3339.js';

describe('RFC 3339 date-times (offset required)', () => {
  it.each([
    ['2026-05-01T10:00:00Z', Date.UTC(2026, 4, 1, 10)],
    ['2026-05-01t10:00:00z', Date.UTC(2026, 4, 1, 10)],
    ['2026-05-01T12:00:00+02:00', Date.UTC(2026, 4, 1, 10)],
    ['2026-05-01T05:30:00.250-04:30', Date.UTC(2026, 4, 1, 10, 0, 0, 250)],
    ['2026-05-01 10:00:00Z', Date.UTC(2026, 4, 1, 10)],
  ])('%s is an instant', (s, ms) => {
    expect(parseRfc3339(s)).toBe(ms);
  });

  it.each(['2026-05-01T10:00:00', '2026-05-01', '2026-05-01T10:00Z', 'May 1, 2026 10:00 GMT', '1714557600000', '2026-13-01T10:00:00Z', '2026-05-01T24:00:00Z', `2026-05-01T10:00:00.${'9'.repeat(40)}Z`, ''])(
    '%s is not',
    (s) => {
      expect(parseRfc3339(s)).toBeUndefined();
    },
  );
});
