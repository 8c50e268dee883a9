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

/** Splits and checks one line `buf[start, nl)`; undefined when it is not a whole, valid line. */
function parseLine(buf: Buffer, start: number, nl: number): { seq: number; at: number; keyJson: string; valueAt: number; valueLen: number } | undefined {
  const t1 = buf.indexOf(TAB, start);
  if (t1 !== start + 8 || t1 >= nl) return undefined;
  const body = buf.subarray(t1 + 1, nl);
  const crc = Number.parseInt(buf.toString('latin1', start, t1), 16);
  if (!Number.isFinite(crc) || crc32(body) !== crc) return undefined;
  const t2 = buf.indexOf(TAB, t1 + 1);
  const t3 = t2 < 0 ? -1 : buf.indexOf(TAB, t2 + 1);
  if (t3 < 0 || t3 >= nl) return undefined;
  // The key is JSON: a string may hold a tab only escaped, so the next raw tab ends it.
  const t4 = buf.indexOf(TAB, t3 + 1);
  if (t4 < 0 || t4 >= nl) return undefined;
  const seq = Number(buf.toString('latin1', t1 + 1, t2));
  const at = Number(buf.toString('latin1', t2 + 1, t3));
  if (!Number.isFinite(seq) || !Number.isFinite(at)) return undefined;
  return { seq, at, keyJson: buf.toString('utf8', t3 + 1, t4), valueAt: t4 + 1, valueLen: nl - t4 - 1 };
}

/** One good line as {@link scanLines} found it (`key` null: the header of a compacted file). */
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
    const p = parseLine(win, at0, nl);
    if (!p) break;
    let key: string | null;
    try {
      key = JSON.parse(p.keyJson) as string | null;
    } catch {
      break; // a line that passed its CRC but is not ours: the end of good data
    }
    if (key !== null && typeof key !== 'string') break;
    const lineBytes = nl + 1 - at0;
    visit({ seq: p.seq, at: p.at, key, valueOffset: winStart + p.valueAt, valueLen: p.valueLen, lineBytes });
    off += lineBytes;
  }
  return off;
}
