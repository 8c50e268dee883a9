/**
 * RFC 3339 date-times, as Talon.One sends and expects them (`2026-05-01T10:00:00Z`,
 * `2026-05-01T12:00:00.250+02:00`). The offset is required: `Date.parse` reads `2026-05-01T10:00:00` as the
 * mini-PC's local time, so the same data would mean another instant in each shop's time zone.
 */
const RFC3339 = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** Epoch ms of an RFC 3339 date-time with an offset, or undefined for anything else. */
export function parseRfc3339(v: string): number | undefined {
  if (v.length > 40 || !RFC3339.test(v)) return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}
