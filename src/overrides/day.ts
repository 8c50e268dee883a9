/** Calendar days in a time zone, for counts that start again each day (README "Manual overrides"). */

const FORMATS = new Map<string, Intl.DateTimeFormat>();

function format(timeZone: string): Intl.DateTimeFormat {
  let f = FORMATS.get(timeZone);
  if (f === undefined) {
    try {
      // en-CA writes dates as YYYY-MM-DD.
      f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    } catch {
      // Not a time zone this runtime knows: the day is UTC's (the rules were validated, but their zone may be new).
      f = format('UTC');
    }
    if (FORMATS.size > 64) FORMATS.clear();
    FORMATS.set(timeZone, f);
  }
  return f;
}

/** `YYYY-MM-DD` of the instant `ms` in `timeZone`. */
export function dayIn(ms: number, timeZone: string): string {
  return format(timeZone).format(new Date(ms));
}
