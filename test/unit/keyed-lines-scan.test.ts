/**
 * A start reads every line of the keyed stores (src/state/keyed-lines.ts) with fast paths for what lineOf writes —
 * hex CRC, integer seq and time, a plain ASCII key — read in place instead of through strings. Whatever the lines
 * hold (any key, any number, damaged bytes), the scan must accept, decode and stop exactly where the plain parse it
 * replaced (kept here as the reference) does.
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lineOf, scanLines, type ScannedLine } from '../../src/state/keyed-lines.js';

/** The parse before the fast paths, verbatim in its checks. */
function referenceScan(buf: Buffer): { lines: ScannedLine[]; end: number } {
  const lines: ScannedLine[] = [];
  let off = 0;
  while (off < buf.length) {
    const nl = buf.indexOf(0x0a, off);
    if (nl < 0) break;
    const t1 = buf.indexOf(0x09, off);
    if (t1 !== off + 8 || t1 >= nl) break;
    const crc = Number.parseInt(buf.toString('latin1', off, t1), 16);
    if (!Number.isFinite(crc) || crc32(buf.subarray(t1 + 1, nl)) !== crc) break;
    const t2 = buf.indexOf(0x09, t1 + 1);
    const t3 = t2 < 0 ? -1 : buf.indexOf(0x09, t2 + 1);
    if (t3 < 0 || t3 >= nl) break;
    const t4 = buf.indexOf(0x09, t3 + 1);
    if (t4 < 0 || t4 >= nl) break;
    const seq = Number(buf.toString('latin1', t1 + 1, t2));
    const at = Number(buf.toString('latin1', t2 + 1, t3));
    if (!Number.isFinite(seq) || !Number.isFinite(at)) break;
    let key: unknown;
    try {
      key = JSON.parse(buf.toString('utf8', t3 + 1, t4));
    } catch {
      break;
    }
    if (key !== null && typeof key !== 'string') break;
    lines.push({ seq, at, key: key as string | null, valueOffset: t4 + 1, valueLen: nl - t4 - 1, lineBytes: nl + 1 - off });
    off = nl + 1;
  }
  return { lines, end: off };
}

function scan(buf: Buffer): { lines: ScannedLine[]; end: number } {
  const lines: ScannedLine[] = [];
  const end = scanLines(
    (target, pos, len) => {
      const n = Math.max(0, Math.min(len, buf.length - pos));
      buf.copy(target, 0, pos, pos + n);
      return n;
    },
    buf.length,
    (l) => lines.push({ ...l }),
  );
  return { lines, end };
}

/** A line with its CRC recomputed over whatever body it is given (so odd fields are not just CRC failures). */
const rawLine = (crcText: (c: number) => string, body: string) => `${crcText(crc32(body))}\t${body}\n`;

const key = fc.oneof(
  fc.stringMatching(/^[a-z0-9:_-]{0,24}$/),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('a"b', 'a\\b', 'tab\there', 'é', '\u007f', '', 'x\ny'),
);
const num = fc.oneof(
  fc.nat({ max: 2 ** 53 - 1 }),
  fc.integer({ min: 0, max: 999_999_999_999_999 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(0, 1e21, -5, 0.5, 2 ** 60),
);
const numText = fc.oneof(num.map(String), fc.constantFrom('', ' 7', '007', '1e3', '0x10', '12a', '-0', '9'.repeat(16), '9'.repeat(15), 'Infinity'));
const keyJson = fc.oneof(key.map((k) => JSON.stringify(k)), fc.constantFrom('null', '"x" ', ' "x"', '1', '{}', '"unterminated', '"a\\u0041"', '"\\/"'));
const crcText = fc.constantFrom(
  (c: number) => c.toString(16).padStart(8, '0'),
  (c: number) => c.toString(16).toUpperCase().padStart(8, '0'),
  (c: number) => ` ${c.toString(16)}`.padStart(8, ' ').slice(-8),
  (c: number) => `+${c.toString(16).padStart(7, '0')}`,
);
const line = fc.oneof(
  fc.tuple(num, num, key, fc.json()).map(([s, a, k, v]) => lineOf(s, a, JSON.stringify(k), v)),
  fc.tuple(crcText, numText, numText, keyJson, fc.constantFrom('', '{"v":1}', '"x"')).map(([c, s, a, k, v]) => rawLine(c, `${s}\t${a}\t${k}\t${v}`)),
);

describe('keyed store line scan', () => {
  it('accepts, decodes and stops exactly where the plain parse does, for any lines and any damage', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.option(fc.record({ at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) })), (ls, flip) => {
        const buf = Buffer.from(ls.join(''), 'utf8');
        if (flip !== null && buf.length > 0) buf[flip.at % buf.length] = (buf[flip.at % buf.length] as number) ^ flip.mask;
        expect(scan(buf)).toEqual(referenceScan(buf));
      }),
      { numRuns: 3000 },
    );
  });

  it('reads what lineOf writes', () => {
    const buf = Buffer.from(lineOf(12, 1796667477248, JSON.stringify('startup-0'), '{"a":1}') + lineOf(13, 5, JSON.stringify('é"\\'), ''), 'utf8');
    const { lines, end } = scan(buf);
    expect(end).toBe(buf.length);
    expect(lines.map((l) => [l.seq, l.at, l.key, l.valueLen])).toEqual([
      [12, 1796667477248, 'startup-0', 7],
      [13, 5, 'é"\\', 0],
    ]);
  });
});
