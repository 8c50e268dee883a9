import { CouponLedger, LoyaltyLimits, type LedgerExport, type LedgerOp, type LoyaltyExport, type LoyaltyOp, type ProfileInput } from '../engine/index.js';
import type { SnapshotStore } from '../state/snapshot-store.js';
import type { JournalEntry } from '../journal/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Clock } from '../platform/clock.js';
import { applyReopen, applyReturn, sessionFromRecord, type LocalSession } from './local-sessions.js';
import type { JournalRecord } from './records.js';
import { materialize, type FollowedSession } from './follow.js';
import { AppendLog } from '../state/append-log.js';

/** A session or profile as it was after record `seq` (sessions.log). */
interface StateLine {
  seq: number;
  session?: LocalSession;
  profile?: ProfileInput;
}

interface LedgerSnapshot {
  lastSeq: number;
  ledger: LedgerExport;
  loyalty: LoyaltyExport;
}

interface SessionsSnapshot {
  lastSeq: number;
  sessions: LocalSession[];
  profiles: ProfileInput[];
}

const SESSION_KEEP_MS = 3 * 24 * 3600_000;
const MAX_SESSIONS = 50_000;
const MAX_PROFILES = 50_000;
const FOLLOW_MAX = 1000;
/** Margin for the clocks of the shop and head office when judging whether a push counts a use. */
const PUSH_SKEW_MS = 5 * 60_000;
/** sessions.log is folded into a new sessions snapshot once it holds more lines than this (and than the snapshot would). */
const COMPACT_MIN_LINES = 1_000;

/**
 * What the shop must remember between local answers: customer sessions (so updates build on each other),
 * seen profiles (for `$Profile` paths), the store-wide coupon ledger and offline loyalty spending.
 *
 * It is rebuilt on start from two snapshots plus the journal: every journal record carries the state change
 * it made, so records newer than a snapshot are replayed on top of it. A record marked delivered is no longer
 * replayed, so what it built must be durable elsewhere first (`beforeDelivered`): the coupon ledger's (small)
 * snapshot, and the sessions and profiles those records touched, appended to `state/sessions.log` (one fsync
 * per delivery batch). The full sessions snapshot is written every minute, at shutdown, and whenever the log
 * has grown longer than the snapshot would be (at least 1,000 lines; checked after each append and at start),
 * and then the log keeps only what is newer than it. So a start reads one snapshot plus a bounded log, however
 * long the shop has run and however it stopped: a daemon killed every few seconds never reaches the minute.
 */
export class LocalState {
  readonly sessions = new Map<string, LocalSession>();
  /**
   * Sessions answered by upstream in connected mode, followed so a mid-basket fallback builds on the whole
   * cart. Not persisted (upstream has them) and bounded: a shop has far fewer baskets open at once.
   */
  readonly followed = new Map<string, FollowedSession>();
  readonly profiles = new Map<string, ProfileInput>();
  readonly ledger = new CouponLedger();
  readonly loyalty: LoyaltyLimits;
  readonly #store: SnapshotStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  #lastSeq = 0;
  #ledgerSavedSeq = 0;
  #ledgerSaving: Promise<void> | null = null;
  #ledgerDirty = false;
  #timer: NodeJS.Timeout | null = null;
  readonly #stateLog: AppendLog<StateLine> | null;
  /** Committed records whose state is not yet in the log or a snapshot: seq → the session / profile they touched. */
  readonly #unlogged = new Map<number, { session?: string; profile?: string }>();
  /** Seq of the newest record that changed each session (`s:<id>`) or profile (`p:<id>`). */
  readonly #seqOf = new Map<string, number>();
  /** Sessions snapshots run one at a time (two racing writes could land the older one after the log was cut past it). */
  #sessionsQueue: Promise<void> = Promise.resolve();
  #compacting = false;
  readonly #compactMinLines: number;

  constructor(deps: { store: SnapshotStore; clock: Clock; log: Logger; maxOfflineLoyaltyDeduction: number; stateLogFile?: string; compactMinLines?: number }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#log = deps.log;
    this.loyalty = new LoyaltyLimits(deps.maxOfflineLoyaltyDeduction);
    this.#stateLog = deps.stateLogFile ? new AppendLog<StateLine>(deps.stateLogFile) : null;
    this.#compactMinLines = deps.compactMinLines ?? COMPACT_MIN_LINES;
  }

  /** Loads the snapshots, then replays undelivered journal records newer than each of them. */
  /**
   * @param onRecord hears each replayed record once, as parsed here (the replay cache takes its answers from the
   *   same pass: parsing 100,000 payloads twice at start cost seconds).
   */
  async start(undelivered: readonly JournalEntry[], onRecord?: (seq: number, record: JournalRecord) => void): Promise<void> {
    const ledgerSnap = (await this.#store.load<LedgerSnapshot>('ledger'))?.data;
    const sessionsSnap = (await this.#store.load<SessionsSnapshot>('sessions'))?.data;
    if (ledgerSnap) {
      this.ledger.import(ledgerSnap.ledger);
      this.loyalty.import(ledgerSnap.loyalty);
    }
    for (const s of sessionsSnap?.sessions ?? []) this.sessions.set(s.integrationId, s);
    for (const p of sessionsSnap?.profiles ?? []) this.profiles.set(p.integrationId, p);
    const ledgerSeq = ledgerSnap?.lastSeq ?? 0;
    const sessionsSeq = sessionsSnap?.lastSeq ?? 0;
    // Logged states (of records since delivered) and undelivered records, newer than the snapshot, in seq order.
    const lines = (await this.#stateLog?.read()) ?? [];
    type Step = { seq: number; line?: StateLine; entry?: JournalEntry };
    const steps: Step[] = [...lines.filter((l) => l.seq > sessionsSeq).map((line) => ({ seq: line.seq, line })), ...undelivered.map((entry) => ({ seq: entry.seq, entry }))];
    steps.sort((a, b) => a.seq - b.seq || (a.line ? -1 : 1));
    let replayed = 0;
    for (const st of steps) {
      if (st.line) {
        if (st.line.session) this.sessions.set(st.line.session.integrationId, st.line.session);
        if (st.line.profile) this.profiles.set(st.line.profile.integrationId, st.line.profile);
        this.#lastSeq = Math.max(this.#lastSeq, st.seq);
        continue;
      }
      const e = st.entry as JournalEntry;
      const r = e.payload as JournalRecord;
      onRecord?.(e.seq, r);
      if (e.seq > ledgerSeq) this.#applyOps(r);
      if (e.seq > sessionsSeq) this.#applySession(r, e.at);
      this.#track(e.seq, r);
      this.#lastSeq = Math.max(this.#lastSeq, e.seq);
      replayed++;
    }
    this.#lastSeq = Math.max(this.#lastSeq, ledgerSeq, sessionsSeq);
    this.#ledgerSavedSeq = ledgerSeq;
    this.#log.info({ sessions: this.sessions.size, replayed, logLines: lines.length, lastSeq: this.#lastSeq }, 'local state restored');
    // A log longer than the snapshot would be (the last runs were too short for the minute's snapshot, or died
    // before it landed): fold it in now, so the next start does not read it again.
    if (this.#logTooLong()) await this.saveSessions();
    this.#timer = setInterval(() => void this.saveSessions().catch((err: unknown) => this.#log.error({ err }, 'sessions snapshot failed')), 60_000);
    this.#timer.unref();
  }

  /**
   * Folds a durable journal record into the state. Called synchronously right after `append` resolves, so
   * records are committed in seq order (the journal resolves a batch's appends in order).
   */
  commit(seq: number, record: JournalRecord, next?: LocalSession): void {
    if (next) {
      this.sessions.set(next.integrationId, next);
      this.followed.delete(next.integrationId);
    }
    else this.#applySession(record, this.#clock.now());
    if (seq < this.#lastSeq) this.#log.warn({ seq, lastSeq: this.#lastSeq }, 'journal record committed out of order');
    this.#lastSeq = Math.max(this.#lastSeq, seq);
    this.#track(seq, record);
  }

  #track(seq: number, r: JournalRecord): void {
    const touched = 'sessionId' in r ? { session: r.sessionId } : r.kind === 'updateProfile' ? { profile: r.profileId } : null;
    if (!touched) return;
    this.#unlogged.set(seq, touched);
    this.#seqOf.set(touched.session !== undefined ? `s:${touched.session}` : `p:${touched.profile}`, seq);
  }

  /**
   * Before records are marked delivered (they are not replayed after that): the ledger snapshot, and the current
   * state of the sessions and profiles they touched, are made durable.
   */
  async beforeDelivered(seqs: readonly number[]): Promise<void> {
    await this.ensureLedgerSaved();
    if (!this.#stateLog) return;
    const lines: StateLine[] = [];
    const done = new Set<string>();
    for (const seq of seqs) {
      const t = this.#unlogged.get(seq);
      if (!t) continue;
      const k = t.session !== undefined ? `s:${t.session}` : `p:${t.profile}`;
      if (done.has(k)) continue;
      done.add(k);
      const at = this.#seqOf.get(k) ?? seq;
      if (t.session !== undefined) {
        const s = this.sessions.get(t.session);
        if (s) lines.push({ seq: at, session: s });
      } else if (t.profile !== undefined) {
        const p = this.profiles.get(t.profile);
        if (p) lines.push({ seq: at, profile: p });
      }
    }
    await this.#stateLog.append(lines);
    for (const seq of seqs) this.#unlogged.delete(seq);
    if (this.#logTooLong() && !this.#compacting) {
      // In the background: the delivery goes on; the snapshot only shortens what the next start reads.
      this.#compacting = true;
      void this.saveSessions()
        .catch((err: unknown) => this.#log.error({ err }, 'sessions snapshot failed'))
        .finally(() => {
          this.#compacting = false;
        });
    }
  }

  /** The log holds more lines than a snapshot of everything would (and more than the minimum): compact it. */
  #logTooLong(): boolean {
    return this.#stateLog !== null && this.#stateLog.lines > Math.max(this.#compactMinLines, this.sessions.size + this.profiles.size);
  }

  /**
   * The ledger changed outside the journal (codes Talon.One accepted for a followed session): its snapshot is
   * saved at once, in the background (a `kill -9` within those few milliseconds loses the hold; the journal
   * cannot carry it, as nothing of a followed session is journaled).
   */
  ledgerChanged(): void {
    this.#ledgerDirty = true;
    void this.ensureLedgerSaved().catch((err: unknown) => this.#log.error({ err }, 'ledger snapshot failed'));
  }

  async ensureLedgerSavedDirty(): Promise<void> {
    this.#ledgerDirty = true;
    await this.ensureLedgerSaved();
  }

  /** Makes the coupon ledger durable up to the newest committed record (before records are marked delivered). */
  async ensureLedgerSaved(): Promise<void> {
    // Records about to be marked delivered were committed before this call: saving up to here is enough,
    // and not chasing later commits keeps a busy shop from rewriting the snapshot in a loop.
    const target = this.#lastSeq;
    while (this.#ledgerSavedSeq < target || this.#ledgerDirty) {
      this.#ledgerSaving ??= (async () => {
        this.#ledgerDirty = false; // the export below includes every change made so far
        const seq = this.#lastSeq;
        const data: LedgerSnapshot = { lastSeq: seq, ledger: this.ledger.export(), loyalty: this.loyalty.export() };
        try {
          await this.#store.save({ kind: 'ledger', version: seq, savedAt: this.#clock.now(), data });
        } catch (err) {
          this.#ledgerDirty = true; // still to be saved
          throw err;
        }
        this.#ledgerSavedSeq = Math.max(this.#ledgerSavedSeq, seq);
      })().finally(() => {
        this.#ledgerSaving = null;
      });
      await this.#ledgerSaving;
    }
  }

  /**
   * A session update Talon.One answered (delivered by the flusher): the codes this shop used when closing it are
   * now known upstream. They stay counted until a coupons push counts them ({@link countedByPush}).
   */
  confirmUses(rec: JournalRecord): void {
    if (rec.kind !== 'updateSession' || rec.state !== 'closed') return;
    let changed = false;
    const at = this.#clock.now();
    for (const code of new Set(rec.local.acceptedCoupons)) changed = this.ledger.confirm(rec.sessionId, code, at) || changed;
    changed = this.loyalty.confirm(rec.sessionId, at) || changed;
    if (changed) this.ledgerChanged();
  }

  /** A loyalty push read at `readAt` (its version, a time): offline spending Talon.One had by then is forgotten. */
  loyaltyCountedByPush(readAt: number): number {
    const n = this.loyalty.countedByPush(readAt - PUSH_SKEW_MS);
    if (n > 0) this.ledgerChanged();
    return n;
  }

  /**
   * A coupons push replaced the cached coupons with `next`, read from Talon.One at `readAt` (its version: head
   * office versions a push with the time it read the data, as `storegate push` does by default). Confirmed uses
   * it counts are forgotten. A version that is not such a time (a small counter) forgets nothing by time: the
   * uses then stay counted (the safe side) unless the code is used up, unlimited or gone. Returns how many.
   */
  countedByPush(next: ReadonlyMap<string, { usageCounter?: number; usageLimit?: number }>, readAt: number): number {
    let n = 0;
    for (const code of this.ledger.confirmedCodes()) {
      const c = next.get(code);
      const limit = c?.usageLimit ?? 0;
      const coveredByPush = c === undefined || limit === 0 || (c.usageCounter ?? 0) >= limit;
      n += this.ledger.countedByPush(code, readAt - PUSH_SKEW_MS, coveredByPush);
    }
    if (n > 0) this.ledgerChanged();
    return n;
  }

  /**
   * Persists sessions and profiles (pruned: sessions older than three days, then oldest first past 50,000 except
   * those still holding a code).
   */
  saveSessions(): Promise<void> {
    const run = this.#sessionsQueue.then(() => this.#saveSessions());
    this.#sessionsQueue = run.catch(() => undefined);
    return run;
  }

  async #saveSessions(): Promise<void> {
    const cutoff = this.#clock.now() - SESSION_KEEP_MS;
    let released = 0;
    const drop = (id: string) => {
      // An open session pruned will never close here: its held codes are free again.
      released += this.ledger.releaseHolds(id, this.#clock.now());
      this.sessions.delete(id);
    };
    for (const [id, s] of this.sessions) if (Date.parse(s.updated) < cutoff) drop(id);
    // Past the cap, oldest first, but never a session that still holds a code before its three days are up: its
    // terminal may yet close it, and releasing the hold now would let another session use the code as well.
    if (this.sessions.size > MAX_SESSIONS) {
      for (const id of this.sessions.keys()) {
        if (this.sessions.size <= MAX_SESSIONS) break;
        if (this.ledger.heldBy(id).length === 0) drop(id);
      }
    }
    if (released > 0) {
      this.#log.info({ released }, 'holds of abandoned sessions released');
      await this.ensureLedgerSavedDirty();
    }
    while (this.profiles.size > MAX_PROFILES) this.profiles.delete(this.profiles.keys().next().value as string);
    const data: SessionsSnapshot = { lastSeq: this.#lastSeq, sessions: [...this.sessions.values()], profiles: [...this.profiles.values()] };
    await this.#store.save({ kind: 'sessions', version: data.lastSeq, savedAt: this.#clock.now(), data });
    // The snapshot holds everything up to lastSeq: older log lines are no longer needed.
    if (this.#stateLog && this.#stateLog.lines > 0) await this.#stateLog.compact((l) => l.seq > data.lastSeq);
    for (const seq of this.#unlogged.keys()) if (seq <= data.lastSeq) this.#unlogged.delete(seq);
    for (const [k, seq] of this.#seqOf) if (seq <= data.lastSeq) this.#seqOf.delete(k);
  }

  /** How much the state keeps in memory, by map (README "Memory and retention"). */
  sizes(): Record<string, number> {
    const l = this.ledger.sizes();
    const y = this.loyalty.sizes();
    return {
      sessions: this.sessions.size,
      followed: this.followed.size,
      profiles: this.profiles.size,
      unlogged: this.#unlogged.size,
      seqOf: this.#seqOf.size,
      ledgerCodes: l.codes,
      ledgerHolds: l.holds,
      ledgerUses: l.uses,
      loyaltySpending: y.spending,
      loyaltyConfirmed: y.confirmed,
      stateLogLines: this.#stateLog?.lines ?? 0,
    };
  }

  /** The session as the shop knows it: answered locally, or followed from upstream answers. */
  session(id: string): LocalSession | undefined {
    const local = this.sessions.get(id);
    if (local) return local;
    const followed = this.followed.get(id);
    return followed ? materialize(followed) : undefined;
  }

  /** Records an upstream-answered session (least recently updated dropped past `FOLLOW_MAX`). */
  follow(s: FollowedSession): void {
    this.followed.delete(s.integrationId);
    this.followed.set(s.integrationId, s);
    if (this.followed.size > FOLLOW_MAX) this.followed.delete(this.followed.keys().next().value as string);
  }

  /** Remembers a profile's attributes and audiences (from updates passing through and upstream answers). */
  rememberProfile(p: ProfileInput): void {
    const prev = this.profiles.get(p.integrationId);
    this.profiles.delete(p.integrationId); // re-insert: Map order doubles as least-recently-seen order
    this.profiles.set(p.integrationId, {
      integrationId: p.integrationId,
      attributes: { ...(prev?.attributes ?? {}), ...(p.attributes ?? {}) },
      audienceMemberships: p.audienceMemberships ?? prev?.audienceMemberships ?? [],
    });
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.ensureLedgerSaved();
    await this.saveSessions();
  }

  #applyOps(r: JournalRecord): void {
    if (r.kind !== 'updateSession') return;
    this.ledger.apply(r.ledgerOps as LedgerOp[]);
    this.loyalty.apply(r.loyaltyOps as LoyaltyOp[]);
  }

  /** Replays a record's effect on sessions/profiles (on restart; live answers pass the new session in). */
  #applySession(r: JournalRecord, at: number): void {
    switch (r.kind) {
      case 'updateSession':
        this.sessions.set(r.sessionId, sessionFromRecord(r));
        break;
      case 'returnItems':
        this.#tryReplay(r.sessionId, (prev) => applyReturn(prev, r.sessionId, r.body.return.returnedCartItems, at));
        break;
      case 'reopenSession':
        this.#tryReplay(r.sessionId, (prev) => applyReopen(prev, r.sessionId, at));
        break;
      case 'updateProfile': {
        const attrs = r.body.attributes;
        this.rememberProfile({ integrationId: r.profileId, ...(attrs && typeof attrs === 'object' ? { attributes: attrs as Record<string, unknown> } : {}) });
        break;
      }
      case 'trackEvent':
        break;
    }
  }

  #tryReplay(id: string, f: (prev: LocalSession | undefined) => LocalSession): void {
    try {
      this.sessions.set(id, f(this.sessions.get(id)));
    } catch {
      // The session's earlier state was pruned or delivered; upstream has it, nothing to rebuild here.
    }
  }
}
