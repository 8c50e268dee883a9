/**
 * Hostile values for the fuzz suite: leaves (strings, numbers), JSON values, and JSON *texts* — the text level
 * matters because some hostility cannot be expressed as a JavaScript value (numbers beyond a double, duplicate
 * keys, invalid UTF-8, deep nesting past the edge's budget, truncation).
 */
import fc from 'fast-check';

/** A JSON text, or raw bytes sent as the body (invalid UTF-8 cannot live in a JS string). */
export type BodyText = string | Buffer;

/**
 * Placeholders spliced into the text after JSON.stringify: a raw JSON token (`1e400`, a 40-digit integer) or
 * a raw fragment (deep nesting). `@@RAW:<uri-encoded text>@@` never occurs in generated strings (they hold no `@@RAW:`).
 */
export const raw = (text: string): string => `@@RAW:${encodeURIComponent(text)}@@`;
const RAW_RE = /"@@RAW:([^"@]*)@@"/g;

/** JSON.stringify with the raw placeholders spliced in. */
export function toText(value: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(value) ?? 'null';
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    // Past V8's maximum string length (~512 M characters) no client could send the value; an oversized body
    // (twice the 1 MiB body limit) stands for it.
    return `{"customerSession":{"attributes":{"x":"${'a'.repeat(2_000_000)}"}}}`;
  }
  return s.includes('@@RAW:') ? s.replace(RAW_RE, (_, t: string) => decodeURIComponent(t)) : s;
}

/**
 * Percent-encodes every byte of the UTF-8 form except unreserved characters; unlike encodeURIComponent it
 * never throws (a lone surrogate becomes U+FFFD's bytes, as it would on the wire).
 */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const control = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));

/** Strings a careless parser, logger, path builder or rule engine could trip on. */
export const NASTY_STRINGS = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '0x10',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'valueOf',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'a\ud800b',
  '\udbff\udfff',
  '\u202e\u202d',
  '\ufeff',
  '\u2028\u2029',
  'é',
  'e\u0301',
  '😀👨‍👩‍👧‍👦',
  '日本語',
  'ﷺ',
  '../../etc/passwd',
  '..',
  '.',
  '%00',
  '%2F',
  '%',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  "'; DROP TABLE sessions;--",
  '<script>alert(1)</script>',
  '\r\nX-Injected: 1',
  '2026-02-30T25:61:61Z',
  '2026-05-01T10:00:00',
  '2026-05-01T10:00:00+25:00',
  '9999-12-31T23:59:59Z',
  '0000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.000Z',
  '1970-01-01T00:00:00Z',
  '2026-05-01',
  '00000000-0000-0000-0000-000000000000',
  'not-a-uuid',
  '$Session.Total',
  '(+ 1 2)',
  '.*',
  '(a+)+$',
  '\\',
  '"',
  '\\u0000',
] as const;

/** Realistic values per field name, so a good share of requests gets past validation into the engine. */
export const REALISTIC: Record<string, readonly string[]> = {
  sku: ['SKU-1', 'SKU-2', 'PAN-24', 'TOTE-1', 'SHOE-1', 'SHOE-2', 'X'],
  name: ['Pan', 'Shirt', 'Shoes', 'Tote bag'],
  category: ['Kitchen', 'Apparel', 'Shoes', 'shoes', 'food'],
  profileId: ['cust-001', 'cust-002', 'cust-9', 'FZ-P1', ''],
  couponCodes: ['WELCOME10', 'STAFF-WELCOME', 'WINTER2025', 'SAVE5', 'NOPE', 'welcome10'],
  referralCode: ['REF-1', 'NOPE'],
  loyaltyCards: ['CARD-0001', 'CARD-404'],
  identifiers: ['id-1', 'phone:+4912345'],
  type: ['checkout', 'visit', 'pageview', 'referral'],
  storeIntegrationId: ['store-042', 'store-777', ''],
};

const LONG_CHARS = ['a', 'é', '😀', '\\', '"', '%', '\ud800'];
export const longString = fc
  .tuple(fc.constantFrom(100, 101, 255, 256, 1000, 1001, 4096, 65_537, 300_000), fc.constantFrom(...LONG_CHARS))
  .map(([n, c]) => c.repeat(n));
/**
 * Long strings for the leaves of generated structures: up to 64 leaves of 300,000 lone surrogates (6 JSON
 * characters each) would pass V8's maximum string length; 4,096 keeps a whole value under ~2 M characters.
 */
const leafLongString = fc.tuple(fc.constantFrom(100, 101, 255, 256, 1000, 1001, 4096), fc.constantFrom(...LONG_CHARS)).map(([n, c]) => c.repeat(n));

function stringsWith(long: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 24 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
    { weight: 1, arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, control, fc.constantFrom('"', '\\', '[', '{', '/')), maxLength: 16 }) },
    { weight: 1, arbitrary: long },
  );
}
export const hostileString: fc.Arbitrary<string> = stringsWith(longString);
const leafString = stringsWith(leafLongString);

/** Number-ish JSON tokens, some of them only expressible as raw text. */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, 1, -1, 0.5, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 63, 1e21, 123.456789012345),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom('1e400', '-1e400', '1234567890123456789012345678901234567890', '9007199254740993', '-0.0', '1E+2', '0.0000001e-330', '1.0000000000000000000001').map(raw),
);

/** Property names that poison prototypes, shadow builtins or collide with internals. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', '$', '$ref', '.', 'a.b', '/', '~1', '0', '-1', 'length', 'then'),
  hostileString.filter((s) => s.length < 200),
);

/** An object built with own properties only (so `__proto__` is a real key in the JSON text). */
export function objectOf(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  return Object.fromEntries(entries);
}

/** Arrays and objects nested `depth` deep, as raw text (no JS value of that depth is ever built). */
export function nested(depth: number, open: '[' | '{"a":' = '['): string {
  return raw(nestedText(depth, open));
}

export function nestedText(depth: number, open: '[' | '{"a":' = '['): string {
  const close = open === '[' ? ']' : '}';
  return `${open.repeat(depth)}1${close.repeat(depth)}`;
}

/** Depths around the edge budgets (64 for terminals, 128 for pushes) and far past them. */
export const depthAroundBudget = fc.constantFrom(30, 58, 59, 60, 61, 62, 63, 64, 65, 120, 122, 124, 125, 126, 127, 128, 200, 1000, 10_000, 100_000);

/** Brackets inside strings (the depth scanner must skip them), with escapes. */
export const bracketString = fc.constantFrom('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', '\\"[[[[[[[[', '"', '\\', '{"a":[');

/** Any JSON-ish value, hostile at every level; `depth` bounds the recursion of generation. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'hostile' },
    { weight: 4, arbitrary: leafString },
    { weight: 3, arbitrary: hostileNumber },
    { weight: 2, arbitrary: fc.constantFrom(null, true, false) },
    { weight: 1, arbitrary: bracketString },
    { weight: 1, arbitrary: depthAroundBudget.map((d) => nested(d)) },
    { weight: 1, arbitrary: fc.constantFrom([], {}, [[]], [{}], [null], Object.create(null) as object) },
    { weight: 2, arbitrary: fc.array(tie('v'), { maxLength: 4, depthIdentifier: 'hostile' }) },
    {
      weight: 2,
      arbitrary: fc.array(fc.tuple(hostileKey, tie('v')), { maxLength: 4, depthIdentifier: 'hostile' }).map(objectOf),
    },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(1000, 20_000, 100_000), fc.constantFrom<unknown>(0, 'x', null, {}, [])).map(([n, x]) => new Array(n).fill(x)) },
  ),
})).v;

/** Text-level damage to a JSON text: truncation, trailing garbage, duplicate keys, BOM, comments, invalid UTF-8. */
export function damageText(text: string): fc.Arbitrary<BodyText> {
  return fc.oneof(
    fc.nat({ max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n)),
    fc.constantFrom('garbage', '}', ']', ',', ' {}', '\u0000', '\n\n\n', '/* x */').map((g) => text + g),
    fc.constantFrom('\ufeff', '/* c */', '// c\n', ' \t\r\n', 'x').map((p) => p + text),
    fc.constant(text.startsWith('{') && text.length > 2 ? `${text.slice(0, -1)},${text.slice(1)}` : `${text}${text}`), // duplicate keys
    fc.constant(text.replace(/"/g, "'")),
    fc
      .tuple(fc.nat({ max: Math.max(0, text.length) }), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0x00]))
      .map(([at, bytes]) => {
        const b = Buffer.from(text, 'utf8');
        const i = Math.min(at, b.length);
        return Buffer.concat([b.subarray(0, i), Buffer.from(bytes), b.subarray(i)]);
      }),
  );
}

/** Stand-alone malformed or odd JSON texts. */
export const oddText: fc.Arbitrary<BodyText> = fc.oneof(
  fc.constantFrom('', ' ', '{', '[', '{"a":1,}', '[1,]', "{'a':1}", 'NaN', 'undefined', '{"a":01}', '{"a":.5}', '{"a":+1}', '{"a":0x10}', 'null', 'true', '"string"', '123', '[]', '{}', '{} {}', '{"a":"\\x41"}', '{"a":"\\ud800"}', '{"a":"\u0000"}', '{"a":"\\u12"}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}', '{"a":1}'.repeat(1000)),
  fc.string({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.constantFrom(1_048_576 - 16, 1_048_577, 2_000_000).map((n) => `{"customerSession":{"attributes":{"x":"${'a'.repeat(n)}"}}}`),
  fc.constantFrom(64, 65, 129, 10_000).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
  fc.constantFrom(64, 65, 10_000).map((d) => '['.repeat(d)), // unbalanced
);
