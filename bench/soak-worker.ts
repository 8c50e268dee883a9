/**
 * The soak benchmark's worker (bench/soak.ts starts it, bundled like the daemon and with the daemon's runtime
 * settings): a real Gateway in process with the week's clock injected, driven by the simulated terminals.
 */
import { writeFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { Gateway } from '../src/gateway/gateway.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/telemetry/logger.js';
import { sha256Hex } from '../src/http/auth.js';
import { systemClock, type Clock } from '../src/platform/clock.js';
import { printTable, verdict, type Cell } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = 'bench-soak-admin-token-0123456789';
const HOUR = 3600_000;
const DAY = 24 * HOUR;
const OPEN_AT = 7 * HOUR;
const CLOSE_AT = 22 * HOUR;
/** Talon.One is unreachable from this offset, for 6 hours, every 12 hours. */
const OFFLINE_FROM = 2.5 * HOUR;
const START = Date.parse('2026-03-02T00:00:00Z'); // a Monday
const RSS_TARGET_MB = 120;
const MiB = 1024 * 1024;

function arg(args: string[], name: string, dflt: number): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : dflt;
}

function strArg(args: string[], name: string): string {
  const i = args.indexOf(name);
  const v = i >= 0 ? args[i + 1] : undefined;
  if (!v) throw new Error(`soak worker: ${name} missing`);
  return v;
}

/** PUT of a JSON body with node:http (fetch would load a second HTTP client into the measured process). */
function put(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'PUT', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Simulated wall time moved by the driver; monotonic time and timers are real. */
class SoakClock implements Clock {
  #now: number;
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  /** Moves forward only (terminals running concurrently ask for their own session's start). */
  advanceTo(ms: number): void {
    if (ms > this.#now) this.#now = ms;
  }
  monotonic(): number {
    return performance.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

/** mulberry32: a small seeded generator, so every run drives the same week. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CATEGORIES = ['Kitchen', 'Shoes', 'Food', 'Drinks', 'Garden', 'Toys'];
function cartLine(r: () => number): Record<string, unknown> {
  const n = Math.floor(r() * 2000);
  return { sku: n < 4 ? ['PAN-24', 'SKU-COFFEE', 'SHOE-1', 'SHOE-2'][n] : `SKU-${n}`, name: `Item ${n}`, quantity: 1 + Math.floor(r() * 3), price: Math.round((1 + r() * 40) * 100) / 100, category: CATEGORIES[n % CATEGORIES.length] };
}

/** Sum of allocated bytes under `dir` (what `du` counts), and the largest entries by top-level name. */
async function dirSize(dir: string): Promise<{ total: number; parts: Record<string, number> }> {
  const parts: Record<string, number> = {};
  let total = 0;
  const walk = async (d: string, top: string | null): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(d, name);
      let st;
      try {
        st = await stat(p);
      } catch {
        continue; // removed meanwhile (a delivered segment, a compacted log)
      }
      const key = top ?? name;
      if (st.isDirectory()) await walk(p, top ?? name);
      else {
        const bytes = st.blocks * 512;
        total += bytes;
        parts[key] = (parts[key] ?? 0) + bytes;
      }
    }
  };
  await walk(dir, null);
  return { total, parts };
}

interface Row {
  label: string;
  sim: string;
  sessions: number;
  rss: number;
  peak: number;
  heap: number;
  heapTotal: number;
  external: number;
  data: number;
  parts: Record<string, number>;
  sizes: Record<string, number>;
}

async function worker(args: string[]): Promise<void> {
  const API_KEY = strArg(args, '--api-key');
  const quick = args.includes('--quick');
  const dir = strArg(args, '--dir');
  const emuUrl = strArg(args, '--emu');
  const emuAdmin = strArg(args, '--emu-admin');
  const total = arg(args, '--sessions', 200_000);
  const days = arg(args, '--days', 7);
  const nTerminals = arg(args, '--terminals', 50);
  const drainMaxMs = quick ? 30_000 : 120_000;
  const perDay = Math.ceil(total / days);
  const spacing = (CLOSE_AT - OPEN_AT) / perDay;

  // Coupons: the sample rules' coupon campaign (102) with the codes the emulator's campaigns also hold.
  const coupons = [
    { id: 9101, value: 'FREE2', campaignId: 102, usageLimit: 0, usageCounter: 0, attributes: {} },
    { id: 9102, value: 'MULTI10', campaignId: 102, usageLimit: 1000, usageCounter: 0, attributes: {} },
    ...Array.from({ length: 1000 }, (_, i) => ({ id: 10_001 + i, value: `ONCE-${String(i + 1).padStart(4, '0')}`, campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} })),
  ];
  writeFileSync(path.join(dir, 'coupons.json'), JSON.stringify({ version: 1, full: true, coupons }));
  const tokens = Array.from({ length: nTerminals }, (_, i) => ({ id: `T${String(i + 1).padStart(2, '0')}`, token: `soak-terminal-token-${i}-0123456789` }));
  const sample = (f: string) => path.join(ROOT, 'config', f);
  const configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      store: { integrationId: 'store-042', attributes: { region: 'north' } },
      mode: 'connected',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port: 0 },
      adminToken: ADMIN,
      terminals: tokens.map((t) => ({ id: t.id, tokenSha256: sha256Hex(t.token) })),
      upstream: { baseUrl: emuUrl, apiKey: API_KEY },
      dataFiles: { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: path.join(dir, 'coupons.json'), loyalty: sample('sample-loyalty.json') },
      log: { level: 'info' },
    }),
  );

  // Log lines are produced (the daemon writes one per request) but not kept: a few warnings for the report.
  let logBytes = 0;
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logBytes += chunk.length;
      for (const line of chunk.toString().split('\n')) {
        if (line.includes('"level":40') || line.includes('"level":50') || line.includes('"level":60')) {
          if (warnings.length < 200) warnings.push(line.slice(0, 400));
        }
      }
      cb();
    },
  });
  const loaded = await loadConfig({ configPath: configFile, env: {} });
  const clock = new SoakClock(START);
  const gateway = new Gateway({ loaded, log: createLogger(loaded.config.log.level, sink), clock, probeIntervalMs: 1000 });
  await gateway.start();
  const app = gateway.app;
  if (!app) throw new Error('no app');

  // Memory sampled every 200 ms of real time: the peak between two rows.
  let peak = 0;
  let peakHeap = 0;
  let maxRss = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peak = Math.max(peak, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    maxRss = Math.max(maxRss, m.rss);
  }, 200);
  sampler.unref();

  const rows: Row[] = [];
  let done = 0;
  const measure = async (label: string): Promise<void> => {
    const m = process.memoryUsage();
    const d = await dirSize(path.join(dir, 'var'));
    const t = new Date(clock.now());
    const day = Math.floor((clock.now() - START) / DAY);
    rows.push({
      label,
      sim: `day ${day + 1} ${t.toISOString().slice(11, 16)}`,
      sessions: done,
      rss: m.rss / MiB,
      peak: Math.max(peak, m.rss) / MiB,
      heap: m.heapUsed / MiB,
      heapTotal: m.heapTotal / MiB,
      external: (m.external + m.arrayBuffers) / MiB,
      data: d.total / MiB,
      parts: d.parts,
      sizes: gateway.stateSizes(),
    });
    peak = 0;
    peakHeap = 0;
  };

  // Talon.One's reachability follows the simulated clock.
  let offline = false;
  let toggling: Promise<void> = Promise.resolve();
  const shouldBeOffline = (t: number) => ((((t - START - OFFLINE_FROM) % (12 * HOUR)) + 12 * HOUR) % (12 * HOUR)) < 6 * HOUR;
  const setPhase = (t: number): Promise<void> => {
    const want = shouldBeOffline(t);
    if (want === offline) return toggling;
    offline = want;
    toggling = toggling.then(async () => {
      const status = await put(`${emuAdmin}/_emulator/faults`, want ? { refuse: true } : {});
      if (status !== 200) throw new Error(`emulator faults: HTTP ${status}`);
    });
    return toggling;
  };
  await setPhase(clock.now());

  const statuses = new Map<string, number>();
  const count = (op: string, status: number) => {
    const k = `${op} ${status}`;
    statuses.set(k, (statuses.get(k) ?? 0) + 1);
  };
  const call = async (t: (typeof tokens)[number], op: string, method: 'PUT' | 'POST' | 'GET', url: string, body?: unknown, idem?: string): Promise<{ status: number; source: string }> => {
    const res = await app.inject({
      method,
      url,
      headers: { authorization: `ApiKey-v1 ${t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(idem ? { 'idempotency-key': idem } : {}) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    count(`${op} ${String(res.headers['x-storegate-source'] ?? '?')}`, res.statusCode);
    return { status: res.statusCode, source: String(res.headers['x-storegate-source'] ?? '') };
  };

  // The dispenser hands out sessions in time order; crossing 22:00 waits for the day's sessions, then the night.
  let next = 0;
  let active = 0;
  let currentDay = 0;
  let night: Promise<void> | null = null;
  let idleWaiters: (() => void)[] = [];
  const drains: { day: number; ms: number; left: number }[] = [];
  const timeOf = (i: number) => START + Math.floor(i / perDay) * DAY + OPEN_AT + (i % perDay) * spacing;
  const runNight = async (day: number): Promise<void> => {
    while (active > 0) await new Promise<void>((r) => idleWaiters.push(r));
    clock.advanceTo(START + day * DAY + CLOSE_AT);
    await setPhase(clock.now());
    const t0 = performance.now();
    while (performance.now() - t0 < drainMaxMs && (gateway.journal?.stats().depth ?? 0) > 0) await new Promise((r) => setTimeout(r, 100));
    drains.push({ day: day + 1, ms: performance.now() - t0, left: gateway.journal?.stats().depth ?? 0 });
    await measure(`end of day ${day + 1}`);
  };
  const dispense = async (): Promise<{ i: number; t: number } | null> => {
    for (;;) {
      if (night) await night;
      if (next >= total) return null;
      const t = timeOf(next);
      const day = Math.floor((t - START) / DAY);
      if (day > currentDay) {
        if (!night) {
          const from = currentDay;
          night = runNight(from).then(() => {
            currentDay = day;
            night = null;
          });
        }
        continue;
      }
      const i = next++;
      active++;
      clock.advanceTo(t);
      if (i === Math.floor(total / 2)) void measure('middle');
      await setPhase(t);
      return { i, t };
    }
  };

  const recent: string[][] = tokens.map(() => []);
  const t0 = performance.now();
  let lastReport = t0;
  const terminal = async (w: number): Promise<void> => {
    const term = tokens[w] as (typeof tokens)[number];
    for (;;) {
      const s = await dispense();
      if (!s) return;
      try {
        const r = prng(s.i * 7919 + 17);
        const id = `S-${s.i}`;
        const profileId = r() < 0.65 ? `cust-${Math.floor(r() * 120_000)}` : '';
        if (profileId && r() < 0.1) await call(term, 'updateProfile', 'PUT', `/v2/customer_profiles/${profileId}`, { attributes: { tier: r() < 0.2 ? 'gold' : 'silver', visits: s.i % 50 } });
        if (profileId && r() < 0.05) await call(term, 'trackEvent', 'POST', '/v2/events', { profileId, type: 'store_visit', attributes: {} });
        if (profileId && r() < 0.02) await call(term, 'balances', 'GET', `/v1/loyalty_programs/1/profile/${profileId}/balances`);
        const mine = recent[w] as string[];
        if (mine.length > 0 && r() < 0.02) {
          const prev = mine[Math.floor(r() * mine.length)] as string;
          await call(term, 'return', 'POST', `/v2/customer_sessions/${prev}/returns`, { return: { returnedCartItems: [{ position: 0, quantity: 1 }] } });
        }
        const x = r();
        const coupon = x < 0.24 ? 'FREE2' : x < 0.28 ? 'MULTI10' : x < 0.3 ? `ONCE-${String(1 + Math.floor(r() * 1000)).padStart(4, '0')}` : null;
        const steps = 1 + Math.floor(r() * 4);
        const end = r();
        const finalState = end < 0.005 ? 'cancelled' : end < 0.01 ? null : 'closed';
        const cart: Record<string, unknown>[] = [];
        for (let step = 1; step <= steps; step++) {
          const lines = 1 + Math.floor(r() * 3);
          for (let l = 0; l < lines; l++) cart.push(cartLine(r));
          const last = step === steps;
          const customerSession: Record<string, unknown> = { cartItems: cart, ...(profileId ? { profileId } : {}) };
          if (coupon && step >= Math.min(2, steps)) customerSession.couponCodes = [coupon];
          if (last && finalState) customerSession.state = finalState;
          const body = { customerSession, responseContent: ['customerSession', 'customerProfile'] };
          const idem = last && finalState ? `close-${id}` : undefined;
          await call(term, last && finalState ? 'close' : 'update', 'PUT', `/v2/customer_sessions/${id}`, body, idem);
          if (idem && r() < 0.01) await call(term, 'close-retry', 'PUT', `/v2/customer_sessions/${id}`, body, idem);
        }
        if (finalState === 'closed') {
          mine.push(id);
          if (mine.length > 20) mine.shift();
        }
      } finally {
        done++;
        active--;
        if (active === 0) {
          const ws = idleWaiters;
          idleWaiters = [];
          for (const f of ws) f();
        }
      }
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        const m = process.memoryUsage();
        console.log(`soak: ${done.toLocaleString('en-US')} sessions, ${new Date(clock.now()).toISOString().slice(0, 16)} simulated, ${Math.round((performance.now() - t0) / 1000)} s, RSS ${(m.rss / MiB).toFixed(1)} MiB, heap ${(m.heapUsed / MiB).toFixed(1)} MiB, journal depth ${gateway.journal?.stats().depth ?? 0}`);
      }
    }
  };

  await measure('start');
  await Promise.all(tokens.map((_, w) => terminal(w)));
  if (night) await night;
  await runNight(currentDay);
  const wallS = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await gateway.stop();

  const mb = (v: number) => Math.round(v * 10) / 10;
  printTable(
    `soak — ${total.toLocaleString('en-US')} sessions, ${nTerminals} terminals, ${days} simulated days (${Math.round(wallS)} s wall)`,
    ['point', 'simulated', 'sessions', 'RSS MiB', 'peak RSS MiB', 'heap used MiB', 'heap total MiB', 'external MiB', 'data dir MiB', 'journal MiB', 'state MiB', 'journal depth'],
    rows.map((r): Cell[] => [r.label, r.sim, r.sessions, mb(r.rss), mb(r.peak), mb(r.heap), mb(r.heapTotal), mb(r.external), mb(r.data), mb((r.parts.journal ?? 0) / MiB), mb((r.parts.state ?? 0) / MiB), r.sizes.journalDepth ?? 0]),
  );
  const keys = ['sessions', 'sessionsCached', 'profiles', 'profilesCached', 'followed', 'ledgerUses', 'ledgerHolds', 'loyaltySpending', 'replayCache', 'reconciliation', 'deadLetters'];
  printTable('what the state keeps (entries; sessions, profiles and replay answers are indexed in memory and kept on disk, the *Cached ones parsed in memory)', ['point', ...keys], rows.map((r): Cell[] => [r.label, ...keys.map((k) => r.sizes[k] ?? 0)]));
  printTable(
    'night drains (Talon.One reachable, terminals idle)',
    ['day', 'drain s', 'records left'],
    drains.map((d): Cell[] => [d.day, Math.round(d.ms / 100) / 10, d.left]),
  );
  printTable('calls (op, answer source, HTTP status)', ['call', 'count'], [...statuses].sort().map(([k, v]): Cell[] => [k, v]));

  const last = rows[rows.length - 1] as Row;
  const mid = rows.find((r) => r.label === 'middle') ?? last;
  const maxMb = maxRss / MiB;
  const fourth = rows.find((r) => r.label === `end of day ${Math.min(days, 4)}`) ?? mid;
  // What the retention bounds: everything but the journal (sessions, profiles, replay answers, ledger, logs, the
  // disk reserve) must stop growing once the oldest days are dropped. The journal is bounded by what is still
  // undelivered plus the active segment (64 MiB), whatever the number of sessions.
  const stateOf = (r: Row) => r.data - (r.parts.journal ?? 0) / MiB;
  const grows = stateOf(last) > stateOf(fourth) * 1.25 + 8;
  const journalMax = Math.max(...rows.map((r) => (r.parts.journal ?? 0) / MiB));
  printTable('targets', ['target', 'measured', 'verdict'], [
    [`RSS ≤ ${RSS_TARGET_MB} MB throughout (sampled every 200 ms)`, `max ${mb(maxMb)} MiB (middle ${mb(mid.rss)}, end ${mb(last.rss)})`, verdict(maxMb <= RSS_TARGET_MB)],
    [
      'data dir bounded by the retention, not by the sessions: all but the journal',
      `${mb(stateOf(fourth))} MiB after day ${Math.min(days, 4)} (${fourth.sessions.toLocaleString('en-US')} sessions), ${mb(stateOf(last))} MiB at the end (${last.sessions.toLocaleString('en-US')})`,
      verdict(!grows),
    ],
    ['journal ≤ two 64 MiB segments at every point (the backlog plus the active segment)', `max ${mb(journalMax)} MiB`, verdict(journalMax <= 128)],
  ]);
  const fivexx = [...statuses].filter(([k]) => / 5\d\d$/.test(k)).reduce((a, [, v]) => a + v, 0);
  console.log(`log: ${(logBytes / MiB).toFixed(1)} MiB of log lines; ${warnings.length} warnings/errors${warnings.length ? ` (first: ${warnings[0]})` : ''}; ${fivexx} answers 5xx`);
}

worker(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
