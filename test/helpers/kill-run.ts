/**
 * The promise of offline mode under `kill -9` (shared by the CI test and `npm run bench -- crash`): the gateway
 * runs as a child process (the shipped bundle) answering terminals locally under concurrent load, is killed with
 * SIGKILL at random moments and restarted each time, with Talon.One reachable in every other round (so
 * deliveries, ledger snapshots and state logs interleave with the kills); then it flushes to the Talon.One
 * emulator. Terminals share a small pool of single-use codes, so the store ledger's own answers are what is
 * checked: no code is ever accepted for two sessions, whatever the kills did. Every session update that got a
 * 2xx reaches upstream in effect, nothing unacknowledged appears twice, and the journal opens cleanly every time.
 * A violation throws, naming the session or code.
 *
 * The backlog is kept bounded: a reachable round first lets the gateway deliver until at most BACKLOG_CAP records
 * wait (no load meanwhile), then loads and kills it as every round does. Without that the rounds write more than a
 * gateway living half a second can deliver, the backlog grows by ~120 records a round, and every start replays
 * all of it (60,000 records, ~4 s a start, after 300 rounds): the run measured the backlog, not the kills.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { buildBundle, freePort, spawnGateway, waitReady as waitChildReady } from './procs.js';
import { sha256Hex } from '../../src/http/auth.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';

const KEY = 'crash-upstream-key-0123456789';
const TOKEN = 'crash-terminal-token-0123456789';
const ADMIN = 'crash-admin-token-0123456789';
/** Single-use codes shared by every terminal (fewer than the sessions of a run, so they collide). */
const POOL = Array.from({ length: 40 }, (_, i) => `ONCE-${String(i + 1).padStart(4, '0')}`);
/** Undelivered records a reachable round lets the gateway catch up to before the load (about four rounds' worth). */
const BACKLOG_CAP = 1000;
/** A reachable round whose gateway cannot get the backlog down to BACKLOG_CAP in this time fails the run. */
const DRAIN_MS = 60_000;

interface Expectation {
  /** Cart lengths acknowledged with 2xx, in order, whether the acknowledged state was closed, and whether the answer accepted the code. */
  acked: { items: number; closed: boolean; accepted: boolean }[];
  /** An update sent without an answer (the process died): it may or may not have been journaled. */
  unacked?: { items: number; closed: boolean };
  coupon: string;
}

function fail(message: string): never {
  throw new Error(message);
}

/** Where one cycle's time went (ms): spawn to /readyz, catching up (reachable rounds), load until the kill. */
export interface CycleTimes {
  ready: number;
  drain: number;
  load: number;
  total: number;
}

export interface KillRunResult {
  rounds: number;
  acknowledged: number;
  sessions: number;
  codesAcceptedAtClose: number;
  cycles: CycleTimes[];
  /** The final start: spawn to /readyz, then records flushed and the time they took. */
  finalFlush: { readyMs: number; records: number; ms: number };
}

export async function killRun(opts: { rounds: number; writers?: number; onRound?: (round: number, t: CycleTimes) => void; onFlush?: (depth: number) => void }): Promise<KillRunResult> {
  const writers = opts.writers ?? 8;
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-crash-'));
  const bundle = buildBundle(path.join(dir, 'storegate.mjs'));
  // The bundled campaigns hold the pool's single-use ONCE-nnnn codes upstream; locally the same codes belong to
  // the sample rules' welcome campaign, each usable once.
  const campaigns = JSON.parse(readFileSync(path.join(APP_DIR, 'scripts', 'talon-emulator', 'campaigns.json'), 'utf8')) as { campaigns: { batches?: { prefix: string; count: number }[] }[] };
  for (const c of campaigns.campaigns) for (const b of c.batches ?? []) if (b.prefix === 'ONCE-') b.count = Math.max(b.count, POOL.length);
  const emu = await startEmulator({ apiKey: KEY, port: 0, campaigns, maxRecorded: 2_000_000 });
  await emu.setFaults({ refuse: true });
  writeFileSync(
    path.join(dir, 'coupons.json'),
    JSON.stringify({ version: 1, full: true, coupons: POOL.map((value, i) => ({ id: 7000 + i, value, campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} })) }),
  );
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      store: { integrationId: 'store-042' },
      mode: 'offline',
      dataDir: path.join(dir, 'var'),
      http: { host: '127.0.0.1', port },
      adminToken: ADMIN,
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TOKEN) }],
      upstream: { baseUrl: emu.url, apiKey: KEY, timeoutMs: 2000 },
      journal: { flushConcurrency: 8 },
      dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json'), coupons: path.join(dir, 'coupons.json') },
      log: { level: 'warn' },
    }),
  );
  const startChild = (): ChildProcess => spawnGateway(bundle, path.join(dir, 'config.json'));
  const waitReady = (child: ChildProcess) => waitChildReady(child, port);
  const journalStatus = async () =>
    ((await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { journal: { depth: number; dead: number } }).journal;
  const sessions = new Map<string, Expectation>();
  const cycles: CycleTimes[] = [];

  /** One terminal: sessions of 1–3 updates then a close, each with a code from the shared pool, until `stop` is set. */
  async function terminal(w: number, round: number, stop: { v: boolean }): Promise<void> {
    let n = 0;
    while (!stop.v) {
      const id = `C-${round}-${w}-${n++}`;
      const coupon = POOL[Math.floor(Math.random() * POOL.length)] as string;
      const exp: Expectation = { acked: [], coupon };
      sessions.set(id, exp);
      const steps = 1 + ((w + n) % 3);
      for (let s = 1; s <= steps + 1 && !stop.v; s++) {
        const closed = s === steps + 1;
        // Over 20 EUR: the welcome campaign (102) accepts its code when the ledger allows.
        const items = Array.from({ length: Math.min(s, steps) }, (_, i) => ({ sku: `SKU-${i}`, name: `I${i}`, quantity: 1, price: 25 + i }));
        const body = { customerSession: { profileId: `P-${w}`, cartItems: items, couponCodes: [coupon], ...(closed ? { state: 'closed' } : {}) } };
        try {
          const r = await fetch(`http://127.0.0.1:${port}/v2/customer_sessions/${id}`, {
            method: 'PUT',
            headers: { authorization: `ApiKey-v1 ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(5000),
          });
          const answer = (await r.json()) as { effects?: { effectType: string; props: { value?: string } }[] };
          if (r.status !== 200) throw new Error(`unexpected ${r.status}`);
          const accepted = (answer.effects ?? []).some((e) => e.effectType === 'acceptCoupon' && e.props.value === coupon);
          exp.acked.push({ items: items.length, closed, accepted });
        } catch {
          exp.unacked = { items: items.length, closed };
          return; // the process is gone: abandon this session, start fresh after the restart
        }
      }
    }
  }

  try {
    for (let round = 0; round < opts.rounds; round++) {
      const reachable = round % 2 === 1; // reachable in odd rounds: deliveries between kills
      await emu.setFaults(reachable ? {} : { refuse: true });
      const t0 = performance.now();
      const child = startChild();
      await waitReady(child); // the journal opened cleanly (a failed recovery exits non-zero)
      const t1 = performance.now();
      if (reachable) {
        for (let depth = (await journalStatus()).depth; depth > BACKLOG_CAP; depth = (await journalStatus()).depth) {
          if (performance.now() - t1 > DRAIN_MS) fail(`round ${round}: ${depth} records still undelivered after ${DRAIN_MS / 1000} s with Talon.One reachable`);
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      const t2 = performance.now();
      const stop = { v: false };
      const load = Promise.all(Array.from({ length: writers }, (_, w) => terminal(w, round, stop)));
      await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 500)));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      stop.v = true;
      await load;
      const t3 = performance.now();
      const t = { ready: t1 - t0, drain: t2 - t1, load: t3 - t2, total: t3 - t0 };
      cycles.push(t);
      opts.onRound?.(round, t);
    }

    // Final run: the upstream is back; the gateway flushes everything.
    await emu.setFaults({});
    const f0 = performance.now();
    const child = startChild();
    const finalFlush = { readyMs: 0, records: 0, ms: 0 };
    try {
      await waitReady(child);
      const f1 = performance.now();
      finalFlush.readyMs = f1 - f0;
      // The backlog is at most BACKLOG_CAP plus the last rounds' records; the time allowed still grows with the rounds.
      const end = Date.now() + Math.max(120_000, opts.rounds * 3000);
      let lastReport = Date.now();
      for (;;) {
        const j = await journalStatus();
        finalFlush.records = Math.max(finalFlush.records, j.depth);
        if (Date.now() - lastReport > 10_000) {
          opts.onFlush?.(j.depth);
          lastReport = Date.now();
        }
        if (j.depth === 0) {
          if (j.dead !== 0) fail(`${j.dead} dead letters after the final flush`);
          break;
        }
        if (Date.now() > end) fail(`flush did not finish: ${JSON.stringify(j)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      finalFlush.ms = performance.now() - f1;
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }

    let acknowledged = 0;
    const holders = new Map<string, string[]>();
    for (const [id, exp] of sessions) {
      const up = emu.getSession(id)?.customerSession as { cartItems: unknown[]; state: string } | undefined;
      const last = exp.acked.at(-1);
      if (!last) {
        // Never acknowledged: it may exist upstream (journaled before the kill) but only once.
        if (up && up.cartItems.length !== exp.unacked?.items) fail(`session ${id}: never acknowledged, yet upstream has ${up.cartItems.length} items`);
        continue;
      }
      acknowledged++;
      if (!up) fail(`session ${id} acknowledged but missing upstream`);
      const allowed = [last, ...(exp.unacked ? [exp.unacked] : [])];
      if (!allowed.some((a) => a.items === up.cartItems.length && (a.closed ? up.state === 'closed' : up.state === 'open'))) {
        fail(`session ${id}: upstream has ${up.cartItems.length} items, ${up.state}; acknowledged ${JSON.stringify(allowed)}`);
      }
      // The ledger's own answer: the code is this session's (held while open, used once closed).
      if (last.accepted) holders.set(exp.coupon, [...(holders.get(exp.coupon) ?? []), id]);
    }
    for (const [code, ids] of holders) if (ids.length > 1) fail(`${code} accepted for more than one session: ${ids.join(', ')}`);
    for (const code of POOL) {
      const used = (emu.getCoupon(code) as { usageCounter?: number } | undefined)?.usageCounter ?? 0;
      if (used > 1) fail(`${code} redeemed ${used} times upstream`);
    }
    const codesAcceptedAtClose = [...holders.values()].flat().filter((id) => sessions.get(id)?.acked.at(-1)?.closed).length;
    return { rounds: opts.rounds, acknowledged, sessions: sessions.size, codesAcceptedAtClose, cycles, finalFlush };
  } finally {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
