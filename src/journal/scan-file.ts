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
import { crc32 } from 'node:zlib';
import { BODY_FIXED_BYTES, FORMAT_VERSION, HEADER_BYTES, MAGIC_U32, type ScanResult, type ScannedRecord, decodeAt, scanSegment } from './segment.js';

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
  return walk(file, size, isLast, windowBytes, (win, _dv, at, base) => {
    const r = decodeAt(win, at, base);
    if (typeof r === 'string') return 0;
    visit(r);
    return r.size;
  }, visit);
}

/**
 * What start-up indexes of a good record: its fixed fields, where it lies (segment offset and size, header
 * included) and its ordering key and kind. The id and the payload stay on disk until they are read.
 */
export type IndexVisitor = (seq: number, at: number, mono: number, offset: number, size: number, key: string, kind: string) => void;

/**
 * The scan recovery runs (see recovery.ts): the same records, data end, torn tail and corruption as
 * {@link visitSegmentFile} — a record the lean path does not accept is left to the same whole-rest scan — but a
 * clean record costs no object and no id string: only its key and kind are decoded, for the index.
 */
export function indexSegmentFile(
  file: { read(position: number, length: number): Buffer; readInto(target: Buffer, position: number, length: number): void },
  size: number,
  isLast: boolean,
  visit: IndexVisitor,
  windowBytes = SCAN_WINDOW_BYTES,
): ScanResult {
  // Kinds are few and runs of records share one: its bytes are compared with the last kind's, not decoded again.
  let lastKind = '';
  let lastKindBytes = Buffer.alloc(0);
  // The checks decodeAt makes, in the same order; any failure hands the rest of the file to scanSegment.
  return walk(file, size, isLast, windowBytes, (win, dv, at, base) => {
    const len = dv.getUint32(at + 8, true);
    const end = at + HEADER_BYTES + len;
    if (crc32(win.subarray(at + 8, end)) !== dv.getUint32(at + 4, true)) return 0;
    const b = at + HEADER_BYTES;
    if (win[b] !== FORMAT_VERSION) return 0;
    const idLen = dv.getUint16(b + 2, true);
    const keyLen = dv.getUint16(b + 4, true);
    const kindLen = dv.getUint16(b + 6, true);
    const k = b + BODY_FIXED_BYTES + idLen;
    if (k + keyLen + kindLen > end) return 0;
    const t = k + keyLen;
    let same = kindLen === lastKindBytes.length;
    for (let i = 0; same && i < kindLen; i++) same = win[t + i] === lastKindBytes[i];
    if (!same) {
      lastKind = win.toString('utf8', t, t + kindLen);
      lastKindBytes = Buffer.from(win.subarray(t, t + kindLen));
    }
    visit(dv.getFloat64(b + 12, true), dv.getFloat64(b + 20, true), dv.getFloat64(b + 28, true), base + at, end - at, win.toString('utf8', k, t), lastKind);
    return end - at;
  }, (r) => visit(r.seq, r.at, r.mono, r.offset, r.size, r.key, r.kind));
}

/**
 * The windowed walk both scans share. `decode` takes a record whose header and body lie in the window (magic and
 * length checked) and returns its size, or 0 when it is not valid; from the first offset where no valid record
 * starts, the rest of the file goes to scanSegment and its good records to `rest`.
 */
function walk(
  file: { read(position: number, length: number): Buffer; readInto(target: Buffer, position: number, length: number): void },
  size: number,
  isLast: boolean,
  windowBytes: number,
  decode: (win: Buffer, dv: DataView, at: number, base: number) => number,
  rest: (r: ScannedRecord) => void,
): ScanResult {
  let buf = Buffer.allocUnsafe(Math.min(windowBytes, size));
  let win: Buffer = buf.subarray(0, 0);
  // Fixed-width fields are read through a DataView of the window (cheaper per call than Buffer's readers).
  let dv = new DataView(win.buffer, win.byteOffset, 0);
  let winStart = 0;
  /** Makes `[from, from + len)` readable from the window; false when the file is shorter. */
  const cover = (from: number, len: number): boolean => {
    if (from >= winStart && from + len <= winStart + win.length) return true;
    if (from + len > size) return false;
    const n = Math.min(size - from, Math.max(len, windowBytes));
    if (n > buf.length) buf = Buffer.allocUnsafe(n); // one record bigger than the window
    file.readInto(buf, from, n);
    win = buf.subarray(0, n);
    dv = new DataView(win.buffer, win.byteOffset, n);
    winStart = from;
    return true;
  };
  let off = 0;
  while (off < size) {
    if (!cover(off, HEADER_BYTES)) break;
    const at = off - winStart;
    if (dv.getUint32(at, true) !== MAGIC_U32) break;
    const len = dv.getUint32(at + 8, true);
    if (len < BODY_FIXED_BYTES || !cover(off, HEADER_BYTES + len)) break;
    const n = decode(win, dv, off - winStart, winStart);
    if (n === 0) break;
    off += n;
  }
  if (off >= size) return { records: [], end: off, corrupt: [], droppedRecords: 0 };
  buf = win = Buffer.alloc(0); // the rest is read on its own: do not hold both
  const tail = scanSegment(file.read(off, size - off), isLast, off);
  for (const r of tail.records) rest(r);
  return { ...tail, records: [] };
}
