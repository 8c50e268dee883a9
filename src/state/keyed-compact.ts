/**
 * The copy at the heart of a keyed store's compaction (keyed-store.ts): the live values, read from the old file in
 * file order through one reused window, written to the new one through one reused buffer, headed by a line that
 * carries `hw` (every journal record up to it is reflected). A compaction copies the whole live file: fresh
 * buffers per window would leave that much garbage behind.
 */
import type { SyncFile } from '../platform/durable-fs.js';
import { lineOf } from './keyed-lines.js';

/** The input window and the output buffer. */
const COPY_BUFFER_BYTES = 1024 * 1024;
/** Values copied between two yields to the event loop (terminals are answered meanwhile; puts wait in memory). */
const YIELD_EVERY = 2_000;

export interface LiveValue {
  key: string;
  slot: number;
  seq: number;
  at: number;
  /** Where its value is in the old file. */
  off: number;
  len: number;
}

export async function copyLive(o: {
  out: SyncFile;
  hw: number;
  /** In file order. */
  live: readonly LiveValue[];
  /** False once the value was put again or deleted (checked after each yield): it is not copied. */
  stillLive: (v: LiveValue) => boolean;
  readInto: (buf: Buffer, position: number, length: number) => number;
  fileBytes: number;
}): Promise<{ moved: { slot: number; key: string; from: number; to: number }[]; bytes: number }> {
  const inBuf = Buffer.allocUnsafe(COPY_BUFFER_BYTES);
  const outBuf = Buffer.allocUnsafe(COPY_BUFFER_BYTES);
  let win: Buffer = inBuf.subarray(0, 0);
  let winStart = 0;
  let pos = 0;
  let used = 0;
  const flush = (): void => {
    o.out.write(outBuf.subarray(0, used), pos);
    pos += used;
    used = 0;
  };
  /** Appends a line; returns the file offset where it starts. */
  const emit = (line: string): number => {
    const n = Buffer.byteLength(line);
    if (used + n > outBuf.length) flush();
    if (n > outBuf.length) {
      const at = pos;
      const b = Buffer.from(line, 'utf8');
      o.out.write(b, pos);
      pos += b.length;
      return at;
    }
    outBuf.write(line, used, 'utf8');
    used += n;
    return pos + used - n;
  };
  const moved: { slot: number; key: string; from: number; to: number }[] = [];
  emit(lineOf(o.hw, 0, 'null', ''));
  let copied = 0;
  for (const v of o.live) {
    if (!o.stillLive(v)) continue;
    let valueJson: string;
    if (v.off >= winStart && v.off + v.len <= winStart + win.length) valueJson = win.toString('utf8', v.off - winStart, v.off - winStart + v.len);
    else if (v.len > inBuf.length) {
      const big = Buffer.allocUnsafe(v.len);
      o.readInto(big, v.off, v.len);
      valueJson = big.toString('utf8');
    } else {
      const n = o.readInto(inBuf, v.off, Math.min(inBuf.length, o.fileBytes - v.off));
      win = inBuf.subarray(0, n);
      winStart = v.off;
      valueJson = win.toString('utf8', 0, v.len);
    }
    const line = lineOf(v.seq, v.at, JSON.stringify(v.key), valueJson);
    const at = emit(line);
    moved.push({ slot: v.slot, key: v.key, from: v.off, to: at + Buffer.byteLength(line) - 1 - v.len });
    if (++copied % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
  }
  flush();
  return { moved, bytes: pos };
}
