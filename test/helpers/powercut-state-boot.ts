/**
 * The gateway's durable parts on the power-cut filesystem, opened in the order `Gateway.start` opens them
 * (src/gateway/storage.ts): journal → dead-letter store → dead-letter reconcile → replay cache → local state started with
 * the undelivered records and the dead letters, the replay cache as a consumer; then local answers, and the
 * delivery marks as the flusher makes them (`beforeMarkDelivered` → `state.beforeDelivered` + `replay.persist`,
 * then `journal.markDelivered`). Only the filesystem is a model; every class is the real one.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { LocalAnswers } from '../../src/checkout/local-answers.js';
import type { LocalSession } from '../../src/checkout/local-sessions.js';
import { LocalState } from '../../src/checkout/local-state.js';
import { REPLAY_TTL_MS, ReplayCache, type ReplayEntry } from '../../src/checkout/replay-cache.js';
import { reconcileDeadLetters } from '../../src/delivery/dead-letter-recovery.js';
import { APP_DIR } from '../../src/config/load.js';
import { DeadLetterStore } from '../../src/delivery/dead-letter-store.js';
import { DeliveryMarker, type MarkItem } from '../../src/delivery/flush-marks.js';
import { LocalData, type ProfileInput } from '../../src/engine/index.js';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { FileKeyedStore } from '../../src/state/keyed-store.js';
import { FileSnapshotStore, MemorySnapshotStore } from '../../src/state/snapshot-store.js';
import type { PowerCutFs } from './powercut-fs.js';

export const DATA_DIR = '/pc';
export const STORE_ID = 'store-042';
/** Shared single-use codes (usage limit 1) every session competes for. */
export const CODES = Array.from({ length: 10 }, (_, i) => `PC-${i}`);

const silent = pino({ level: 'silent' });

let localData: Promise<LocalData> | undefined;

/**
 * The shop's rules (config/sample-rules.json: the coupon campaign accepts a code on a basket over 20 EUR) and the
 * shared codes. Static data, the same before and after a cut, so one instance serves every trial.
 */
export function sharedLocalData(): Promise<LocalData> {
  localData ??= (async () => {
    const ld = new LocalData({ store: new MemorySnapshotStore(), clock: new ManualClock(), storeIntegrationId: STORE_ID, log: silent });
    await ld.ingest('rules', JSON.parse(readFileSync(path.join(APP_DIR, 'config', 'sample-rules.json'), 'utf8')));
    await ld.ingest('coupons', { version: 1, full: true, coupons: CODES.map((value, i) => ({ id: 8000 + i, value, campaignId: 102, usageLimit: 1, usageCounter: 0, attributes: {} })) });
    return ld;
  })();
  return localData;
}

/** One life of the daemon between two power cuts. */
export interface Boot {
  journal: Journal;
  deadStore: DeadLetterStore;
  replay: ReplayCache;
  state: LocalState;
  answers: LocalAnswers;
  marker: DeliveryMarker;
  /** The stores, for compactions at random moments. */
  stores: FileKeyedStore<unknown>[];
  /** Ends the background work of a boot the power went from (its filesystem calls fail already). */
  abandon(): void;
}

export async function boot(fs: PowerCutFs, clock: ManualClock, onMarked: (batch: MarkItem[]) => void): Promise<Boot> {
  const port = fs.port();
  const journal = await Journal.open({ dir: path.join(DATA_DIR, 'journal'), maxBytes: 64 * 1024 * 1024, segmentBytes: 4096, clock, log: silent, fileOps: fs.fileOps() });
  const deadStore = await DeadLetterStore.open(path.join(DATA_DIR, 'state', 'dead-letters.log'), port);
  await reconcileDeadLetters(journal, deadStore, silent);
  const replayed = [...journal.undelivered(), ...deadStore.list()].sort((a, b) => a.seq - b.seq);
  const stateDir = path.join(DATA_DIR, 'state');
  // The replay cache's own store, built as ReplayCache builds it, held here so the trial can compact it.
  const replayStore = new FileKeyedStore<ReplayEntry>({ file: path.join(stateDir, 'replay.kv'), cacheEntries: 4, keepAtStart: (_k, at) => at >= clock.now() - REPLAY_TTL_MS, fs: port });
  const replay = new ReplayCache({ dataDir: DATA_DIR, log: silent, now: () => clock.now(), store: replayStore });
  await replay.open();
  const sessions = new FileKeyedStore<LocalSession>({ file: path.join(stateDir, 'sessions.kv'), cacheEntries: 8, fs: port });
  const profiles = new FileKeyedStore<ProfileInput>({ file: path.join(stateDir, 'profiles.kv'), cacheEntries: 8, fs: port });
  const state = new LocalState({ store: new FileSnapshotStore(DATA_DIR, port), sessions, profiles, clock, log: silent, maxOfflineLoyaltyDeduction: 500 });
  await state.start(replayed, [replay.consumer()]);
  const answers = new LocalAnswers({ replay, localData: await sharedLocalData(), journal, state, clock, storeIntegrationId: STORE_ID, log: silent });
  const marker = new DeliveryMarker({
    journal,
    deadLetters: deadStore,
    now: () => clock.now(),
    beforeMarkDelivered: async (seqs) => {
      await state.beforeDelivered(seqs);
      await replay.persist(seqs);
    },
    onMarked,
    // A mark that failed because the power went: the process is gone, nothing retries.
    onFailed: () => {
      if (fs.dead) marker.stop();
    },
    onIdle: () => undefined,
    // The manual clock's sleep ignores the signal: a stopped marker must not wait for a clock nobody advances.
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => resolve(), { once: true });
        void clock.sleep(ms).then(resolve);
      }),
  });
  return {
    journal, deadStore, replay, state, answers, marker,
    stores: [sessions, profiles, replayStore] as FileKeyedStore<unknown>[],
    abandon() {
      marker.stop();
      void state.stop().catch(() => undefined); // clears its timer at once; its saves fail on the dead boot
      void replay.stop().catch(() => undefined);
      void journal.close().catch(() => undefined);
    },
  };
}
