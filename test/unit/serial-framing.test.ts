/**
 * Framing of scanner byte streams (src/serial/framer.ts): whatever way the bytes are cut into reads, the same
 * codes come out, over-long lines never do, and memory stays bounded.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LineFramer, type FrameEvent } from '../../src/serial/framer.js';

const MAX = 64;

/** A code as scanners send them: printable ASCII, no CR/LF. */
const codeArb = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: MAX });
const longArb = fc.string({ unit: fc.constantFrom('A', '9', '-'), minLength: MAX + 1, maxLength: 3 * MAX });

/** Splits `bytes` at random cut points (an arbitrary chunking, from one byte per read to all in one). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}

function run(framer: LineFramer, chunks: Buffer[], flushAtEnd = false): { lines: string[]; drops: FrameEvent[] } {
  const events: FrameEvent[] = [];
  for (const c of chunks) {
    events.push(...framer.push(c));
    // Memory is bounded by the line limit (plus a partial delimiter), whatever comes in.
    expect(framer.pendingBytes).toBeLessThanOrEqual(MAX + 8);
  }
  if (flushAtEnd) events.push(...framer.flush());
  return {
    lines: events.flatMap((e) => ('line' in e ? [e.line.toString('latin1')] : [])),
    drops: events.filter((e) => 'drop' in e),
  };
}

describe('line framing (CR, LF, CRLF)', () => {
  it('yields exactly the codes sent, for any terminators and any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(codeArb, fc.constantFrom('\r', '\n', '\r\n')), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.constantFrom('\r\n', '\r', '\n'),
        (codes, cuts, suffix) => {
          const bytes = Buffer.from(codes.map(([c, t]) => c + t).join(''), 'latin1');
          const { lines, drops } = run(new LineFramer({ suffix, maxLineBytes: MAX }), chunked(bytes, cuts));
          expect(lines).toEqual(codes.map(([c]) => c));
          expect(drops).toEqual([]);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('drops over-long lines whole (once each) and keeps the codes around them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(codeArb.map((c) => ({ c, long: false })), longArb.map((c) => ({ c, long: true }))), { maxLength: 15 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (items, cuts) => {
          const bytes = Buffer.from(items.map((i) => `${i.c}\r\n`).join(''), 'latin1');
          const { lines, drops } = run(new LineFramer({ suffix: '\r\n', maxLineBytes: MAX }), chunked(bytes, cuts));
          expect(lines).toEqual(items.filter((i) => !i.long).map((i) => i.c));
          expect(drops.length).toBe(items.filter((i) => i.long).length);
          for (const d of drops) expect(d).toMatchObject({ drop: 'too_long' });
          // No piece of an over-long line is ever forwarded as a code.
          for (const l of lines) expect(l.length).toBeLessThanOrEqual(MAX);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('drops a code cut short when the line goes silent, so it is not glued to the next one', () => {
    const f = new LineFramer({ suffix: '\r\n', maxLineBytes: MAX });
    expect(f.push(Buffer.from('40063813'))).toEqual([]);
    expect(f.flush()).toEqual([{ drop: 'incomplete', bytes: 8 }]);
    expect(run(f, [Buffer.from('96385074\r\n')]).lines).toEqual(['96385074']);
  });

  it('bounds memory on an endless line with no terminator', () => {
    const f = new LineFramer({ suffix: '\r\n', maxLineBytes: MAX });
    const drops: FrameEvent[] = [];
    for (let i = 0; i < 1000; i++) {
      drops.push(...f.push(Buffer.alloc(100, 0x41)));
      expect(f.pendingBytes).toBeLessThanOrEqual(MAX);
    }
    expect(drops).toEqual([{ drop: 'too_long', bytes: 100 }]);
    expect(f.push(Buffer.from('\r\nOK\r\n')).filter((e) => 'line' in e)).toEqual([{ line: Buffer.from('OK') }]);
  });
});

describe('fixed delimiter (another suffix)', () => {
  it('yields the codes for any chunking, even with the delimiter split across reads', () => {
    fc.assert(
      fc.property(
        fc.array(codeArb.filter((c) => !c.includes('#')), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.constantFrom('\t', '#END#', '\x03'),
        (codes, cuts, suffix) => {
          fc.pre(codes.every((c) => !c.includes(suffix) && !(suffix === '#END#' && c.includes('#'))));
          const bytes = Buffer.from(codes.map((c) => c + suffix).join(''), 'latin1');
          const { lines, drops } = run(new LineFramer({ suffix, maxLineBytes: MAX }), chunked(bytes, cuts));
          expect(lines).toEqual(codes);
          expect(drops).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('drops over-long lines and keeps the rest, for any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(codeArb.map((c) => ({ c, long: false })), longArb.map((c) => ({ c, long: true }))), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (items, cuts) => {
          fc.pre(items.every((i) => !i.c.includes('#')));
          const bytes = Buffer.from(items.map((i) => `${i.c}#END#`).join(''), 'latin1');
          const { lines, drops } = run(new LineFramer({ suffix: '#END#', maxLineBytes: MAX }), chunked(bytes, cuts));
          expect(lines).toEqual(items.filter((i) => !i.long).map((i) => i.c));
          expect(drops.length).toBe(items.filter((i) => i.long).length);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('inter-byte timeout (no suffix)', () => {
  it('one silence ends one code, whatever the chunking within it', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(codeArb, fc.array(fc.nat(), { maxLength: 10 })), { maxLength: 15 }), (bursts) => {
        const f = new LineFramer({ suffix: '', maxLineBytes: MAX });
        const lines: string[] = [];
        for (const [code, cuts] of bursts) {
          const r = run(f, chunked(Buffer.from(code, 'latin1'), cuts), true);
          lines.push(...r.lines);
        }
        expect(lines).toEqual(bursts.map(([c]) => c));
      }),
      { numRuns: 400 },
    );
  });

  it('an over-long burst is dropped whole, never forwarded in pieces', () => {
    const f = new LineFramer({ suffix: '', maxLineBytes: MAX });
    const r = run(f, chunked(Buffer.alloc(3 * MAX, 0x31), [10, 70, 100, 150]), true);
    expect(r.lines).toEqual([]);
    expect(r.drops).toHaveLength(1);
    expect(run(f, [Buffer.from('12345670')], true).lines).toEqual(['12345670']);
  });
});
