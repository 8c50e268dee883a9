/**
 * The trimmer on its own (README "Lean payloads"): for any attributes (escapes, non-ASCII, nested values, nothing
 * kept, everything kept) the bytes it counts as saved are exactly the untrimmed text minus the text it sends, and
 * what it sends is the body with only the dropped attribute keys missing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { AttributeTrimmer } from '../../src/trim/trimmer.js';
import type { ReadAttributes } from '../../src/engine/read-attributes.js';
import { createLogger } from '../../src/telemetry/logger.js';

const NAMES = ['color', 'size', 'brand', 'supplier', 'ü-name', 'quote"d', 'back\\slash', 'tab\tname', 'emoji😀'];
const json = fc.jsonValue({ maxDepth: 2 });
const attrs = fc.dictionary(fc.constantFrom(...NAMES, 'x', 'y', 'z'), fc.oneof(json, fc.string({ unit: 'grapheme' }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)), { maxKeys: 12 });

function trimmer(read: ReadAttributes, keepCartItem: string[] = []) {
  const registry = new Registry();
  const t = new AttributeTrimmer({ settings: { enabled: true, keepSession: [], keepCartItem }, reads: () => read, registry, log: createLogger('silent') });
  const saved = async () => (await registry.getSingleMetric('storegate_upstream_trimmed_bytes_total')?.get())?.values[0]?.value ?? 0;
  return { t, saved };
}

const reads = (session: string[], cartItem: string[] | 'all'): ReadAttributes => ({
  known: true,
  session: new Set(session),
  cartItem: cartItem === 'all' ? 'all' : new Set(cartItem),
  why: { session: [], cartItem: cartItem === 'all' ? ['test'] : [] },
  campaigns: 1,
});

describe('AttributeTrimmer', () => {
  it('counts exactly the bytes it leaves out, and leaves out only attribute keys', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(attrs, { maxLength: 6 }), attrs, fc.subarray(NAMES), fc.subarray(NAMES), async (lines, sessionAttrs, readNames, keepNames) => {
        const { t, saved } = trimmer(reads(readNames, readNames), keepNames);
        const body = JSON.parse(JSON.stringify({ customerSession: { profileId: 'p', cartItems: lines.map((a, i) => ({ sku: `S${i}`, quantity: 1, attributes: a })), attributes: sessionAttrs }, responseContent: ['customerSession'] })) as Record<string, unknown>;
        const whole = JSON.stringify(body);
        const sent = t.serialize(body).json;
        expect(await saved()).toBe(Buffer.byteLength(whole) - Buffer.byteLength(sent));
        const keep = (n: string, item: boolean) => readNames.includes(n) || (item && keepNames.includes(n));
        const expected = JSON.parse(whole) as { customerSession: { cartItems: { attributes: Record<string, unknown> }[]; attributes: Record<string, unknown> } };
        for (const item of expected.customerSession.cartItems) item.attributes = Object.fromEntries(Object.entries(item.attributes).filter(([k]) => keep(k, true)));
        expected.customerSession.attributes = Object.fromEntries(Object.entries(expected.customerSession.attributes).filter(([k]) => keep(k, false)));
        expect(JSON.parse(sent)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('sends an entity whole when campaigns may read any of its attributes, and everything when disabled', async () => {
    const { t, saved } = trimmer(reads(['color'], 'all'));
    const body = { customerSession: { cartItems: [{ sku: 'A', quantity: 1, attributes: { color: 'red', size: 'L' } }], attributes: { color: 'x', size: 'y' } } };
    expect(JSON.parse(t.serialize(structuredClone(body)).json)).toEqual({ customerSession: { ...body.customerSession, attributes: { color: 'x' } } });
    t.configure({ enabled: false, keepSession: [], keepCartItem: [] });
    expect(t.serialize(structuredClone(body)).json).toBe(JSON.stringify(body));
    expect(await saved()).toBe(Buffer.byteLength('"size":"y"') + 1);
    expect(t.status().cartItem).toEqual({ trimmed: false, kept: [], why: ['upstream.trimAttributes.enabled is false'] });
  });
});
