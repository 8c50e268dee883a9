/**
 * The line format and index slots of the keyed store (keyed-store.ts).
 *
 * Line: `crc32hex \t seq \t at \t keyJSON \t valueJSON \n`; valueJSON empty = deleted; keyJSON `null` = the header
 * of a compacted file. JSON never holds a raw tab or newline, so the fields split without parsing the value.
 */
import { crc32 } from 'node:zlib';

const TAB = 0x09;
const LINE_END = 0x0a;
export const SCAN_WINDOW = 4 * 1024 * 1024;

export function lineOf(seq: number, at: number, keyJson: string, valueJson: string): string {
  const body = `${seq}\t${at}\t${keyJson}\t${valueJson}`;
  return `${crc32(body).toString(16).padStart(8, '0')}\t${body}\n`;
}

/** The index in typed arrays: slot → seq, at, offset and length of the value bytes (-1 offset: not written yet). */
export class Slots {
  seq = new Float64Array(1024);
  at = new Float64Array(1024);
  off = new Float64Array(1024);
  len = new Uint32Array(1024);
  #free: number[] = [];
  #next = 0;

  alloc(): number {
    const s = this.#free.pop();
    if (s !== undefined) return s;
    if (this.#next === this.seq.length) this.#grow();
    return this.#next++;
  }

  release(s: number): void {
    this.#free.push(s);
  }

  #grow(): void {
    const n = this.seq.length * 2;
    const grow = <T extends Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.seq = grow(this.seq, (k) => new Float64Array(k));
    this.at = grow(this.at, (k) => new Float64Array(k));
    this.off = grow(this.off, (k) => new Float64Array(k));
    this.len = grow(this.len, (k) => new Uint32Array(k));
  }
}

/**
 * A line's fields as {@link parseLine} found them. One object, reused for every line of a scan (a start reads every
 * line of a store: an object per line was garbage for nothing).
 */
interface LineFields {
  seq: number;
  at: number;
  key: string | null;
  valueAt: number;
  valueLen: number;
}

/**
 * The number written as `buf[from, to)`, or NaN. Plain decimal digits (what lineOf writes: seqs and times are
 * integers) are read in place; anything else goes through `Number()` of the text, as it always did.
 */
function decimalAt(buf: Buffer, from: number, to: number): number {
  if (to > from && to - from <= 15) {
    let n = 0;
    let i = from;
    for (; i < to; i++) {
      const d = (buf[i] as number) - 0x30;
      if (d < 0 || d > 9) break;
      n = n * 10 + d;
    }
    if (i === to) return n;
  }
  return Number(buf.toString('latin1', from, to));
}

/** The CRC written as the 8 characters at `from`: lower-case hex (what lineOf writes) read in place, else parseInt. */
function crcAt(buf: Buffer, from: number): number {
  let n = 0;
  for (let i = from; i < from + 8; i++) {
    const c = buf[i] as number;
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : -1;
    if (d < 0) return Number.parseInt(buf.toString('latin1', from, from + 8), 16);
    n = n * 16 + d;
  }
  return n;
}

/**
 * The key written as JSON in `buf[from, to)`; undefined when it is not JSON or not a string or null. A plain
 * ASCII string (no escape, no control or non-ASCII byte: a session id, a profile id) is copied out directly —
 * what JSON.parse would give — anything else is parsed as before.
 */
function keyAt(buf: Buffer, from: number, to: number): string | null | undefined {
  if (to - from >= 2 && buf[from] === 0x22 && buf[to - 1] === 0x22) {
    let plain = true;
    for (let i = from + 1; plain && i < to - 1; i++) {
      const c = buf[i] as number;
      plain = c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c;
    }
    if (plain) return buf.toString('latin1', from + 1, to - 1);
  }
  let key: unknown;
  try {
    key = JSON.parse(buf.toString('utf8', from, to));
  } catch {
    return undefined; // a line that passed its CRC but is not ours
  }
  return key === null || typeof key === 'string' ? key : undefined;
}

/** Splits and checks one line `buf[start, nl)` into `out`; false when it is not a whole, valid line of ours. */
function parseLine(buf: Buffer, start: number, nl: number, out: LineFields): boolean {
  const t1 = buf.indexOf(TAB, start);
  if (t1 !== start + 8 || t1 >= nl) return false;
  const crc = crcAt(buf, start);
  if (!Number.isFinite(crc) || crc32(buf.subarray(t1 + 1, nl)) !== crc) return false;
  const t2 = buf.indexOf(TAB, t1 + 1);
  const t3 = t2 < 0 ? -1 : buf.indexOf(TAB, t2 + 1);
  if (t3 < 0 || t3 >= nl) return false;
  // The key is JSON: a string may hold a tab only escaped, so the next raw tab ends it.
  const t4 = buf.indexOf(TAB, t3 + 1);
  if (t4 < 0 || t4 >= nl) return false;
  const seq = decimalAt(buf, t1 + 1, t2);
  const at = decimalAt(buf, t2 + 1, t3);
  if (!Number.isFinite(seq) || !Number.isFinite(at)) return false;
  const key = keyAt(buf, t3 + 1, t4);
  if (key === undefined) return false;
  out.seq = seq;
  out.at = at;
  out.key = key;
  out.valueAt = t4 + 1;
  out.valueLen = nl - t4 - 1;
  return true;
}

/**
 * One good line as {@link scanLines} found it (`key` null: the header of a compacted file). The visitor gets the
 * same object for every line: it must copy what it keeps.
 */
export interface ScannedLine {
  seq: number;
  at: number;
  key: string | null;
  /** File offset and byte length of the value (0: a deletion). */
  valueOffset: number;
  valueLen: number;
  lineBytes: number;
}

/**
 * Visits the good lines of a file of `size` bytes, read through a window of bounded size (grown only for a
 * line longer than it). Returns where good data ends: the first torn, damaged or foreign line, or `size`.
 */
export function scanLines(readInto: (target: Buffer, position: number, length: number) => number, size: number, visit: (l: ScannedLine) => void): number {
  // One buffer for every window (grown only for a line longer than it): a start reads the whole file, and a
  // fresh buffer per window would leave the file's size in garbage behind.
  let buf = Buffer.allocUnsafe(Math.min(SCAN_WINDOW, Math.max(size, 1)));
  let win: Buffer = buf.subarray(0, 0);
  let winStart = 0;
  let off = 0;
  const f: LineFields = { seq: 0, at: 0, key: null, valueAt: 0, valueLen: 0 };
  const line: ScannedLine = { seq: 0, at: 0, key: null, valueOffset: 0, valueLen: 0, lineBytes: 0 };
  while (off < size) {
    let nl = off >= winStart && off < winStart + win.length ? win.indexOf(LINE_END, off - winStart) : -1;
    if (nl < 0) {
      // Refill from `off`, growing the window until it holds a whole line (or the file ends).
      let n = Math.min(SCAN_WINDOW, size - off);
      for (;;) {
        if (n > buf.length) buf = Buffer.allocUnsafe(n);
        const got = readInto(buf, off, n);
        win = buf.subarray(0, got);
        winStart = off;
        nl = win.indexOf(LINE_END);
        if (nl >= 0 || winStart + win.length >= size || got < n) break;
        n = Math.min(n * 2, size - off);
      }
      if (nl < 0) break; // a last line without its newline: torn
    }
    const at0 = off - winStart;
    // Not a whole line, or one that passed its CRC but is not ours (its key not JSON text, a string or null):
    // the end of good data.
    if (!parseLine(win, at0, nl, f)) break;
    const lineBytes = nl + 1 - at0;
    line.seq = f.seq;
    line.at = f.at;
    line.key = f.key;
    line.valueOffset = winStart + f.valueAt;
    line.valueLen = f.valueLen;
    line.lineBytes = lineBytes;
    visit(line);
    off += lineBytes;
  }
  return off;
}
