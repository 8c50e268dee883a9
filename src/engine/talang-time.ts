import { EvalError } from './context.js';
import { parseRfc3339 } from '../core/rfc3339.js';

/** Talang time values: a wrapped epoch-ms instant (so `<` compares them and strings stay strings). */
export class TTime {
  constructor(readonly ms: number) {}
}

export function toTime(v: unknown): TTime {
  if (v instanceof TTime) return v;
  if (typeof v === 'string') {
    const ms = parseRfc3339(v);
    if (ms !== undefined) return new TTime(ms);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return new TTime(v);
  throw new EvalError('not a time');
}

const fmts = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock parts of an instant in an IANA time zone (cached formatter per zone). */
export function parts(ms: number, tz: string): { year: number; month: number; day: number; hour: number; minute: number; weekday: number } {
  if (UTC_NAMES.has(tz)) {
    const d = new Date(ms);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), weekday: d.getUTCDay() };
  }
  let f = fmts.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    fmts.set(tz, f);
  }
  const o: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(ms))) o[p.type] = p.value;
  const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(o.weekday ?? '');
  return { year: Number(o.year), month: Number(o.month), day: Number(o.day), hour: Number(o.hour), minute: Number(o.minute), weekday: wd };
}

const UNIT: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, D: 86_400_000, W: 7 * 86_400_000 };

/** Durations like `12h`, `30m`, `3D`, `2W` (months/years are not fixed lengths: unsupported). */
export function durationMs(v: unknown): number {
  if (typeof v !== 'string') throw new EvalError('duration must be a string');
  const m = /^(\d{1,6})([smhDW])$/.exec(v);
  if (!m) throw new EvalError(`unsupported duration ${v}`);
  return Number(m[1]) * (UNIT[m[2] as string] as number);
}

/**
 * The zones ICU lists as canonical. Asked first because it is cheap: `Intl.supportedValuesOf` reads only ICU's
 * zone table, while constructing a `DateTimeFormat` loads ICU's locale and calendar data, ~6 MiB of the runtime's
 * pages resident for good and ~30 ms on a cold start (measured on Node.js 24). The rules are checked at every
 * start, and a daemon whose rules use no time function never needs the rest.
 */
let canonicalZones: Set<string> | undefined;

/** UTC under the names a Talon.One Application may carry; answered without ICU. */
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT']);

/** An IANA time zone this runtime knows, under its canonical name, an alias or another spelling `Intl` accepts. */
export function validTimeZone(tz: string): boolean {
  if (UTC_NAMES.has(tz)) return true;
  canonicalZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (canonicalZones.has(tz)) return true;
  // An alias (`Asia/Kolkata` for `Asia/Calcutta`), another case: the formatter is the judge.
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
