/**
 * Route validators compiled on first use (src/http/lazy-validators.ts): nothing is compiled while the app gets
 * ready, and a compiled validator accepts, refuses and reports exactly as fastify's own compiler does.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { lazyValidators, type LazyValidators } from '../../src/http/lazy-validators.js';

const AJV = { customOptions: { removeAdditional: false, useDefaults: false, coerceTypes: false, allErrors: false } } as const;
const SHARED = { $id: 'shop', definitions: { Item: { type: 'object', required: ['sku', 'quantity'], additionalProperties: false, properties: { sku: { type: 'string' }, quantity: { type: 'integer', minimum: 1 } } } } };

function app(validators?: LazyValidators): FastifyInstance {
  const a = Fastify({ logger: false, ajv: AJV, ...(validators ? { schemaController: { compilersFactory: { buildValidator: validators.buildValidator } } } : {}) });
  a.addSchema(SHARED);
  const body = { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: 'shop#/definitions/Item' } } } };
  a.put('/cart', { schema: { body } }, async (req) => ({ ok: true, got: req.body }));
  a.post('/other', { schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'number' } } } } }, async () => ({ ok: true }));
  return a;
}

const bodies = [
  { items: [{ sku: 'A', quantity: 2 }] },
  { items: [{ sku: 'A', quantity: 'two' }] },
  { items: [{ sku: 'A', quantity: 0 }] },
  { items: [{ sku: 'A', quantity: 1, surprise: true }] },
  { items: 'none' },
  {},
];

describe('lazy route validators', () => {
  it('compile nothing while the app gets ready, then each on its first request', async () => {
    const v = lazyValidators();
    const a = app(v);
    await a.ready();
    expect(v.pending()).toBe(2);
    const r = await a.inject({ method: 'PUT', url: '/cart', payload: bodies[0] });
    expect(r.statusCode).toBe(200);
    expect(v.pending()).toBe(1);
    await a.close();
  });

  it('answer every body as fastify’s own compiler does: status, message and the validation errors', async () => {
    const lazy = app(lazyValidators());
    const eager = app();
    for (const payload of bodies) {
      const [l, e] = await Promise.all([lazy.inject({ method: 'PUT', url: '/cart', payload }), eager.inject({ method: 'PUT', url: '/cart', payload })]);
      expect(l.statusCode, JSON.stringify(payload)).toBe(e.statusCode);
      expect(l.json()).toEqual(e.json());
    }
    const bad = await lazy.inject({ method: 'PUT', url: '/cart', payload: bodies[1] });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toMatch(/body\/items\/0\/quantity must be integer/);
    await Promise.all([lazy.close(), eager.close()]);
  });

  it('warm() compiles the rest, one per event-loop turn', async () => {
    const v = lazyValidators();
    const a = app(v);
    await a.ready();
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    await v.warm();
    clearInterval(ticker);
    expect(v.pending()).toBe(0);
    expect(turns).toBeGreaterThanOrEqual(1);
    const r = await a.inject({ method: 'POST', url: '/other', payload: { n: 'x' } });
    expect(r.statusCode).toBe(400);
    await a.close();
  });

  it('a schema that breaks its meta-schema is still refused (when its route is first compiled)', async () => {
    const v = lazyValidators();
    const a = Fastify({ logger: false, ajv: AJV, schemaController: { compilersFactory: { buildValidator: v.buildValidator } } });
    a.put('/broken', { schema: { body: { type: 'object', properties: { n: { type: 'nonsense' } } } } }, async () => ({ ok: true }));
    await a.ready();
    await expect(v.warm()).rejects.toThrow(/schema is invalid|type/);
    await a.close();
  });
});
