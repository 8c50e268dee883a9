/**
 * The cursor file (`cursor.json`): which records are delivered.
 *
 * Semantics: every seq ≤ `lw` (low watermark) is delivered or never existed; above it, `delivered`
 * lists delivered seqs as inclusive ranges (deliveries run out of global order, since order is only
 * per key, but mostly in runs, so ranges stay few). `lw` is "lowest undelivered seq − 1". `hw` is the
 * highest seq ever made durable: seqs are never reused even when every segment holding them has been deleted.
 * The file is small and rewritten whole with writeFileAtomic (temp → fsync → rename → fsync dir).
 *
 * `dead`: cursors written before dead letters moved out of the log (README "Dead letters") listed them
 * here. Such records are neither delivered nor undelivered: the journal keeps them set aside until their
 * new owner takes them over (`Journal.legacyDeadLetters`) and marks them delivered. Until then they are
 * written back unchanged; afterwards the list is empty (and still written, so an older storegate can
 * open the file).
 */
import { StoregateError } from '../core/errors.js';

/** A dead letter as a cursor written by an older storegate recorded it: the upstream status and body, and when. */
export interface LegacyDeadInfo {
  readonly seq: number;
  readonly status: number;
  readonly body: unknown;
  readonly at: number;
}

export interface CursorState {
  readonly lw: number;
  readonly hw: number;
  readonly delivered: readonly (readonly [number, number])[];
  /** Dead letters of a cursor from an older storegate, not yet taken over (see above). */
  readonly dead: readonly LegacyDeadInfo[];
}

export const CURSOR_FILE = 'cursor.json';
export const EMPTY_CURSOR: CursorState = { lw: 0, hw: 0, delivered: [], dead: [] };

/** A sorted set of integers stored as disjoint inclusive ranges. */
export class RangeSet {
  #r: [number, number][] = [];

  static from(ranges: readonly (readonly [number, number])[]): RangeSet {
    const s = new RangeSet();
    const sorted = [...ranges].filter(([a, b]) => a <= b).sort((p, q) => p[0] - q[0]);
    for (const [a, b] of sorted) {
      const last = s.#r[s.#r.length - 1];
      if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
      else s.#r.push([a, b]);
    }
    return s;
  }

  has(x: number): boolean {
    const i = this.#find(x);
    const r = this.#r[i];
    return r !== undefined && r[0] <= x && x <= r[1];
  }

  add(x: number): void {
    const i = this.#find(x); // first range with end >= x - 1
    const r = this.#r[i];
    if (r && r[0] <= x && x <= r[1]) return;
    if (r && r[1] === x - 1) {
      r[1] = x;
      const n = this.#r[i + 1];
      if (n && n[0] === x + 1) {
        r[1] = n[1];
        this.#r.splice(i + 1, 1);
      }
      return;
    }
    if (r && r[0] === x + 1) {
      r[0] = x;
      return;
    }
    this.#r.splice(i, 0, [x, x]);
  }

  /** Drops everything ≤ `x`. */
  dropThrough(x: number): void {
    while (this.#r.length > 0 && (this.#r[0] as [number, number])[1] <= x) this.#r.shift();
    const first = this.#r[0];
    if (first && first[0] <= x) first[0] = x + 1;
  }

  get ranges(): readonly (readonly [number, number])[] {
    return this.#r.map(([a, b]) => [a, b] as const);
  }

  get rangeCount(): number {
    return this.#r.length;
  }

  /** Index of the first range whose end ≥ x − 1 (binary search). */
  #find(x: number): number {
    let lo = 0;
    let hi = this.#r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#r[mid] as [number, number])[1] < x - 1) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export function encodeCursor(s: CursorState): string {
  return `${JSON.stringify({ v: 1, lw: s.lw, hw: s.hw, delivered: s.delivered, dead: s.dead })}\n`;
}

/** Parses the cursor file. A malformed cursor is corruption: it was written atomically, so it cannot be torn. */
export function decodeCursor(text: string, path: string): CursorState {
  const fail = (why: string, cause?: unknown): never => {
    throw new StoregateError('SG_ERR_JOURNAL_CORRUPT', `journal cursor ${path} is unreadable: ${why}`, {
      statusCode: 500,
      details: [{ path, message: why }],
      cause,
    });
  };
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    return fail('invalid JSON', err);
  }
  if (typeof o !== 'object' || o === null) return fail('not an object');
  const c = o as Record<string, unknown>;
  if (c.v !== 1) return fail(`unknown version ${String(c.v)}`);
  const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!isSeq(c.lw) || !isSeq(c.hw)) return fail('lw/hw missing');
  const delivered = c.delivered;
  if (!Array.isArray(delivered) || !delivered.every((r) => Array.isArray(r) && isSeq(r[0]) && isSeq(r[1]))) {
    return fail('delivered ranges malformed');
  }
  const dead = c.dead ?? [];
  if (!Array.isArray(dead) || !dead.every((d) => typeof d === 'object' && d !== null && isSeq(d.seq))) {
    return fail('dead list malformed');
  }
  return {
    lw: c.lw,
    hw: c.hw,
    delivered: delivered as [number, number][],
    dead: (dead as { seq: number; status?: unknown; body?: unknown; at?: unknown }[]).map((d) => ({
      seq: d.seq,
      status: typeof d.status === 'number' ? d.status : 0,
      body: d.body ?? null,
      at: typeof d.at === 'number' ? d.at : 0,
    })),
  };
}
