/**
 * Byte stream → codes. A scanner sends each code followed by a suffix (CR, LF, CRLF, or another fixed string),
 * or with no suffix at all, in which case a silence ends the code. Chunks arrive however the tty driver and the
 * USB adapter cut them: a code may be split over several reads, or several codes joined in one.
 *
 * Why not serialport's own parsers: `DelimiterParser`/`ReadlineParser` buffer without bound until a delimiter
 * comes (line noise with no CR would grow the buffer for ever), and `InterByteTimeoutParser` cuts an over-long
 * burst at `maxBufferSize` and emits the pieces as if each were a code. Here a line longer than `maxLineBytes`
 * is dropped whole (reported once), and the bytes up to its terminator are skipped, so nothing of it is ever
 * forwarded; memory stays bounded by `maxLineBytes`.
 *
 * Pure: no timers, no I/O. The port calls `flush()` when its line has been silent long enough.
 */

export type FramerMode = 'lines' | 'delimiter' | 'timeout';

export type FrameEvent = { line: Buffer } | { drop: 'too_long' | 'incomplete'; bytes: number };

export interface FramerOptions {
  /** `\r\n`, `\r` or `\n` (any of CR/LF ends a code), another fixed string, or `""` (codes end at a silence). */
  suffix: string;
  maxLineBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;

export function framerMode(suffix: string): FramerMode {
  if (suffix === '') return 'timeout';
  return suffix === '\r\n' || suffix === '\r' || suffix === '\n' ? 'lines' : 'delimiter';
}

export class LineFramer {
  readonly mode: FramerMode;
  readonly #max: number;
  readonly #delim: Buffer;
  /** Bytes of the code being received (at most maxLineBytes, plus a partial delimiter in `delimiter` mode). */
  #pending: Buffer = Buffer.alloc(0);
  /** Skipping the rest of an over-long line, up to its terminator (or the next silence). */
  #discarding = false;

  constructor(opts: FramerOptions) {
    this.mode = framerMode(opts.suffix);
    this.#max = opts.maxLineBytes;
    this.#delim = Buffer.from(opts.suffix, 'latin1');
  }

  /** Bytes held for a code not yet terminated. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Nothing held: no partial code, not skipping an over-long one (no silence timer needed). */
  get idle(): boolean {
    return this.#pending.length === 0 && !this.#discarding;
  }

  push(chunk: Buffer): FrameEvent[] {
    if (chunk.length === 0) return [];
    switch (this.mode) {
      case 'lines':
        return this.#pushLines(chunk);
      case 'delimiter':
        return this.#pushDelimited(chunk);
      default:
        return this.#pushTimed(chunk);
    }
  }

  /**
   * The line went silent. Without a suffix, what was received is one code. With a suffix, bytes still
   * waiting for it are a code cut short (a scanner unplugged mid-code, noise): dropped, so they cannot be
   * glued to the front of the next code.
   */
  flush(): FrameEvent[] {
    const pending = this.#pending;
    const discarding = this.#discarding;
    this.#pending = Buffer.alloc(0);
    this.#discarding = false;
    if (discarding || pending.length === 0) return [];
    return this.mode === 'timeout' ? [{ line: pending }] : [{ drop: 'incomplete', bytes: pending.length }];
  }

  #pushLines(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b !== CR && b !== LF) continue;
      this.#append(chunk.subarray(start, i), out);
      this.#endLine(out);
      start = i + 1;
    }
    this.#append(chunk.subarray(start), out);
    return out;
  }

  #pushDelimited(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    const d = this.#delim;
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      const at = data.indexOf(d);
      if (at < 0) break;
      if (!this.#discarding) {
        if (at > this.#max) out.push({ drop: 'too_long', bytes: at });
        else if (at > 0) out.push({ line: Buffer.from(data.subarray(0, at)) });
      }
      this.#discarding = false;
      data = data.subarray(at + d.length);
    }
    // What is left has no complete delimiter; its last bytes may be the start of one.
    const keep = d.length - 1;
    if (this.#discarding) {
      this.#pending = Buffer.from(data.subarray(Math.max(0, data.length - keep)));
    } else if (data.length > this.#max + keep) {
      out.push({ drop: 'too_long', bytes: data.length });
      this.#discarding = true;
      this.#pending = Buffer.from(data.subarray(data.length - keep));
    } else {
      this.#pending = Buffer.from(data);
    }
    return out;
  }

  #pushTimed(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    this.#append(chunk, out);
    return out;
  }

  /** Adds bytes to the current code, switching to discarding when it grows past the limit. */
  #append(part: Buffer, out: FrameEvent[]): void {
    if (part.length === 0 || this.#discarding) return;
    if (this.#pending.length + part.length > this.#max) {
      out.push({ drop: 'too_long', bytes: this.#pending.length + part.length });
      this.#pending = Buffer.alloc(0);
      this.#discarding = true;
      return;
    }
    this.#pending = this.#pending.length === 0 ? Buffer.from(part) : Buffer.concat([this.#pending, part]);
  }

  /** A terminator (CR or LF): the code ends; an empty one (the LF of a CRLF) is nothing. */
  #endLine(out: FrameEvent[]): void {
    if (!this.#discarding && this.#pending.length > 0) out.push({ line: this.#pending });
    this.#pending = Buffer.alloc(0);
    this.#discarding = false;
  }
}
