/**
 * `npm run bench -- flush [--sessions N] [--concurrency 4,8,16] [--lines 20]`: how fast the flusher drains
 * a journal backlog to the Talon.One emulator (a separate process, loopback HTTP), in sessions/s, with
 * `journal.flushConcurrency` 4, 8 and 16; beside a baseline that sends the same requests straight to the
 * emulator with the same concurrency (no journal, no flusher). Each session is one `updateSession` record
 * with a 20-line cart, closed. Target: ≥ 500 sessions/s. Journal files go to `.bench-tmp/` (git-ignored)
 * and are removed afterwards. Bounded: each drain stops after 120 s.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { type UpdateSessionRecord, sessionKey, upstreamBody, upstreamRoute } from '../src/checkout/records.js';
import { Flusher } from '../src/delivery/flusher.js';
import { DeadLetterStore } from '../src/delivery/dead-letter-store.js';
import { Journal } from '../src/journal/index.js';
import { ReconciliationLog } from '../src/delivery/reconciliation.js';
import { systemClock } from '../src/platform/clock.js';
import { Metrics } from '../src/telemetry/metrics.js';
import { UpstreamClient, type UpstreamCall } from '../src/upstream/client.js';
import { freePort, spawnTs, waitForHttp } from './procs.js';
import { printTable, summarize, verdict, type Cell } from './report.js';

const API_KEY = 'bench-flush-key-0123456789';
const TARGET_PER_SEC = 500;
const DRAIN_TIMEOUT_MS = 120_000;
const silent = pino({ level: 'silent' });

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function record(sessionId: string, lines: number, n: number): UpdateSessionRecord {
  const cartItems = Array.from({ length: lines }, (_, i) => ({
    sku: `SKU-${(n * 31 + i) % 5000}`, name: `Item ${i}`, quantity: 1 + (i % 3), price: 1.5 + (i % 7), category: i % 4 === 0 ? 'Drinks' : 'food',
  }));
  const t = new Date().toISOString();
  return {
    kind: 'updateSession', terminalId: `T${n % 4}`, query: '', sessionId,
    body: { customerSession: { profileId: '', storeIntegrationId: 'store-bench', cartItems, state: 'closed' }, responseContent: ['customerSession'] },
    state: 'closed', local: { effects: [], acceptedCoupons: [], loyaltyPoints: {} },
    meta: { created: t, updated: t, updateCount: 1 }, ledgerOps: [], loyaltyOps: [],
  };
}

function client(url: string, connections: number): UpstreamClient {
  return new UpstreamClient({
    baseUrl: url, apiKey: API_KEY, timeoutMs: 5000, connections,
    retry: { attempts: 1, baseMs: 50, maxMs: 1000 }, clock: systemClock, log: silent, metrics: new Metrics({ defaultMetrics: false }),
  });
}

/** Times every upstream call made through `c` (same measurement for the flusher and the baseline). */
function timed(c: UpstreamClient, lat: number[]): void {
  const orig = c.request.bind(c);
  c.request = async (call: UpstreamCall) => {
    const t0 = performance.now();
    try {
      return await orig(call);
    } finally {
      lat.push(performance.now() - t0);
    }
  };
}

async function resetEmulator(url: string): Promise<void> {
  await fetch(`${url}/_emulator/reset`, { method: 'POST' });
}

interface Row { name: string; c: number; n: number; ms: number; lat: number[]; note: string }

async function drainWithFlusher(url: string, dir: string, c: number, sessions: number, lines: number): Promise<Row> {
  await rm(dir, { recursive: true, force: true });
  const journal = await Journal.open({ dir, maxBytes: 2 * 1024 ** 3, clock: systemClock });
  let n = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    for (let i = n++; i < sessions; i = n++) {
      const r = record(`flush-c${c}-${i}`, lines, i);
      await journal.append({ key: sessionKey(r.sessionId), kind: r.kind, payload: r });
    }
  }));
  const up = client(url, c);
  const lat: number[] = [];
  timed(up, lat);
  const reconciliation = new ReconciliationLog({ file: join(dir, 'reconciliation.log') });
  await reconciliation.start();
  const deadLetters = await DeadLetterStore.open(join(dir, 'dead-letters.log'));
  const flusher = new Flusher({ journal, upstream: up, clock: systemClock, log: silent, concurrency: c, reconciliation, deadLetters, retry: { baseMs: 50, maxMs: 1000 } });
  const t0 = performance.now();
  const report = await flusher.flushNow({ timeoutMs: DRAIN_TIMEOUT_MS });
  const ms = performance.now() - t0;
  await flusher.stop();
  const depth = journal.stats().depth;
  await journal.close();
  await up.close();
  await rm(dir, { recursive: true, force: true });
  const note = report.deadLettered || depth || report.timedOut
    ? `delivered ${report.delivered}, dead ${report.deadLettered}, left ${depth}${report.timedOut ? ', TIMED OUT' : ''}`
    : `all ${report.delivered} delivered, ${report.retried} retries`;
  return { name: 'flusher (journal → emulator)', c, n: report.delivered, ms, lat, note };
}

async function baseline(url: string, c: number, sessions: number, lines: number): Promise<Row> {
  const up = client(url, c);
  const lat: number[] = [];
  timed(up, lat);
  let n = 0;
  let ok = 0;
  const t0 = performance.now();
  const deadline = t0 + DRAIN_TIMEOUT_MS;
  await Promise.all(Array.from({ length: c }, async () => {
    for (let i = n++; i < sessions && performance.now() < deadline; i = n++) {
      const r = record(`direct-c${c}-${i}`, lines, i);
      const route = upstreamRoute(r);
      const res = await up.request({ op: route.op, method: route.method, path: route.path, body: upstreamBody(r), idempotencyKey: `direct-${c}-${i}`, attempts: 1 });
      if (res.status === 200) ok++;
    }
  }));
  const ms = performance.now() - t0;
  await up.close();
  return { name: 'baseline (direct, no journal)', c, n: ok, ms, lat, note: ok === sessions ? 'all 200' : `${ok} of ${sessions} answered 200` };
}

export async function run(args: string[]): Promise<void> {
  const sessions = Math.max(1, Number(arg(args, '--sessions') ?? 10_000) || 10_000);
  const lines = Math.max(1, Math.min(1000, Number(arg(args, '--lines') ?? 20) || 20));
  const levels = (arg(args, '--concurrency') ?? '4,8,16').split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0);
  const tmp = resolve('.bench-tmp', `flush-${process.pid}`);
  await mkdir(tmp, { recursive: true });
  const port = await freePort();
  const emu = spawnTs('scripts/talon-emulator.ts', ['--port', String(port), '--api-key', API_KEY, '--no-record']);
  const url = `http://127.0.0.1:${port}`;
  const rows: Row[] = [];
  try {
    await waitForHttp(`${url}/_emulator/health`);
    for (const c of levels) {
      await resetEmulator(url);
      rows.push(await drainWithFlusher(url, join(tmp, `c${c}`), c, sessions, lines));
      await resetEmulator(url);
      rows.push(await baseline(url, c, sessions, lines));
    }
  } finally {
    await emu.stop();
    await rm(tmp, { recursive: true, force: true });
  }
  const table: Cell[][] = rows.map((r) => {
    const s = summarize(r.lat);
    const perSec = r.n / (r.ms / 1000);
    const isFlush = r.name.startsWith('flusher');
    return [r.name, r.c, r.n, Math.round(r.ms), perSec, s.p50, s.p99, isFlush ? verdict(perSec >= TARGET_PER_SEC) : '', r.note];
  });
  printTable(
    `Journal flush: ${sessions.toLocaleString('en-US')} closed sessions (${lines}-line carts) to the emulator (separate process, loopback); target ≥ ${TARGET_PER_SEC} sessions/s`,
    ['path', 'concurrency', 'sessions', 'ms', 'sessions/s', 'call p50 ms', 'call p99 ms', `≥ ${TARGET_PER_SEC}/s`, 'note'],
    table,
  );
}
