/**
 * What the daemon formats and checks without ICU's locale data (src/core/count.ts, src/engine/talang-time.ts):
 * the same answers as `Intl`, without constructing an `Intl.DateTimeFormat` or calling `toLocaleString` for the
 * common cases, which would make ~6 MiB of the runtime's ICU data resident in every daemon (README "startup").
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatCount } from '../../src/core/count.js';
import { parts, validTimeZone } from '../../src/engine/talang-time.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('formatCount', () => {
  it('groups digits as en-US does', () => {
    const values = [0, 1, -1, 7, 12, 999, 1000, -1000, 12_345, 100_000, 999_999, 1_000_000, 1_234_567_890, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    for (let n = 1; n < 1e15; n = n * 7 + 3) values.push(n, -n);
    for (const n of values) expect(formatCount(n)).toBe(n.toLocaleString('en-US'));
  });

  it('never calls toLocaleString', () => {
    const spy = vi.spyOn(Number.prototype, 'toLocaleString');
    expect(formatCount(1_234_567)).toBe('1,234,567');
    expect(spy).not.toHaveBeenCalled();
  });

  it('writes what is not a safe integer as JavaScript does', () => {
    expect(formatCount(1.5)).toBe('1.5');
    expect(formatCount(Number.NaN)).toBe('NaN');
  });
});

describe('validTimeZone', () => {
  it('accepts canonical zones and UTC without a DateTimeFormat', () => {
    const ctor = vi.spyOn(Intl, 'DateTimeFormat');
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'UTC', 'Etc/UTC']) expect(validTimeZone(tz)).toBe(true);
    expect(ctor).not.toHaveBeenCalled();
  });

  it('still accepts what Intl accepts beyond the canonical list, and refuses the rest', () => {
    for (const tz of ['Asia/Kolkata', 'US/Eastern', 'europe/berlin', 'Etc/GMT+2']) {
      const ok = (() => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      })();
      expect(validTimeZone(tz)).toBe(ok);
    }
    for (const tz of ['Mars/Olympus', 'Europe/Berlin ', '', 'not a zone']) expect(validTimeZone(tz)).toBe(false);
  });
});

describe('parts', () => {
  it('reads UTC wall-clock parts without ICU, as Intl reads them', () => {
    const ctor = vi.spyOn(Intl, 'DateTimeFormat');
    const at = [Date.UTC(2026, 11, 7, 23, 59), Date.UTC(2024, 1, 29, 0, 0), Date.UTC(2027, 0, 3, 12, 30)];
    const got = at.map((ms) => parts(ms, 'UTC'));
    expect(ctor).not.toHaveBeenCalled();
    ctor.mockRestore();
    for (const [i, ms] of at.entries()) {
      expect(got[i]).toEqual(parts(ms, 'Etc/GMT')); // same zone, and the Intl path must agree below
      const f = new Intl.DateTimeFormat('en-US', { timeZone: 'UTC', hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
      const o = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
      expect(got[i]).toEqual({ year: Number(o.year), month: Number(o.month), day: Number(o.day), hour: Number(o.hour), minute: Number(o.minute), weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(o.weekday as string) });
    }
  });
});
