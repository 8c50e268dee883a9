/**
 * Scans a segment file through a window of bounded size instead of reading the whole file into memory.
 *
 * Why: at start-up every segment is scanned (CRC of every record). Reading each 64 MiB segment whole — and
 * the next one ahead of it — made a restart with a big backlog hold ~130 MiB of buffers at once, on a
 * mini-PC whose whole daemon should stay near 100 MB. Records are read window by window (4 MiB, or one
 * record when it is bigger), so the memory a scan holds does not grow with the journal.
 *
 * Clean data, the usual case, is decoded window by window. At the first offset where no valid record starts
 * — the preallocated zeros after the data, a torn tail, or damage — the rest of the file is read at once and
 * handed to {@link scanSegment}, whose torn-tail and re-synchronisation rules then apply unchanged (the rest
 * is a few MiB of zeros in practice; only a damaged segment costs more).
 */
import { BODY_FIXED_BYTES, HEADER_BYTES, MAGIC_U32, type ScanResult, type ScannedRecord, decodeAt, scanSegment } from './segment.js';

export const SCAN_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * @param file positional reads of the segment (the file is at least `size` long): `readInto` fills the one window
 *   buffer the scan reuses, `read` returns the rest of a damaged or zero-padded file
 * @param size the file's length
 */
export function scanSegmentFile(
  file: { read(position: number, length: number): Buffer; readInto(target: Buffer, position: number, length: number): void },
  size: number,
  isLast: boolean,
  windowBytes = SCAN_WINDOW_BYTES,
): ScanResult {
  const records: ScannedRecord[] = [];
  const rest = visitSegmentFile(file, size, isLast, (r) => records.push(r), windowBytes);
  return { ...rest, records };
}

/**
 * The same scan, handing each good record to `visit` in file order instead of collecting them (a restart with a
 * big backlog then holds no array of every record of a segment). The result's `records` is empty.
 */
export function visitSegmentFile(
  file: { read(position: number, length: number): Buffer; readInto(target: Buffer, position: number, length: number): void },
  size: number,
  isLast: boolean,
  visit: (r: ScannedRecord) => void,
  windowBytes = SCAN_WINDOW_BYTES,
): ScanResult {
  let buf = Buffer.allocUnsafe(Math.min(windowBytes, size));
  let win: Buffer = buf.subarray(0, 0);
  let winStart = 0;
  /** Makes `[from, from + len)` readable from the window; false when the file is shorter. */
  const cover = (from: number, len: number): boolean => {
    if (from >= winStart && from + len <= winStart + win.length) return true;
    if (from + len > size) return false;
    const n = Math.min(size - from, Math.max(len, windowBytes));
    if (n > buf.length) buf = Buffer.allocUnsafe(n); // one record bigger than the window
    file.readInto(buf, from, n);
    win = buf.subarray(0, n);
    winStart = from;
    return true;
  };
  let off = 0;
  while (off < size) {
    if (!cover(off, HEADER_BYTES)) break;
    const at = off - winStart;
    if (win.readUInt32LE(at) !== MAGIC_U32) break;
    const len = win.readUInt32LE(at + 8);
    if (len < BODY_FIXED_BYTES || !cover(off, HEADER_BYTES + len)) break;
    const r = decodeAt(win, off - winStart, winStart);
    if (typeof r === 'string') break;
    visit(r);
    off += r.size;
  }
  if (off >= size) return { records: [], end: off, corrupt: [], droppedRecords: 0 };
  buf = win = Buffer.alloc(0); // the rest is read on its own: do not hold both
  const rest = scanSegment(file.read(off, size - off), isLast, off);
  for (const r of rest.records) visit(r);
  return { ...rest, records: [] };
}
