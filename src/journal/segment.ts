/**
 * Segment files: the on-disk record format, its encoder and its scanner. Pure functions, no I/O.
 *
 * A segment is a plain concatenation of records (no file header: the name carries the first seq), followed
 * by zero bytes the writer preallocated ahead of its position (see preallocator.ts): an all-zero rest of the
 * file is the clean end of the data, not damage (a record always starts with the non-zero magic).
 * Record layout, little-endian:
 *
 * ```
 *  header (12 B)   0  magic  'SGJ1' (4 bytes, lets the scanner re-synchronise after damage)
 *                  4  crc32  (u32, zlib.crc32 over bytes 8 .. end: the length AND the body)
 *                  8  len    (u32, body length)
 *  body (len B)    0  version u8 (=1)   1 flags u8 (0)
 *                  2  idLen u16   4 keyLen u16   6 kindLen u16
 *                  8  batchOff u32  (segment offset of the first record of this record's write batch)
 *                 12  seq f64   20 at f64   28 mono f64
 *                 36  id | key | kind (UTF-8) | payload (JSON, UTF-8, the rest)
 * ```
 * Why this shape: start-up reads seq/id/key/kind from fixed offsets and never parses the payload
 * (JSON is parsed lazily, on first access). The CRC covers the length, so a damaged length is caught
 * even when it still points inside the file. `batchOff` tells recovery whether damage lies inside the
 * last (never-acknowledged) write batch — a torn tail — or before it — real corruption (see scanSegment).
 */
import { crc32 } from 'node:zlib';

export const MAGIC = Buffer.from('SGJ1', 'latin1');
export const HEADER_BYTES = 12;
export const BODY_FIXED_BYTES = 36;
export const FORMAT_VERSION = 1;
/** id, key and kind are length-prefixed with u16. */
export const MAX_FIELD_BYTES = 0xffff;
export const MAGIC_U32 = MAGIC.readUInt32LE(0);

const SEGMENT_RE = /^(\d{20})\.seg$/;

/** `00000000000000000001.seg`: zero-padded so lexical order is seq order. */
export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.seg`;
}

export function parseSegmentFileName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * A record ready to be written: byte lengths measured up front so its size is known before it is
 * queued (for maxBytes); the strings are encoded straight into the batch buffer, no per-field Buffers.
 */
export interface PreparedRecord {
  seq: number;
  at: number;
  mono: number;
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  readonly payloadJson: string;
  readonly idLen: number;
  readonly keyLen: number;
  readonly kindLen: number;
  readonly payloadLen: number;
  /** Total bytes on disk, header included. */
  readonly size: number;
  /** Set by encodeBatch: where the payload starts in the batch buffer. */
  payloadAt: number;
}

export function prepareRecord(id: string, key: string, kind: string, payloadJson: string): PreparedRecord {
  const idLen = Buffer.byteLength(id, 'utf8');
  const keyLen = Buffer.byteLength(key, 'utf8');
  const kindLen = Buffer.byteLength(kind, 'utf8');
  const payloadLen = Buffer.byteLength(payloadJson, 'utf8');
  const size = HEADER_BYTES + BODY_FIXED_BYTES + idLen + keyLen + kindLen + payloadLen;
  return { seq: 0, at: 0, mono: 0, id, key, kind, payloadJson, idLen, keyLen, kindLen, payloadLen, size, payloadAt: 0 };
}

/** Encodes a whole batch into one buffer (one write syscall), starting at segment offset `batchOff`. */
export function encodeBatch(records: readonly PreparedRecord[], batchOff: number): Buffer {
  let total = 0;
  for (const r of records) total += r.size;
  const buf = Buffer.allocUnsafe(total);
  let o = 0;
  for (const r of records) {
    const len = r.size - HEADER_BYTES;
    const b = o + HEADER_BYTES;
    MAGIC.copy(buf, o);
    buf.writeUInt32LE(len, o + 8);
    buf.writeUInt8(FORMAT_VERSION, b);
    buf.writeUInt8(0, b + 1);
    buf.writeUInt16LE(r.idLen, b + 2);
    buf.writeUInt16LE(r.keyLen, b + 4);
    buf.writeUInt16LE(r.kindLen, b + 6);
    buf.writeUInt32LE(batchOff, b + 8);
    buf.writeDoubleLE(r.seq, b + 12);
    buf.writeDoubleLE(r.at, b + 20);
    buf.writeDoubleLE(r.mono, b + 28);
    let p = b + BODY_FIXED_BYTES;
    p += buf.write(r.id, p, 'utf8');
    p += buf.write(r.key, p, 'utf8');
    p += buf.write(r.kind, p, 'utf8');
    r.payloadAt = p;
    buf.write(r.payloadJson, p, 'utf8');
    buf.writeUInt32LE(crc32(buf.subarray(o + 8, o + r.size)), o + 4);
    o += r.size;
  }
  return buf;
}

/** A record as found on disk. Its payload is `buf[payloadStart, payloadEnd)` of the scanned buffer. */
export interface ScannedRecord {
  readonly offset: number;
  readonly size: number;
  readonly seq: number;
  readonly id: string;
  readonly key: string;
  readonly kind: string;
  readonly at: number;
  readonly mono: number;
  readonly batchOff: number;
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

/**
 * Decodes the record at `off`, or returns a reason why there is no valid record there. `base` is the segment
 * offset of `buf[0]`: the offsets returned are segment offsets.
 */
export function decodeAt(buf: Buffer, off: number, base = 0): ScannedRecord | string {
  if (buf.length - off < HEADER_BYTES) return 'truncated header';
  if (buf.readUInt32LE(off) !== MAGIC_U32) return 'bad magic';
  const len = buf.readUInt32LE(off + 8);
  if (len < BODY_FIXED_BYTES) return 'bad length';
  const end = off + HEADER_BYTES + len;
  if (end > buf.length) return 'truncated body';
  if (crc32(buf.subarray(off + 8, end)) !== buf.readUInt32LE(off + 4)) return 'checksum mismatch';
  const b = off + HEADER_BYTES;
  if (buf.readUInt8(b) !== FORMAT_VERSION) return 'unknown format version';
  const idLen = buf.readUInt16LE(b + 2);
  const keyLen = buf.readUInt16LE(b + 4);
  const kindLen = buf.readUInt16LE(b + 6);
  let p = b + BODY_FIXED_BYTES;
  if (p + idLen + keyLen + kindLen > end) return 'field lengths exceed record';
  const id = buf.toString('utf8', p, (p += idLen));
  const key = buf.toString('utf8', p, (p += keyLen));
  const kind = buf.toString('utf8', p, (p += kindLen));
  return {
    offset: base + off,
    size: end - off,
    seq: buf.readDoubleLE(b + 12),
    id,
    key,
    kind,
    at: buf.readDoubleLE(b + 20),
    mono: buf.readDoubleLE(b + 28),
    batchOff: buf.readUInt32LE(b + 8),
    payloadStart: base + p,
    payloadEnd: base + end,
  };
}

/** A damaged byte range: from `offset` up to the next valid record (`end`) or the end of the file. */
export interface BadRegion {
  readonly offset: number;
  readonly end: number;
  readonly reason: string;
}

export interface ScanResult {
  /** Valid records before `tornAt` (all of them when there is no torn tail). */
  readonly records: ScannedRecord[];
  /** Where the data ends: after the last record kept, before any torn tail or preallocated zeros. */
  readonly end: number;
  /** Damage before the torn tail: real corruption of bytes that had been made durable. */
  readonly corrupt: BadRegion[];
  /** Where the torn tail starts (truncate the file here), if there is one. */
  readonly tornAt?: number;
  /** Valid records found after `tornAt` and dropped with the torn batch (never acknowledged). */
  readonly droppedRecords: number;
}

/**
 * Scans a segment held in `buf`. On damage it re-synchronises at the next magic whose record checks out.
 * `base` is the segment offset of `buf[0]` (a scan that starts mid-file, see scan-file.ts): every offset in
 * the result is a segment offset.
 *
 * Torn tail vs corruption: the writer makes batch N durable before it writes batch N+1, so a crash can
 * only tear bytes of the *last* batch of the *last* segment. Damage at offset X is a torn tail when the
 * segment is the last one and every valid record after X belongs to the batch that contains X (their
 * `batchOff` ≤ X) — including when no valid record follows. Anything else is corruption of durable data.
 */
export function scanSegment(buf: Buffer, isLast: boolean, base = 0): ScanResult {
  const records: ScannedRecord[] = [];
  const bad: BadRegion[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = decodeAt(buf, off, base);
    if (typeof r !== 'string') {
      records.push(r);
      off += r.size;
      continue;
    }
    if (isZeroFrom(buf, off)) break; // preallocated space: the data ends here
    const next = resync(buf, off + 1);
    bad.push({ offset: base + off, end: base + next, reason: r });
    off = next;
  }
  const end = base + Math.min(off, buf.length);
  if (bad.length === 0) return { records, end, corrupt: [], droppedRecords: 0 };
  if (isLast) {
    // Earliest damage such that everything valid after it sits in the same (last) batch.
    for (let i = 0; i < bad.length; i++) {
      const x = (bad[i] as BadRegion).offset;
      const after = records.filter((rec) => rec.offset > x);
      if (after.every((rec) => rec.batchOff <= x)) {
        return {
          records: records.filter((rec) => rec.offset < x),
          end: x,
          corrupt: bad.slice(0, i),
          tornAt: x,
          droppedRecords: after.length,
        };
      }
    }
  }
  return { records, end, corrupt: bad, droppedRecords: 0 };
}

const ZERO_CHUNK = Buffer.alloc(64 * 1024);

/** True when every byte of `buf` from `off` on is zero (compared 64 KiB at a time, memcmp speed). */
export function isZeroFrom(buf: Buffer, off: number): boolean {
  for (let i = off; i < buf.length; i += ZERO_CHUNK.length) {
    const n = Math.min(ZERO_CHUNK.length, buf.length - i);
    if (!buf.subarray(i, i + n).equals(n === ZERO_CHUNK.length ? ZERO_CHUNK : ZERO_CHUNK.subarray(0, n))) return false;
  }
  return true;
}

/** Offset of the next valid record at or after `from`, or `buf.length`. */
function resync(buf: Buffer, from: number): number {
  let i = from;
  for (;;) {
    i = buf.indexOf(MAGIC, i);
    if (i < 0) return buf.length;
    if (typeof decodeAt(buf, i) !== 'string') return i;
    i += 1;
  }
}
