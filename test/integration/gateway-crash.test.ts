/**
 * The promise of offline mode under `kill -9`: the gateway runs as a child process answering terminals locally
 * under concurrent load, is killed with SIGKILL at random moments (≥ 20 times) and restarted each time; then
 * it flushes to the Talon.One emulator. Every session update that got a 2xx reaches upstream in effect, every
 * closed session's single-use coupon is redeemed exactly once, nothing unacknowledged appears twice, and the
 * journal opens cleanly every time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { APP_DIR } from '../../src/config/load.js';
import { buildBundle, freePort, spawnGateway, waitReady as waitChildReady } from '../helpers/procs.js';
import { sha256Hex } from '../../src/http/auth.js';
import { DEFAULT_CAMPAIGNS_FILE, startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';

const KEY = 'crash-upstream-key-0123456789';
const TOKEN = 'crash-terminal-token-0123456789';
const ADMIN = 'crash-admin-token-0123456789';
const ROUNDS = 20;
const WRITERS = 8;

let emu: Emulator;
let dir: string;
let bundle: string;
let port: number;

function startChild(): ChildProcess {
  return spawnGateway(bundle, path.join(dir, 'config.json'));
}

const waitReady = (child: ChildProcess) => waitChildReady(child, port);

interface Expectation {
  /** Cart lengths acknowledged with 2xx, in order, and whether the acknowledged state was closed. */
  acked: { items: number; closed: boolean }[];
  /** An update sent without an answer (the process died): it may or may not have been journaled. */
  unacked?: { items: number; closed: boolean };
  coupon: string;
}

const sessions = new Map<string, Expectation>();
let couponNo = 0;

/** One terminal: sessions of 1–3 updates then a close with a single-use coupon, until `stop` is set. */
async function terminal(w: number, round: number, stop: { v: boolean }): Promise<void> {
  let n = 0;
  while (!stop.v) {
    const id = `C-${round}-${w}-${n++}`;
    const coupon = `ONCE-${String(++couponNo).padStart(4, '0')}`;
    const exp: Expectation = { acked: [], coupon };
    sessions.set(id, exp);
    const steps = 1 + ((w + n) % 3);
    for (let s = 1; s <= steps + 1 && !stop.v; s++) {
      const closed = s === steps + 1;
      const items = Array.from({ length: Math.min(s, steps) }, (_, i) => ({ sku: `SKU-${i}`, name: `I${i}`, quantity: 1, price: 5 + i }));
      const body = { customerSession: { profileId: `P-${w}`, cartItems: items, couponCodes: [coupon], ...(closed ? { state: 'closed' } : {}) } };
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v2/customer_sessions/${id}`, {
          method: 'PUT',
          headers: { authorization: `ApiKey-v1 ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(5000),
        });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`unexpected ${r.status}`);
        exp.acked.push({ items: items.length, closed });
      } catch {
        exp.unacked = { items: items.length, closed };
        return; // the process is gone: abandon this session, start fresh after the restart
      }
    }
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-crash-'));
  bundle = path.join(dir, 'storegate.mjs');
  buildBundle(bundle);
  // The bundled campaigns with enough single-use ONCE-nnnn codes for every session of the run.
  const campaigns = JSON.parse(readFileSync(DEFAULT_CAMPAIGNS_FILE, 'utf8')) as { campaigns: { batches?: { prefix: string; count: number }[] }[] };
  for (const c of campaigns.campaigns) for (const b of c.batches ?? []) if (b.prefix === 'ONCE-') b.count = 9999;
  emu = await startEmulator({ apiKey: KEY, port: 0, campaigns, maxRecorded: 1_000_000 });
  await emu.setFaults({ refuse: true }); // nothing flushes until the end: every record crosses restarts
  port = await freePort();
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
      dataFiles: { rules: path.join(APP_DIR, 'config', 'sample-rules.json') },
      log: { level: 'warn' },
    }),
  );
}, 60_000);

afterAll(async () => {
  await emu?.close();
});

describe('kill -9 under load, restart, flush', () => {
  it(
    'loses no acknowledged update and redeems no coupon twice',
    async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const child = startChild();
        await waitReady(child); // the journal opened cleanly (a failed recovery exits non-zero)
        const stop = { v: false };
        const load = Promise.all(Array.from({ length: WRITERS }, (_, w) => terminal(w, round, stop)));
        await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 500)));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        stop.v = true;
        await load;
      }

      // Final run: the upstream is back; the gateway flushes everything.
      await emu.setFaults({});
      const child = startChild();
      try {
        await waitReady(child);
        const end = Date.now() + 60_000;
        for (;;) {
          const s = (await (await fetch(`http://127.0.0.1:${port}/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
            journal: { depth: number; dead: number };
          };
          if (s.journal.depth === 0) {
            expect(s.journal.dead).toBe(0);
            break;
          }
          if (Date.now() > end) throw new Error(`flush did not finish: ${JSON.stringify(s.journal)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }

      let acknowledged = 0;
      for (const [id, exp] of sessions) {
        const up = emu.getSession(id)?.customerSession as { cartItems: unknown[]; state: string } | undefined;
        const coupon = emu.getCoupon(exp.coupon) as { usageCounter: number } | undefined;
        const last = exp.acked.at(-1);
        if (!last) {
          // Never acknowledged: it may exist upstream (journaled before the kill) but only once.
          if (up) expect(up.cartItems.length).toBe(exp.unacked?.items);
          expect(coupon?.usageCounter ?? 0).toBeLessThanOrEqual(1);
          continue;
        }
        acknowledged++;
        expect(up, `session ${id} acknowledged but missing upstream`).toBeDefined();
        const allowed = [last, ...(exp.unacked ? [exp.unacked] : [])];
        expect(allowed.some((a) => a.items === up?.cartItems.length && (a.closed ? up?.state === 'closed' : up?.state === 'open'))).toBe(true);
        if (last.closed) expect(coupon?.usageCounter).toBe(1);
        else expect(coupon?.usageCounter ?? 0).toBeLessThanOrEqual(1);
      }
      expect(acknowledged).toBeGreaterThan(ROUNDS * 4);
    },
    240_000,
  );
});
