/**
 * The Management API client on an injected clock and network: a token bucket per endpoint never lets more than
 * the rate into any second, a 429's Retry-After is waited out before the endpoint is asked again, 5xx and network
 * errors are retried with backoff, other 4xx are not, and no error carries the key. No sleeping: ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { EndpointLimiter, TokenBucket } from '../../src/headoffice/rate-limit.js';
import { ManagementClient, retryAfterMs, type HttpAnswer, type HttpGet } from '../../src/headoffice/mgmt-client.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { Writable } from 'node:stream';
import { parseCsv } from '../../src/headoffice/csv.js';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

/** Advances the clock 1 ms at a time, letting promises settle, until `done()` or `maxMs`. */
async function run(clock: ManualClock, done: () => boolean, maxMs = 60_000): Promise<void> {
  for (let t = 0; t < maxMs && !done(); t++) {
    for (let i = 0; i < 5; i++) await Promise.resolve();
    clock.advance(1);
  }
}

function maxInWindow(times: number[], windowMs = 1000): number {
  let best = 0;
  for (let i = 0; i < times.length; i++) {
    const inWin = times.filter((t) => t > (times[i] as number) - windowMs && t <= (times[i] as number)).length;
    best = Math.max(best, inWin);
  }
  return best;
}

const answer = (status: number, text = '{}', headers: Record<string, string> = {}): HttpAnswer => ({ status, text, header: (n) => headers[n.toLowerCase()] ?? null });

describe('token bucket per endpoint', () => {
  it('lets at most 3 requests into any second, first come first served', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ ratePerSec: 3 }, clock);
    const at: number[] = [];
    for (let i = 0; i < 12; i++) void b.take().then((done) => (at.push(clock.monotonic()), done()));
    await run(clock, () => at.length === 12);
    expect(at).toHaveLength(12);
    expect(maxInWindow(at)).toBe(3);
    // Close to the rate: 12 requests in about 11 intervals of 1000/3 ms (+ the margin).
    expect(at[11]).toBeLessThan(11 * 350);
    for (let i = 1; i < at.length; i++) expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(343);
  });

  it('gives the token back 1000/rate ms after the answer, so a slow answer cannot bunch the next requests', async () => {
    const clock = new ManualClock();
    const b = new TokenBucket({ ratePerSec: 3 }, clock);
    const at: number[] = [];
    for (let i = 0; i < 3; i++) {
      void b.take().then((done) => {
        at.push(clock.monotonic());
        // The first answer takes 500 ms (Talon.One busy, or this process paused); the others are instant.
        if (i === 0) void clock.sleep(500).then(done);
        else done();
      });
    }
    await run(clock, () => at.length === 3);
    expect(at[1]).toBeGreaterThanOrEqual(500 + 343);
    expect((at[2] as number) - (at[1] as number)).toBeGreaterThanOrEqual(343);
  });

  it('keeps endpoints apart, and blocks one for a Retry-After', async () => {
    const clock = new ManualClock();
    const l = new EndpointLimiter({ ratePerSec: 3 }, clock);
    const a: number[] = [];
    const b: number[] = [];
    l.bucket('A').blockFor(2000);
    for (let i = 0; i < 3; i++) {
      void l.bucket('A').take().then((done) => (a.push(clock.monotonic()), done()));
      void l.bucket('B').take().then((done) => (b.push(clock.monotonic()), done()));
    }
    await run(clock, () => a.length === 3 && b.length === 3);
    expect(b[0]).toBeLessThan(5); // not held by A's block
    expect(a[0]).toBeGreaterThanOrEqual(2000);
  });
});

describe('Management API client', () => {
  function client(get: HttpGet, clock: ManualClock, attempts = 4) {
    return new ManagementClient({ baseUrl: 'https://acme.example.talon.one', key: 'SECRET-KEY-123', limiter: new EndpointLimiter({ ratePerSec: 3 }, clock), clock, retry: { attempts, baseMs: 100, maxMs: 1000 }, timeoutMs: 5000, log: quiet, get, random: () => 0.5 });
  }

  it('waits out a 429 with Retry-After before asking that endpoint again', async () => {
    const clock = new ManualClock();
    const sent: number[] = [];
    const get: HttpGet = async (url, headers) => {
      expect(headers.authorization).toBe('ManagementKey-v1 SECRET-KEY-123');
      expect(url).toBe('https://acme.example.talon.one/v1/applications/1');
      sent.push(clock.monotonic());
      return sent.length === 1 ? answer(429, '{}', { 'retry-after': '2' }) : answer(200, '{"id":1}');
    };
    const c = client(get, clock);
    let got: unknown;
    void c.json('E', '/v1/applications/1').then((v) => (got = v));
    await run(clock, () => got !== undefined);
    expect(got).toEqual({ id: 1 });
    expect(sent).toHaveLength(2);
    expect((sent[1] as number) - (sent[0] as number)).toBeGreaterThanOrEqual(2000);
    expect(c.stats()['E']).toMatchObject({ requests: 2, rateLimited: 1 });
  });

  it('retries 5xx and network errors with backoff, gives up after the attempts, never retries a 401, never names the key', async () => {
    const clock = new ManualClock();
    let n = 0;
    const flaky: HttpGet = async () => {
      n++;
      if (n === 1) throw Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET' } });
      return n < 3 ? answer(503) : answer(200, '[]');
    };
    let got: unknown;
    void client(flaky, clock).json('E', '/x').then((v) => (got = v));
    await run(clock, () => got !== undefined);
    expect(n).toBe(3);

    let calls = 0;
    const down: HttpGet = async () => (calls++, answer(502));
    let err = undefined as Error | undefined;
    void client(down, clock, 3).json('E', '/x').catch((e: Error) => (err = e));
    await run(clock, () => err !== undefined);
    expect(calls).toBe(3);
    expect(err).toMatchObject({ code: 'SG_ERR_UPSTREAM_UNAVAILABLE', retryable: true });

    calls = 0;
    const refused: HttpGet = async () => (calls++, answer(401, '{"message":"Invalid management key"}'));
    let err401 = undefined as Error | undefined;
    void client(refused, clock).json('E', '/x').catch((e: Error) => (err401 = e));
    await run(clock, () => err401 !== undefined);
    expect(calls).toBe(1);
    expect(err401?.message).toMatch(/401.*Invalid management key.*talon.managementKeyFile/);
    expect(JSON.stringify(err401) + String(err401?.message)).not.toContain('SECRET-KEY-123');
  });

  it('pages through totalResultSize and hasMore lists, saying where each next page starts', async () => {
    const clock = new ManualClock();
    const items = Array.from({ length: 5 }, (_, i) => ({ id: i }));
    const get: HttpGet = async (url) => {
      const u = new URL(url);
      const skip = Number(u.searchParams.get('skip'));
      const size = Number(u.searchParams.get('pageSize'));
      const data = items.slice(skip, skip + size);
      return answer(200, JSON.stringify(u.pathname === '/a' ? { totalResultSize: items.length, data } : { hasMore: skip + size < items.length, data }));
    };
    const c = client(get, clock);
    for (const p of ['/a', '/b']) {
      const pages: { skip: number; next: number | null; n: number }[] = [];
      const done = (async () => {
        for await (const pg of c.pages<{ id: number }>('E' + p, p, {}, 2, 0)) pages.push({ skip: pg.skip, next: pg.next, n: pg.items.length });
      })();
      let finished = false;
      void done.then(() => (finished = true));
      await run(clock, () => finished);
      expect(pages).toEqual([{ skip: 0, next: 2, n: 2 }, { skip: 2, next: 4, n: 2 }, { skip: 4, next: null, n: 1 }]);
    }
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('3', 0)).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(retryAfterMs(null, 0)).toBeNull();
    expect(retryAfterMs('soon', 0)).toBeNull();
  });
});

describe('CSV exports', () => {
  it('reads RFC 4180: quoted fields with commas, quotes and line breaks, CRLF', () => {
    const rows = parseCsv('loyaltyProgramID,profileIntegrationID,currentBalance\r\n40,"a,b",10.00\r\n40,"say ""hi""\nthere",2\r\n\r\n');
    expect(rows).toEqual([
      { loyaltyProgramID: '40', profileIntegrationID: 'a,b', currentBalance: '10.00' },
      { loyaltyProgramID: '40', profileIntegrationID: 'say "hi"\nthere', currentBalance: '2' },
    ]);
  });

  it('refuses an export cut inside a quoted field rather than reading half of it', () => {
    expect(() => parseCsv('loyaltyProgramID,profileIntegrationID,currentBalance\r\n40,"a,b')).toThrow();
  });
});
