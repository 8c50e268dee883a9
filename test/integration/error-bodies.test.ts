/**
 * Every error answer names its cause (issue: "error bodies miss their codes"): Talon.One's shape, at least one
 * entry, each entry titled with a stable `SG_ERR_…` code and a sentence a person understands in `details` —
 * for answers storegate's own routes give and for those the framework gives before any route runs.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startGateway, terminalHeaders, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({ mode: 'offline' });
});
afterAll(async () => {
  await gw?.stop();
});

interface Body {
  message: string;
  errors: { title: string; details?: string; source: Record<string, string> }[];
}

async function call(method: string, route: string, headers: Record<string, string>, body?: string) {
  const res = await fetch(gw.url + route, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: (await res.json()) as Body };
}

/** Each entry has a code and a sentence (not a bare schema keyword, not empty). */
function expectExplained(b: Body, code: string): void {
  expect(b.errors.length).toBeGreaterThan(0);
  expect(typeof b.message).toBe('string');
  for (const e of b.errors) {
    expect(e.title).toMatch(/^SG_ERR_[A-Z_]+$/);
    expect(e.details ?? '').toMatch(/\w+ \w+/); // words, not one keyword
  }
  expect(b.errors[0]?.title).toBe(code);
}

const json = { 'content-type': 'application/json' };
const term = { ...terminalHeaders('T1'), ...json };

describe('error bodies carry their code', () => {
  it('an unknown route', async () => {
    const r = await call('GET', '/v2/nowhere', term);
    expect(r.status).toBe(404);
    expectExplained(r.body, 'SG_ERR_NO_ROUTE');
  });

  it('an admin route without the token, and with a wrong one', async () => {
    const none = await call('GET', '/status', {});
    expect(none.status).toBe(401);
    expectExplained(none.body, 'SG_ERR_UNAUTHORIZED');
    const wrong = await call('GET', '/status', { authorization: 'Bearer nope' });
    expectExplained(wrong.body, 'SG_ERR_UNAUTHORIZED');
  });

  it('a terminal route without a token', async () => {
    const r = await call('PUT', '/v2/customer_sessions/s1', json, '{"customerSession":{}}');
    expect(r.status).toBe(401);
    expectExplained(r.body, 'SG_ERR_UNAUTHORIZED');
  });

  it('a body that is not JSON (415) and JSON that does not parse (400)', async () => {
    const media = await call('PUT', '/v2/customer_sessions/s1', { ...terminalHeaders('T1'), 'content-type': 'application/xml' }, '<a/>');
    expect(media.status).toBe(415);
    expectExplained(media.body, 'SG_ERR_MEDIA_TYPE');
    const broken = await call('PUT', '/v2/customer_sessions/s1', term, '{"customerSession":');
    expect(broken.status).toBe(400);
    expectExplained(broken.body, 'SG_ERR_MALFORMED_JSON');
  });

  it('a body that fails the schema names the field and the rule', async () => {
    const r = await call('PUT', '/v2/customer_sessions/s1', term, JSON.stringify({ customerSession: { cartItems: [{ sku: 'A', quantity: 'two', price: 1 }] } }));
    expect(r.status).toBe(400);
    expectExplained(r.body, 'SG_ERR_VALIDATION');
    expect(r.body.errors[0]?.source.pointer).toBe('/customerSession/cartItems/0/quantity');
    expect(r.body.errors[0]?.details).toMatch(/cartItems\/0\/quantity/);
    const extra = await call('PUT', '/v2/customer_sessions/s1', term, JSON.stringify({ customerSession: {}, surprise: 1 }));
    expectExplained(extra.body, 'SG_ERR_VALIDATION');
    expect(extra.body.errors[0]?.details).toMatch(/surprise/);
  });

  it('a body over the size limit', async () => {
    const r = await call('PUT', '/v2/customer_sessions/s1', term, JSON.stringify({ customerSession: { attributes: { pad: 'x'.repeat(1_100_000) } } }));
    expect(r.status).toBe(413);
    expectExplained(r.body, 'SG_ERR_BODY_TOO_LARGE');
  });

  it('an unknown data kind', async () => {
    const r = await call('PUT', '/admin/data/widgets', { authorization: `Bearer ${ADMIN_TOKEN}`, ...json }, '{}');
    expect(r.status).toBe(404);
    expectExplained(r.body, 'SG_ERR_NOT_FOUND');
    expect(r.body.errors[0]?.details).toMatch(/rules, prices, coupons, loyalty, catalog or collections/);
  });

  it('more cart lines than a local answer takes', async () => {
    const cartItems = Array.from({ length: 1001 }, (_, i) => ({ sku: `S${i}`, quantity: 1, price: 1 }));
    const r = await call('PUT', '/v2/customer_sessions/big', term, JSON.stringify({ customerSession: { cartItems } }));
    expect(r.status).toBe(400);
    expectExplained(r.body, 'SG_ERR_CART_TOO_LARGE');
    expect(r.body.errors[0]?.details).toMatch(/1,?000/);
  });

  it('HTTP the parser refuses', async () => {
    const port = Number(new URL(gw.url).port);
    const text = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GARBAGE / HTTP/1.1\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Body;
    expectExplained(body, 'SG_ERR_BAD_HTTP');
  });
});
