/** Fixtures for the flusher tests: journal records per src/checkout/records.ts, an upstream client, a flusher. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import {
  type JournalRecord,
  type LocalOutcome,
  type ReopenSessionRecord,
  type ReturnItemsRecord,
  type TrackEventRecord,
  type UpdateSessionRecord,
  profileKey,
  sessionKey,
} from '../../src/checkout/records.js';
import { Journal } from '../../src/journal/index.js';
import { Flusher, type FlusherDeps } from '../../src/delivery/flusher.js';
import { ReconciliationLog } from '../../src/delivery/reconciliation.js';
import { DeadLetterStore } from '../../src/delivery/dead-letter-store.js';
import type { JournalEntry } from '../../src/journal/types.js';
import { type Clock, systemClock } from '../../src/platform/clock.js';
import { FileSnapshotStore } from '../../src/state/snapshot-store.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { UpstreamClient } from '../../src/upstream/client.js';

export const API_KEY = 'flush-test-key-0123456789';
export const STORE = 'store-1';

export const silentLog: Logger = pino({ level: process.env.FLUSH_TEST_LOG ?? 'silent' });

export function cart(n: number, price = 10): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({ sku: `SKU-${i}`, name: `Item ${i}`, quantity: 1, price, category: 'food' }));
}

const noLocal = (): LocalOutcome => ({ effects: [], acceptedCoupons: [], loyaltyPoints: {} });

export function updateSession(
  sessionId: string,
  state: UpdateSessionRecord['state'],
  o: { items?: number; profileId?: string; couponCodes?: string[]; local?: Partial<LocalOutcome>; terminalId?: string; session?: Record<string, unknown> } = {},
): UpdateSessionRecord {
  const customerSession: Record<string, unknown> = {
    profileId: o.profileId ?? '',
    storeIntegrationId: STORE,
    cartItems: cart(o.items ?? 2),
    state,
    ...(o.couponCodes ? { couponCodes: o.couponCodes } : {}),
    ...o.session,
  };
  return {
    kind: 'updateSession',
    terminalId: o.terminalId ?? 'T1',
    query: '',
    sessionId,
    body: { customerSession, responseContent: ['customerSession'] },
    state,
    local: { ...noLocal(), ...o.local },
    meta: { created: new Date(0).toISOString(), updated: new Date(0).toISOString(), updateCount: 1 },
    ledgerOps: [],
    loyaltyOps: [],
  };
}

export function returnItems(sessionId: string, items: { position: number; quantity: number }[]): ReturnItemsRecord {
  return { kind: 'returnItems', terminalId: 'T1', query: '', sessionId, body: { return: { returnedCartItems: items } }, local: noLocal() };
}

export function reopen(sessionId: string): ReopenSessionRecord {
  return { kind: 'reopenSession', terminalId: 'T1', query: '', sessionId, local: noLocal() };
}

export function trackEvent(profileId: string, n: number): TrackEventRecord {
  return { kind: 'trackEvent', terminalId: 'T1', query: '', profileId, body: { profileId, type: 'visit', attributes: { n } } };
}

export function keyOf(r: JournalRecord): string {
  return r.kind === 'trackEvent' || r.kind === 'updateProfile' ? profileKey(r.profileId) : sessionKey(r.sessionId);
}

export async function append(journal: Journal, r: JournalRecord): Promise<JournalEntry<JournalRecord>> {
  return journal.append({ key: keyOf(r), kind: r.kind, payload: r });
}

export interface Rig {
  dir: string;
  journal: Journal;
  client: UpstreamClient;
  store: FileSnapshotStore;
  reconciliation: ReconciliationLog;
  deadLetters: DeadLetterStore;
  alerts: { kind: string; [k: string]: unknown }[];
  flusher: Flusher;
  /** Closes flusher, client and journal (not the temp dir). */
  close(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sg-flush-'));
}

export async function openRig(o: {
  url: string;
  dir?: string;
  journalClock?: Clock;
  clock?: Clock;
  /** Journal size cap and segment size (defaults: 256 MiB, the journal's default segment). */
  maxBytes?: number;
  segmentBytes?: number;
  timeoutMs?: number;
  concurrency?: number;
  flusher?: Partial<FlusherDeps>;
}): Promise<Rig> {
  const dir = o.dir ?? (await tempDir());
  const journal = await Journal.open({
    dir: join(dir, 'journal'),
    maxBytes: o.maxBytes ?? 256 * 1024 * 1024,
    ...(o.segmentBytes ? { segmentBytes: o.segmentBytes } : {}),
    clock: o.journalClock ?? systemClock,
  });
  const metrics = new Metrics({ defaultMetrics: false });
  const client = new UpstreamClient({
    baseUrl: o.url,
    apiKey: API_KEY,
    timeoutMs: o.timeoutMs ?? 2000,
    connections: 16,
    retry: { attempts: 1, baseMs: 5, maxMs: 20 },
    clock: o.clock ?? systemClock,
    log: silentLog,
    metrics,
  });
  const store = new FileSnapshotStore(dir);
  const reconciliation = new ReconciliationLog({ file: join(dir, 'state', 'reconciliation.log'), legacy: store });
  await reconciliation.start();
  const deadLetters = await DeadLetterStore.open(join(dir, 'state', 'dead-letters.log'));
  const alerts: Rig['alerts'] = [];
  const flusher = new Flusher({
    journal,
    upstream: client,
    clock: o.clock ?? systemClock,
    log: silentLog,
    metrics,
    concurrency: o.concurrency ?? 4,
    reconciliation,
    deadLetters,
    retry: { baseMs: 10, maxMs: 80 },
    // Never a zero wait: a retry never races the server noticing the aborted attempt's socket closing.
    random: () => 0.3 + 0.7 * Math.random(),
    onAlert: (a) => alerts.push(a),
    ...o.flusher,
  });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await flusher.stop();
    await client.close();
    await journal.close();
  };
  return { dir, journal, client, store, reconciliation, deadLetters, alerts, flusher, close, cleanup: async () => { await close(); await rm(dir, { recursive: true, force: true }); } };
}

/** Waits until `cond()` holds, polling every 10 ms, for at most `ms`. */
export async function until(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
