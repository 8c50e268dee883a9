/** Scanned codes: GTIN check digits, cleaning (garbage, control characters, AIM ids), classification, price display. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { gtinCheckDigit, gtinVariants, isValidGtin } from '../../src/serial/gtin.js';
import { cleanCode } from '../../src/serial/code.js';
import { classifyCode, type CodeLookups } from '../../src/serial/classify.js';
import { renderPriceLine, toAscii } from '../../src/serial/price-display.js';
import { ScannedCouponStore, PENDING_TTL_MS } from '../../src/serial/scanned-coupons.js';

describe('GTIN check digits', () => {
  it('accepts real GTIN-8, -12, -13 and -14 codes', () => {
    // EAN-8, UPC-A, EAN-13 (Faber-Castell, an ISBN-13) and an ITF-14 from GS1's examples.
    for (const c of ['96385074', '73513537', '036000291452', '4006381333931', '9780201379624', '5901234123457', '10012345678902', '00012345600012']) {
      expect(isValidGtin(c), c).toBe(true);
    }
  });

  it('refuses a wrong check digit, other lengths and non-digits', () => {
    for (const c of ['4006381333932', '96385075', '036000291453', '400638133393', '40063813339311', '123456789', '', '4OO6381333931', '9780201379624 ']) {
      expect(isValidGtin(c), c).toBe(false);
    }
  });

  it('computed check digits validate, and any single-digit error is caught', () => {
    fc.assert(
      fc.property(fc.constantFrom(7, 11, 12, 13), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 13, maxLength: 13 }), fc.nat(), fc.integer({ min: 1, max: 9 }), (len, digits, pos, delta) => {
        const body = digits.slice(0, len).join('');
        const code = body + String(gtinCheckDigit(body));
        expect(isValidGtin(code)).toBe(true);
        const i = pos % code.length;
        const wrong = code.slice(0, i) + String((Number(code[i]) + delta) % 10) + code.slice(i + 1);
        expect(isValidGtin(wrong)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('lists the other lengths of the same GTIN (UPC-A ↔ EAN-13 ↔ GTIN-14)', () => {
    expect(gtinVariants('036000291452')).toEqual(['00036000291452', '0036000291452']);
    expect(gtinVariants('0036000291452')).toEqual(['00036000291452', '036000291452']);
    expect(gtinVariants('4006381333931')).toEqual(['04006381333931']);
    expect(gtinVariants('4006381333932')).toEqual([]);
  });
});

describe('cleaning a framed line', () => {
  const plain = { aim: false, stripPrefixes: [] };
  it('passes printable codes (and GS1 separators) through', () => {
    expect(cleanCode(Buffer.from('4006381333931'), plain)).toEqual({ code: '4006381333931' });
    expect(cleanCode(Buffer.from('QR:https://x/y?z=1'), plain)).toEqual({ code: 'QR:https://x/y?z=1' });
    expect(cleanCode(Buffer.from('0104006381333931\x1d10ABC'), plain)).toEqual({ code: '0104006381333931\x1d10ABC' });
  });

  it('drops bytes that are not text, control characters and empty codes', () => {
    expect(cleanCode(Buffer.from([0xff, 0xfe, 0x34, 0x30]), plain)).toEqual({ drop: 'garbage' });
    expect(cleanCode(Buffer.from([0x34, 0xc3]), plain)).toEqual({ drop: 'garbage' });
    expect(cleanCode(Buffer.from('AB\x07CD'), plain)).toEqual({ drop: 'control_chars' });
    expect(cleanCode(Buffer.from('\x1b[2J4006381333931'), plain)).toEqual({ drop: 'control_chars' });
    expect(cleanCode(Buffer.from('AB\x7fCD'), plain)).toEqual({ drop: 'control_chars' });
    expect(cleanCode(Buffer.from('   '), plain)).toEqual({ drop: 'empty' });
  });

  it('strips an AIM identifier and configured prefixes', () => {
    expect(cleanCode(Buffer.from(']E04006381333931'), { aim: true, stripPrefixes: [] })).toEqual({ code: '4006381333931', symbology: ']E0' });
    expect(cleanCode(Buffer.from(']E04006381333931'), plain)).toEqual({ code: ']E04006381333931' });
    expect(cleanCode(Buffer.from('F4006381333931'), { aim: false, stripPrefixes: ['A', 'F'] })).toEqual({ code: '4006381333931' });
    expect(cleanCode(Buffer.from(']C1'), { aim: true, stripPrefixes: [] })).toEqual({ drop: 'empty' });
  });

  it('never forwards random bytes that contain a control character or are not UTF-8', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const r = cleanCode(Buffer.from(bytes), plain);
        if ('code' in r) {
          expect(r.code).not.toMatch(/[\u0000-\u001c\u001e\u001f\u007f-\u009f\ufffd]/);
          expect(Buffer.from(r.code, 'utf8').equals(Buffer.from(bytes))).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('classification', () => {
  const data = (o: Partial<Record<'coupons' | 'cards' | 'skus', string[]>> = {}): CodeLookups => ({
    isCoupon: (c) => (o.coupons ?? []).includes(c),
    isLoyaltyCard: (c) => (o.cards ?? []).includes(c),
    isSku: (c) => (o.skus ?? []).includes(c),
  });
  const none = { coupon: null, loyaltyCard: null };

  it('coupon cache, known cards and the price book first', () => {
    const d = data({ coupons: ['WELCOME10'], cards: ['CARD-0001'], skus: ['PAN-24'] });
    expect(classifyCode('WELCOME10', d, none)).toBe('coupon');
    expect(classifyCode('CARD-0001', d, none)).toBe('loyaltyCard');
    expect(classifyCode('PAN-24', d, none)).toBe('item');
  });

  it('then patterns, then GTIN check digits, else unknown', () => {
    const patterns = { coupon: /^99\d{11}$/, loyaltyCard: /^2[0-9]{12}$/ };
    // 9900000000011 and 2000000000008 have valid check digits: the patterns claim them before the GTIN rule.
    expect(isValidGtin('9900000000011')).toBe(true);
    expect(classifyCode('9900000000011', data(), patterns)).toBe('coupon');
    expect(classifyCode('2000000000008', data(), patterns)).toBe('loyaltyCard');
    expect(classifyCode('4006381333931', data(), patterns)).toBe('item');
    expect(classifyCode('4006381333932', data(), patterns)).toBe('unknown');
    expect(classifyCode('hello', data(), none)).toBe('unknown');
  });

  it('exact data wins over a pattern', () => {
    expect(classifyCode('9900000000011', data({ skus: ['9900000000011'] }), { coupon: /^99/, loyaltyCard: null })).toBe('item');
  });
});

describe('price-check display', () => {
  const o = { priceTemplate: '{label}\n{finalPrice} {was}', noPriceTemplate: '{code}\nno price', columns: 20, rows: 2, decimals: 2 };
  it('renders label, final price and the base price on a 2 × 20 display', () => {
    const line = renderPriceLine('PAN-24', { sku: 'PAN-24', price: 39.99, finalPrice: 31.99, label: 'Cookware week -20%', validUntil: null }, o);
    expect(line).toBe('Cookware week -20%  31.99 (was 39.99)');
    expect(line.length).toBeLessThanOrEqual(40);
  });

  it('shows no "was" when nothing is discounted, and the SKU when there is no label', () => {
    expect(renderPriceLine('MUG-01', { sku: 'MUG-01', price: 8.5, finalPrice: 8.5, label: null, validUntil: null }, o)).toBe('MUG-01              8.50');
  });

  it('cuts long rows, drops extra rows, answers unknown codes', () => {
    const long = renderPriceLine('X', { sku: 'X', price: 1, finalPrice: 0.5, label: 'A very long promotion label indeed', validUntil: '2027-01-01T00:00:00.000Z' }, { ...o, priceTemplate: '{label}\n{finalPrice} until {validUntil}\nthird row' });
    expect(long).toBe('A very long promotio0.50 until 2027-01-0');
    expect(renderPriceLine('4006381333931', undefined, o)).toBe('4006381333931       no price');
  });

  it('is ASCII only', () => {
    expect(toAscii('Crème brûlée 5 € · Straße')).toBe('Creme brulee 5 EUR ? Strasse');
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (label) => {
      const line = renderPriceLine('S', { sku: 'S', price: 2, finalPrice: 1, label, validUntil: null }, o);
      expect(line).toMatch(/^[\x20-\x7e]*$/);
      expect(line.length).toBeLessThanOrEqual(40);
    }));
  });
});

describe('scanned coupons waiting for a session update', () => {
  it('are merged once, then forgotten; a retry under the same key carries the same codes', () => {
    let now = 1_000_000;
    const s = new ScannedCouponStore(() => now);
    s.add('T1', 'WELCOME10');
    s.add('T1', 'WELCOME10');
    expect(s.pending('T1', 'k1')).toEqual(['WELCOME10']);
    s.applied('T1', ['WELCOME10'], 'k1');
    s.add('T1', 'STAFF-WELCOME');
    expect(s.pending('T1', 'k1')).toEqual(['WELCOME10']);
    expect(s.pending('T1', 'k2')).toEqual(['STAFF-WELCOME']);
    expect(s.pending('T2', undefined)).toEqual([]);
    now += PENDING_TTL_MS + 1;
    expect(s.pending('T1', 'k3')).toEqual([]);
  });
});
