import type { BudgetLimits, BudgetOp } from '../engine/budgets.js';
import type { CouponLedger, LedgerOp, LoyaltyLimits, LoyaltyOp, ProfileInput } from '../engine/index.js';
import type { SnapshotStore } from '../state/snapshot-store.js';
import type { KeyedStore } from '../state/keyed-store.js';
import type { JournalEntry } from '../journal/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Clock } from '../platform/clock.js';
import { applyReopen, applyReturn, sessionFromRecord, type LocalSession } from './local-sessions.js';
import type { JournalRecord } from './records.js';
import { materialize, type FollowedSession } from './follow.js';
import { StoreLedger, type PendingOps } from './store-ledger.js';

/** Retention of local sessions (README "Memory and retention"). */
export const SESSION_KEEP_MS = 3 * 24 * 3600_000;
export const MAX_SESSIONS = 100_000;
export const MAX_PROFILES = 50_000;
const FOLLOW_MAX = 1000;
/** The ledger snapshot is saved this often when records were committed since (it bounds what a start replays). */
const LEDGER_SAVE_MS = 5_000;
const UPKEEP_MS = 60_000;
const FIRST_UPKEEP_MS = 3_000;

/** Someone else who rebuilds state from the same journal records at start (the replay cache). */
export interface RecordConsumer {
  /** Records up to this seq are already reflected in the consumer's own store. */
  readonly hw: number;
  take(seq: number, record: JournalRecord): void;
  /** Every record up to `seq` was committed (and handed over): see KeyedStore.mark. */
  mark(seq: number): void;
  /** Retention and compaction of the consumer's store, run with LocalState's own (about once a minute). */
  upkeep?(): Promise<void>;
}

export interface LocalStateDeps {
  /** The ledger snapshot (`ledger`) lives here. */
  store: SnapshotStore;
  sessions: KeyedStore<LocalSession>;
  profiles: KeyedStore<ProfileInput>;
  clock: Clock;
  log: Logger;
  maxOfflineLoyaltyDeduction: number;
  /** Caps (defaults MAX_SESSIONS, MAX_PROFILES; tests use small ones). */
  maxSessions?: number;
  maxProfiles?: number;
}

/**
 * What the shop must remember between local answers: customer sessions (so updates build on each other),
 * seen profiles (for `$Profile` paths), the store-wide coupon ledger and offline loyalty spending.
 *
 * Sessions and profiles live in disk-backed keyed stores (src/state/keyed-store.ts): each committed record
 * writes the state it built as one line (no fsync; the journal record it came from is the durable copy), only
 * an index and the most recently used values stay in memory. The ledger is small and kept whole in memory,
 * saved as a snapshot every few seconds and before any delivery mark.
 *
 * Restart: each store knows up to which journal seq it reflects the history (`hw`); only records newer than
 * that are parsed and replayed into it. After a `kill -9` the stores' lines are in the page cache, so almost
 * nothing is replayed; after a power cut, what was not yet synced is replayed from the journal. A record may be
 * marked delivered (and leave the journal) only once what it built is durable here (`beforeDelivered`).
 */
export class LocalState {
  /**
   * Sessions answered by upstream in connected mode, followed so a mid-basket fallback builds on the whole
   * cart. Not persisted (upstream has them) and bounded: a shop has far fewer baskets open at once.
   */
  readonly followed = new Map<string, FollowedSession>();
  readonly ledger: CouponLedger;
  readonly loyalty: LoyaltyLimits;
  readonly budgets: BudgetLimits;
  readonly #ledger: StoreLedger;
  readonly #sessions: KeyedStore<LocalSession>;
  readonly #profiles: KeyedStore<ProfileInput>;
  readonly #clock: Clock;
  readonly #log: Logger;
  #lastSeq = 0;
  #timer: NodeJS.Timeout | null = null;
  #housekeptAt = { checkpoint: 0, upkeep: 0, mono: 0 };
  #upkeep: Promise<void> = Promise.resolve();
  #others: readonly RecordConsumer[] = [];
  #upkeeping = false;
  readonly #maxSessions: number;
  readonly #maxProfiles: number;

  constructor(deps: LocalStateDeps) {
    this.#maxSessions = deps.maxSessions ?? MAX_SESSIONS;
    this.#maxProfiles = deps.maxProfiles ?? MAX_PROFILES;
    this.#sessions = deps.sessions;
    this.#profiles = deps.profiles;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.#ledger = new StoreLedger({ store: deps.store, clock: deps.clock, log: deps.log, maxOfflineLoyaltyDeduction: deps.maxOfflineLoyaltyDeduction, lastSeq: () => this.#lastSeq });
    this.ledger = this.#ledger.ledger;
    this.loyalty = this.#ledger.loyalty;
    this.budgets = this.#ledger.budgets;
  }

  /**
   * Opens the stores and the ledger snapshot, then replays the journal records (undelivered and dead letters,
   * in seq order) that are newer than what they reflect, parsing each record at most once for all of them.
   * `records` may be a function giving the records above a seq: it is asked only for those newer than what every
   * store reflects (after a `kill -9`, a few of a backlog of 100,000), since older ones change nothing below.
   */
  async start(
    records: readonly JournalEntry[] | ((after: number) => readonly JournalEntry[]),
    others: readonly RecordConsumer[] = [],
  ): Promise<{ replayed: number }> {
    const ledgerHw = await this.#ledger.load();
    await this.#sessions.start();
    await this.#profiles.start();
    const sessionsHw = this.#sessions.hw;
    const profilesHw = this.#profiles.hw;
    const othersHw = Math.min(Infinity, ...others.map((o) => o.hw));
    // A record at or below every store's mark is skipped by the loop below without being read, and raises
    // #lastSeq no higher than those marks do: leaving it out changes nothing.
    if (typeof records === 'function') records = records(Math.min(ledgerHw, sessionsHw, profilesHw, othersHw));
    // The newest session update of each session among the records to replay holds the whole session (README
    // "Durability and the journal"): the updates before it need not be written to the store — only their ledger
    // ops and replay answers count, when those stores are behind too.
    const newestUpdate = new Map<string, number>();
    for (const e of records) if (e.seq > sessionsHw && e.kind === 'updateSession') newestUpdate.set(e.key, e.seq);
    let replayed = 0;
    for (const e of records) {
      this.#lastSeq = Math.max(this.#lastSeq, e.seq);
      const superseded = e.kind === 'updateSession' && (newestUpdate.get(e.key) ?? 0) > e.seq;
      const forSessions = e.seq > sessionsHw && !superseded;
      // Reflected wherever it matters: not even parsed.
      if (e.seq <= ledgerHw && !forSessions && e.seq <= profilesHw && e.seq <= othersHw) continue;
      const r = e.payload as JournalRecord;
      replayed++;
      if (e.seq > ledgerHw) this.#applyOps(r);
      if (forSessions && 'sessionId' in r) this.#applySession(r, e.seq, e.at);
      if (e.seq > profilesHw && r.kind === 'updateProfile') this.#applyProfile(r, e.seq);
      for (const o of others) if (e.seq > o.hw) o.take(e.seq, r);
    }
    this.#lastSeq = Math.max(this.#lastSeq, ledgerHw, sessionsHw, profilesHw);
    this.#others = others;
    // Every store now reflects every record: the next start (even after a kill within seconds) replays none of them.
    this.#markAll();
    if (replayed > 0) await this.ensureLedgerSaved();
    this.#log.info({ sessions: this.#sessions.size, profiles: this.#profiles.size, records: records.length, replayed, lastSeq: this.#lastSeq }, 'local state restored');
    // The first upkeep (retention, compaction) comes a few seconds after the start, not a minute: a daemon that
    // restarts often (a crash loop, a flaky power supply) must still get its stores compacted, or every start scans
    // a longer file than the last.
    this.#housekeptAt = { checkpoint: this.#clock.now(), upkeep: this.#clock.now() - UPKEEP_MS + FIRST_UPKEEP_MS, mono: this.#clock.monotonic() };
    this.#timer = setInterval(() => this.#housekeep(), 1_000);
    this.#timer.unref();
    return { replayed };
  }

  /**
   * Applies a local answer's coupon and loyalty ops before its record is journaled (concurrent answers see the
   * code taken at once); `commit` makes them history, `revertPending` undoes them (StoreLedger.applyPending).
   */
  applyPending(ledgerOps: readonly LedgerOp[], loyaltyOps: readonly LoyaltyOp[], budgetOps: readonly BudgetOp[] = []): PendingOps {
    return this.#ledger.applyPending(ledgerOps, loyaltyOps, budgetOps);
  }

  /** The answer's record could not be journaled: its ops are undone. */
  revertPending(p: PendingOps): void {
    this.#ledger.revertPending(p);
  }

  /**
   * Folds a durable journal record into the state. Called synchronously right after `append` resolves, so
   * records are committed in seq order (the journal resolves a batch's appends in order). `pending`: the ops
   * its answer applied before journaling, history from this seq on.
   */
  commit(seq: number, record: JournalRecord, next?: LocalSession, pending?: PendingOps): void {
    this.#housekeep();
    if (seq < this.#lastSeq) this.#log.warn({ seq, lastSeq: this.#lastSeq }, 'journal record committed out of order');
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    if (pending) this.#ledger.settle(pending);
    if (next) {
      this.#sessions.put(next.integrationId, next, seq, this.#clock.now());
      this.followed.delete(next.integrationId);
    } else if ('sessionId' in record) this.#applySession(record, seq, this.#clock.now());
    else if (record.kind === 'updateProfile') this.#applyProfile(record, seq);
  }

  /**
   * Before records are marked delivered (they are not replayed after that): the ledger snapshot and the lines
   * of the sessions and profiles stores are made durable. Every record committed so far is covered.
   */
  async beforeDelivered(_seqs: readonly number[]): Promise<void> {
    this.#markAll();
    await this.ensureLedgerSaved();
    await this.#sessions.sync();
    await this.#profiles.sync();
  }

  /**
   * Every few seconds: the stores note how far the history they reflect goes (and the ledger snapshot is saved
   * when records were committed since), so a restart replays only the last few seconds of records.
   */
  /**
   * Checkpoints every 5 s and upkeep every minute of the injected clock (so a simulated week prunes as a real
   * one would), checked by a 1 s timer and at each commit; never more than once per 100 ms of real time, and
   * never two at once.
   */
  #housekeep(): void {
    const now = this.#clock.now();
    const mono = this.#clock.monotonic();
    if (mono - this.#housekeptAt.mono < 100) return;
    const h = this.#housekeptAt;
    if (now - h.checkpoint >= LEDGER_SAVE_MS && !this.#ledger.saving) {
      h.checkpoint = now;
      h.mono = mono;
      void this.checkpoint().catch((err: unknown) => this.#log.error({ err }, 'ledger snapshot failed'));
    }
    if (now - h.upkeep >= UPKEEP_MS && !this.#upkeeping) {
      h.upkeep = now;
      h.mono = mono;
      void this.upkeep().catch((err: unknown) => this.#log.error({ err }, 'local state upkeep failed'));
    }
  }

  async checkpoint(): Promise<void> {
    this.#markAll();
    if (this.#ledger.stale) await this.#ledger.ensureSaved();
  }

  #markAll(): void {
    this.#sessions.mark(this.#lastSeq);
    this.#profiles.mark(this.#lastSeq);
    for (const o of this.#others) o.mark(this.#lastSeq);
  }

  /** The ledger changed outside the journal (codes Talon.One accepted for a followed session): saved at once. */
  ledgerChanged(): void {
    this.#ledger.changed();
  }

  /** Makes the coupon ledger durable up to the newest committed record. */
  ensureLedgerSaved(): Promise<void> {
    return this.#ledger.ensureSaved();
  }

  /** A session update Talon.One answered: the codes it used are confirmed (StoreLedger.confirmUses). */
  confirmUses(rec: JournalRecord): void {
    this.#ledger.confirmUses(rec);
  }

  /** A rules push with budget shares read at `readAt`: budget spending Talon.One had by then is forgotten. */
  budgetsCountedByPush(readAt: number): number {
    return this.#ledger.budgetsCountedByPush(readAt);
  }

  /** A loyalty push read at `readAt`: spending Talon.One had by then is forgotten. */
  loyaltyCountedByPush(readAt: number): number {
    return this.#ledger.loyaltyCountedByPush(readAt);
  }

  /** A coupons push read at `readAt`: confirmed uses it counts are forgotten (StoreLedger.countedByPush). */
  countedByPush(next: ReadonlyMap<string, { usageCounter?: number; usageLimit?: number }>, readAt: number): number {
    return this.#ledger.countedByPush(next, readAt);
  }

  /**
   * Retention and compaction, every minute: sessions not updated for three days are dropped (an open one
   * releases the codes it held: it will never close here), then the oldest past MAX_SESSIONS — but never one
   * that still holds a code before its three days are up; profiles past MAX_PROFILES, least recently seen first;
   * then the stores are compacted when their files hold more than twice their live lines.
   */
  upkeep(): Promise<void> {
    this.#upkeeping = true;
    const run = this.#upkeep.then(() => this.#runUpkeep());
    this.#upkeep = run.catch(() => undefined).finally(() => {
      this.#upkeeping = false;
    });
    return run;
  }

  async #runUpkeep(): Promise<void> {
    const now = this.#clock.now();
    const cutoff = now - SESSION_KEEP_MS;
    let released = 0;
    const drop: string[] = [];
    for (const id of this.#sessions.keys()) {
      const m = this.#sessions.meta(id);
      if (m && m.at < cutoff) drop.push(id);
    }
    if (this.#sessions.size - drop.length > this.#maxSessions) {
      const dropping = new Set(drop);
      let over = this.#sessions.size - drop.length - this.#maxSessions;
      for (const id of this.#sessions.keys()) {
        if (over <= 0) break;
        if (dropping.has(id) || this.ledger.heldBy(id).length > 0) continue;
        drop.push(id);
        over--;
      }
    }
    for (const id of drop) {
      released += this.ledger.releaseHolds(id, now);
      this.#sessions.delete(id, this.#lastSeq);
    }
    if (released > 0) {
      this.#log.info({ released }, 'holds of abandoned sessions released');
      await this.#ledger.ensureSavedDirty();
    }
    if (this.#profiles.size > this.#maxProfiles) {
      const extra: string[] = [];
      for (const id of this.#profiles.keys()) {
        if (extra.length >= this.#profiles.size - this.#maxProfiles) break;
        extra.push(id);
      }
      for (const id of extra) this.#profiles.delete(id, this.#lastSeq);
    }
    if (drop.length > 0) this.#log.info({ dropped: drop.length, sessions: this.#sessions.size }, 'sessions past their retention dropped');
    await this.#sessions.maintain();
    await this.#profiles.maintain();
    for (const o of this.#others) await o.upkeep?.();
  }

  /** How much the state keeps in memory and on disk, by part (README "Memory and retention"). */
  sizes(): Record<string, number> {
    const l = this.ledger.sizes();
    const y = this.loyalty.sizes();
    const s = this.#sessions.stats();
    const p = this.#profiles.stats();
    return {
      sessions: s.entries,
      sessionsCached: s.cached,
      sessionsFileBytes: s.fileBytes,
      followed: this.followed.size,
      profiles: p.entries,
      profilesCached: p.cached,
      profilesFileBytes: p.fileBytes,
      ledgerCodes: l.codes,
      ledgerHolds: l.holds,
      ledgerUses: l.uses,
      loyaltySpending: y.spending,
      loyaltyConfirmed: y.confirmed,
    };
  }

  /** The session as the shop knows it: answered locally, or followed from upstream answers. */
  session(id: string): LocalSession | undefined {
    const local = this.#sessions.get(id);
    if (local) return local;
    const followed = this.followed.get(id);
    return followed ? materialize(followed) : undefined;
  }

  /** A session answered locally earlier (not a followed one). */
  localSession(id: string): LocalSession | undefined {
    return this.#sessions.get(id);
  }

  /** Replaces a locally known session outside a journal record (an upstream answer about it, connected mode). */
  replaceSession(s: LocalSession): void {
    this.#sessions.put(s.integrationId, s, this.#lastSeq, this.#clock.now());
  }

  /** A profile seen before (attributes and audiences for `$Profile` paths). */
  profile(id: string): ProfileInput | undefined {
    return this.#profiles.get(id);
  }

  /** Records an upstream-answered session (least recently updated dropped past `FOLLOW_MAX`). */
  follow(s: FollowedSession): void {
    this.followed.delete(s.integrationId);
    this.followed.set(s.integrationId, s);
    if (this.followed.size > FOLLOW_MAX) this.followed.delete(this.followed.keys().next().value as string);
  }

  /** Remembers a profile's attributes and audiences (from updates passing through and upstream answers). */
  rememberProfile(p: ProfileInput, seq = this.#lastSeq): void {
    const prev = this.#profiles.get(p.integrationId);
    this.#profiles.put(
      p.integrationId,
      {
        integrationId: p.integrationId,
        attributes: { ...(prev?.attributes ?? {}), ...(p.attributes ?? {}) },
        audienceMemberships: p.audienceMemberships ?? prev?.audienceMemberships ?? [],
      },
      seq,
      this.#clock.now(),
    );
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#upkeep;
    this.#markAll();
    await this.ensureLedgerSaved();
    await this.#sessions.stop();
    await this.#profiles.stop();
  }

  #applyOps(r: JournalRecord): void {
    if (r.kind !== 'updateSession') return;
    this.ledger.apply(r.ledgerOps as LedgerOp[]);
    this.loyalty.apply(r.loyaltyOps as LoyaltyOp[]);
    if (r.budgetOps !== undefined) this.budgets.apply(r.budgetOps as BudgetOp[]);
  }

  /** Replays a session record's effect (on restart; live answers pass the new session in). */
  #applySession(r: JournalRecord, seq: number, at: number): void {
    const now = this.#clock.now();
    switch (r.kind) {
      case 'updateSession':
        this.#sessions.put(r.sessionId, sessionFromRecord(r), seq, now);
        this.followed.delete(r.sessionId);
        break;
      case 'returnItems':
        this.#tryReplay(r.sessionId, seq, (prev) => applyReturn(prev, r.sessionId, r.body.return.returnedCartItems, at));
        break;
      case 'reopenSession':
        this.#tryReplay(r.sessionId, seq, (prev) => applyReopen(prev, r.sessionId, at));
        break;
      default:
        break;
    }
  }

  #applyProfile(r: JournalRecord & { kind: 'updateProfile' }, seq: number): void {
    const attrs = r.body.attributes;
    this.rememberProfile({ integrationId: r.profileId, ...(attrs && typeof attrs === 'object' ? { attributes: attrs as Record<string, unknown> } : {}) }, seq);
  }

  #tryReplay(id: string, seq: number, f: (prev: LocalSession | undefined) => LocalSession): void {
    try {
      this.#sessions.put(id, f(this.#sessions.get(id)), seq, this.#clock.now());
    } catch {
      // The session's earlier state was pruned or delivered; upstream has it, nothing to rebuild here.
    }
  }
}
