import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { LocalData } from '../engine/index.js';
import { loadDataFiles } from '../engine/data-files.js';
import { FileSnapshotStore } from '../state/snapshot-store.js';
import { FileKeyedStore } from '../state/keyed-store.js';
import { Journal } from '../journal/index.js';
import { DeadLetterStore } from '../delivery/dead-letter-store.js';
import { reconcileDeadLetters } from '../delivery/dead-letter-recovery.js';
import { DiskReserve } from '../platform/disk-reserve.js';
import { LocalState } from '../checkout/local-state.js';
import { ReplayCache } from '../checkout/replay-cache.js';
import { fallbackOf } from '../config/fallback.js';

/** What the gateway keeps on disk, opened before it answers anything. */
export interface Storage {
  store: FileSnapshotStore;
  localData: LocalData;
  journal: Journal;
  reserve: DiskReserve;
  deadStore: DeadLetterStore;
  replay: ReplayCache;
  state: LocalState;
}

/**
 * Opens the data dir's parts in the order recovery needs (README "Durability and the journal"): local data (the
 * engine can answer), the journal (torn tail cut), the disk reserve, dead letters (agreed with the journal), the
 * replay answers, then the local state rebuilt from its files and the records they have not seen.
 *
 * Each part is put into `into` as soon as it is open, so a start that fails half-way still lets the gateway's
 * stop() close what was opened.
 */
export async function openStorage(deps: { config: Config; clock: Clock; log: Logger }, into: Partial<Storage>): Promise<Storage> {
  const { config, clock, log } = deps;
  // Local data first: the engine must be able to answer before the first terminal call.
  const store = new FileSnapshotStore(config.dataDir);
  into.store = store;
  const localData = new LocalData({
    store,
    clock,
    storeIntegrationId: config.store.integrationId,
    storeAttributes: config.store.attributes,
    log: log.child({ mod: 'engine' }),
  });
  into.localData = localData;
  localData.setFallback(fallbackOf(config));
  await localData.start();
  // Files read at an earlier start and unchanged since are not read again (src/engine/data-files.ts).
  await loadDataFiles({ localData, store, files: config.dataFiles, log: log.child({ mod: 'engine' }), now: () => clock.now() });

  // The journal: recovery (torn tail) happens here, before any answer can be given.
  const journal = await Journal.open({
    dir: path.join(config.dataDir, 'journal'),
    maxBytes: config.journal.maxBytes,
    segmentBytes: config.journal.segmentBytes,
    clock,
    log: log.child({ mod: 'journal' }),
  });
  into.journal = journal;
  // Space set aside so a full disk can still record deliveries and free segments (src/platform/disk-reserve.ts).
  const reserve = new DiskReserve({ dataDir: config.dataDir, bytes: config.journal.reserveBytes, log: log.child({ mod: 'disk' }) });
  into.reserve = reserve;
  await reserve.start();
  // Dead letters live in their own store (README "Dead letters"); agree with the journal before any replay.
  const deadStore = await DeadLetterStore.open(path.join(config.dataDir, 'state', 'dead-letters.log'));
  into.deadStore = deadStore;
  await reconcileDeadLetters(journal, deadStore, log.child({ mod: 'delivery' }));
  // Only the records above `after` (what every state store reflects already is not made into entry objects).
  const replayed = (after: number) => [...journal.undeliveredAfter(after), ...deadStore.list().filter((d) => d.seq > after)].sort((a, b) => a.seq - b.seq);
  // Sessions, profiles and replay answers live in disk-backed keyed stores (README "Memory and retention").
  const stateDir = path.join(config.dataDir, 'state');
  const tornTail = (file: string) => (t: { offset: number; bytes: number }) =>
    log.warn({ mod: 'state', file, ...t }, 'state store: torn tail cut off (what it held is replayed from the journal)');
  const replay = new ReplayCache({ dataDir: config.dataDir, log: log.child({ mod: 'replay' }), now: () => clock.now() });
  await replay.open();
  into.replay = replay;
  const state = new LocalState({
    store,
    sessions: new FileKeyedStore({ file: path.join(stateDir, 'sessions.kv'), cacheEntries: 512, onTornTail: tornTail('sessions.kv') }),
    profiles: new FileKeyedStore({ file: path.join(stateDir, 'profiles.kv'), cacheEntries: 512, onTornTail: tornTail('profiles.kv') }),
    clock,
    log: log.child({ mod: 'state' }),
    maxOfflineLoyaltyDeduction: config.offline.maxOfflineLoyaltyDeduction,
  });
  // Dead letters are replayed too: their answers were given (a single-use code they accepted is still used)
  // until an operator retries them or Talon.One has them.
  await state.start(replayed, [replay.consumer()]);
  into.state = state; // only a started state is saved by stop()
  // A coupons push that counts uses Talon.One already had lets the ledger forget them.
  localData.onCoupons((next, version) => {
    const n = state.countedByPush(next, version);
    if (n > 0) log.info({ mod: 'state', forgotten: n }, 'coupon uses counted by the coupons push forgotten');
  });
  localData.onBudgets((readAt) => {
    const n = state.budgetsCountedByPush(readAt);
    if (n > 0) log.info({ mod: 'state', sessions: n }, 'offline budget spending counted by the rules push (budget shares) forgotten');
  });
  localData.onLoyalty((version) => {
    const n = state.loyaltyCountedByPush(version);
    if (n > 0) log.info({ mod: 'state', sessions: n }, 'offline loyalty spending counted by the loyalty push forgotten');
  });
  return { store, localData, journal, reserve, deadStore, replay, state };
}
