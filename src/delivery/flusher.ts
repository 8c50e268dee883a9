/**
 * The flusher (README "Durability and the journal"): replays journal records upstream.
 *
 * - Per key (`session:<id>`, `profile:<id>`): strict seq order, at most one request in flight; overall at
 *   most `concurrency` keys in flight. Keys take turns (FIFO of ready keys); a key backing off is parked
 *   in a timer heap and blocks nobody else.
 * - `Idempotency-Key` = the journal id of the record sent (of the last record of a coalesced group). A
 *   group is frozen once tried, so every retry carries the same key; after a restart the same records give
 *   the same group unless more records arrived (then a later close is sent, which upstream needs anyway).
 * - Upstream is called with `attempts: 1`; 409/429/5xx/408/401/403 and network errors are retried here
 *   with capped exponential backoff and full jitter per key. While `upstream.health.state` is `down` the
 *   background flush pauses (in-flight requests finish) until health changes (the gateway's probe marks it
 *   up); `flushNow` ignores the pause. Other 4xx → dead letters with the upstream body text: written to the
 *   dead-letter store (durable) first, then marked delivered in the journal, so their segment can go.
 * - Order with dead letters (README "Dead letters"): a dead letter does not stop its key. Before a send, every
 *   older dead letter of the key is marked durably as overtaken (`noteLaterSent`), so it is no longer retried
 *   out of order; a retried one (`redeliver`) is queued in seq order, ahead of its key's later records.
 * - One attempt and its outcome: flush-send.ts; old-record and 400-on-closed rules: flush-check.ts;
 *   coalescing: coalesce.ts; reconciliation: reconciliation.ts.
 * - Delivered seqs are marked in batches (flush-marks.ts: `beforeMarkDelivered`, then `markDelivered`)
 *   while the key goes on with its next record: an unmarked delivery is only replayed, which upstream dedupes.
 * - A key with a live terminal call not known finished (`liveCalls`: e.g. one that missed its deadline and may
 *   still reach Talon.One) is held: none of its records is sent until it has none; other keys go on.
 */
import type { JournalRecord } from '../checkout/records.js';
import type { Effect } from '../engine/index.js';
import { backoffDelay } from '../platform/backoff.js';
import { MAX_GROUP, coalesceHead } from './coalesce.js';
import { DEAD_LETTERED, DeliveryMarker } from './flush-marks.js';
import { DeadLetter } from './dead-letter-store.js';
import { type Outcome, type SendContext, deliverGroup } from './flush-send.js';
import { DueTimer } from './flush-timer.js';
import { reconcileDelivered } from './reconciliation.js';
import type { JournalEntry } from '../journal/index.js';
import type { FlushReport, FlusherDeps, FlusherStats } from './flush-types.js';

export type { FlushReport, FlusherDeps, FlusherStats, LiveCallsPort } from './flush-types.js';

/**
 * A queued record: the seq of a journal record (its entry is made from the journal's compact index when the key is
 * sent, so a backlog of tens of thousands of records is not held as entry objects here), or a retried dead letter.
 */
type Queued = number | DeadLetter;

const seqOf = (q: Queued): number => (typeof q === 'number' ? q : q.seq);

interface KeyState {
  readonly key: string;
  /** Undelivered records of this key, seq order. */
  queue: Queued[];
  inFlight: boolean;
  ready: boolean;
  /** Consecutive retryable failures of the head group. */
  attempt: number;
  /** clock.monotonic() before which the key is not tried again. */
  dueAt: number;
  /** The group being retried: same records, same Idempotency-Key on every try. */
  frozen: JournalEntry[] | undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Queues shorter than this are copied to size when a record is added instead of grown by push. */
const SMALL_QUEUE = 8;

/** Every record the key had queued was delivered meanwhile (see `#entries`). */
class EmptyQueue extends Error {}

/** The entry of a frozen group and a queued record are the same record (a dead letter or a journal record). */
function sameRecord(e: JournalEntry, q: Queued): boolean {
  return typeof q === 'number' ? !(e instanceof DeadLetter) && e.seq === q : e === q;
}
const LIVE_MAX_WAITS = 100;
const DEFAULT_FLUSH_TIMEOUT_MS = 30_000;

export class Flusher {
  readonly #d: FlusherDeps;
  readonly #retry: { baseMs: number; maxMs: number };
  readonly #random: () => number;
  readonly #oldMs: number;
  readonly #keys = new Map<string, KeyState>();
  /**
   * Journal records are queued once each, in seq order (appends are notified in seq order; the backlog at attach is
   * read after the last one queued): the highest seq queued so far dedupes them without a set of every seq.
   */
  #queuedThrough = 0;
  /** Seqs of retried dead letters queued, in flight or awaiting their delivery mark (dedupes `redeliver`). */
  readonly #knownDead = new Set<number>();
  #ready: KeyState[] = [];
  #readyHead = 0;
  readonly #timer: DueTimer<KeyState>;
  readonly #marker: DeliveryMarker;
  readonly #send: SendContext;
  #unsubscribe: (() => void) | undefined;
  #healthHooked = false;
  #liveHooked = false;
  #running = false;
  #closing = false;
  #force = 0;
  #dispatchQueued = false;
  #inFlight = 0;
  #queued = 0;
  readonly #tasks = new Set<Promise<void>>();
  #idleWaiters: (() => void)[] = [];
  #delivered = 0;
  #deadLettered = 0;
  #retried = 0;
  #lastError: string | null = null;
  #lastFlushAt: number | null = null;

  constructor(deps: FlusherDeps) {
    this.#d = deps;
    this.#retry = deps.retry ?? { baseMs: 250, maxMs: 30_000 };
    this.#random = deps.random ?? Math.random;
    this.#oldMs = deps.oldRecordMs ?? 23 * 60 * 60 * 1000;
    if (!(deps.concurrency >= 1)) throw new RangeError(`flush concurrency must be >= 1, got ${deps.concurrency}`);
    this.#timer = new DueTimer<KeyState>(
      deps.clock,
      (ks, at) => ks.dueAt === at, // stale when cut short by flushNow or a health change
      (due) => {
        for (const ks of due) {
          ks.dueAt = 0;
          this.#makeReady(ks);
        }
        this.#scheduleDispatch();
      },
    );
    this.#marker = new DeliveryMarker({
      journal: deps.journal,
      deadLetters: deps.deadLetters,
      now: () => deps.clock.now(),
      ...(deps.beforeMarkDelivered ? { beforeMarkDelivered: deps.beforeMarkDelivered } : {}),
      ...(deps.onDiskFull ? { onDiskFull: deps.onDiskFull } : {}),
      onMarked: (batch) => {
        for (const b of batch) {
          if (b.from === 'deadLetters') this.#knownDead.delete(b.seq);
          if (b.how === DEAD_LETTERED) continue; // left the journal for the dead-letter store
          this.#delivered++;
          this.#lastFlushAt = deps.clock.now();
          deps.metrics?.flushDelivered.inc({ kind: b.kind, how: b.how });
        }
      },
      onFailed: (err, batch) => {
        // Delivered upstream but not recorded: replayed after a restart, which upstream dedupes.
        this.#lastError = `mark delivered failed: ${(err as Error).message}`;
        deps.log.error({ err, seqs: batch.length }, 'flusher: could not mark records delivered; trying again');
      },
      onIdle: () => this.#checkIdle(),
      sleep: (ms, signal) => deps.clock.sleep(ms, signal),
    });
    this.#send = {
      upstream: deps.upstream, clock: deps.clock, oldRecordMs: this.#oldMs, reconcile: (r, l, e) => reconcileDelivered(this.#d, r, l, e, (a) => this.#alert(a)),
      ...(deps.serializeUpdate ? { serializeUpdate: deps.serializeUpdate } : {}),
    };
    if (this.#oldMs >= DAY_MS) deps.log.warn({ oldRecordMs: this.#oldMs }, 'flusher: oldRecordMs ≥ 24 h: idempotency keys may have expired upstream');
  }

  /** Background flushing: whenever the upstream is not `down`; wakes on appends and on health changes. */
  start(): void {
    this.#closing = false;
    this.#running = true;
    this.#attach();
    this.#scheduleDispatch();
  }

  /** Stops dispatching, waits for requests in flight and pending delivery marks. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#closing = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#timer.stop();
    this.#marker.stop();
    while (this.#tasks.size > 0 || this.#marker.busy) {
      await Promise.all([...this.#tasks, this.#marker.drain()]);
    }
    this.#wakeIdle();
  }

  /**
   * Drains what can be delivered now, even while health says `down` (an operator's `journal flush`):
   * backoffs are cut short once, then retried as usual until everything queued is delivered or dead,
   * or `timeoutMs` (default 30 s) passes.
   */
  async flushNow(opts: { timeoutMs?: number } = {}): Promise<FlushReport> {
    const t0 = performance.now();
    const before = { d: this.#delivered, x: this.#deadLettered, r: this.#retried };
    this.#closing = false;
    this.#attach();
    this.#force++;
    for (const ks of this.#keys.values()) {
      if (ks.dueAt > 0) {
        ks.dueAt = 0;
        this.#makeReady(ks);
      }
    }
    this.#scheduleDispatch();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      timedOut = await Promise.race([
        this.#idle().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), opts.timeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#force--;
    }
    return {
      delivered: this.#delivered - before.d,
      deadLettered: this.#deadLettered - before.x,
      retried: this.#retried - before.r,
      remaining: this.#queued,
      timedOut,
      durationMs: Math.round(performance.now() - t0),
    };
  }

  /**
   * Retried dead letters (src/delivery/dead-letters.ts) go back on the delivery path: queued in seq order
   * with their key's journal records, sent under their own id.
   */
  redeliver(letters: readonly DeadLetter[]): void {
    for (const d of letters) this.#enqueueDead(d);
  }

  /**
   * True while the key (`session:<id>`, `profile:<id>`) has records queued or a send in flight (dead
   * letters excluded unless retried). Checkout uses it to keep a session local until its backlog is upstream.
   */
  pending(key: string): boolean {
    const ks = this.#keys.get(key);
    return ks !== undefined && (ks.queue.length > 0 || ks.inFlight);
  }

  stats(): FlusherStats {
    let retrying = 0;
    for (const ks of this.#keys.values()) if (ks.attempt > 0) retrying++;
    return {
      inFlight: this.#inFlight,
      delivered: this.#delivered,
      deadLettered: this.#deadLettered,
      retrying,
      lastError: this.#lastError,
      lastFlushAt: this.#lastFlushAt === null ? null : new Date(this.#lastFlushAt).toISOString(),
      queued: this.#queued,
      paused: this.#paused(),
    };
  }

  // ---- queueing -------------------------------------------------------------------------------

  #attach(): void {
    const live = this.#d.liveCalls;
    if (live && !this.#liveHooked) {
      this.#liveHooked = true;
      live.onFinished((key) => {
        // The key's live call is over: its held records may go now.
        const ks = this.#keys.get(key);
        if (!ks) return;
        this.#makeReady(ks);
        this.#scheduleDispatch();
      });
    }
    if (!this.#healthHooked) {
      this.#healthHooked = true;
      this.#d.upstream.health.onChange((s) => {
        if (s === 'down') return;
        // Back from down (the probe saw it): everything parked may go now.
        for (const ks of this.#keys.values()) {
          if (ks.dueAt > 0) {
            ks.dueAt = 0;
            this.#makeReady(ks);
          }
        }
        this.#scheduleDispatch();
      });
    }
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.#d.journal.onAppend((e) => this.#enqueue(e.seq, e.key));
    this.#d.journal.forEachUndelivered(this.#queuedThrough, (seq, key) => this.#enqueue(seq, key));
    for (const d of this.#d.deadLetters.retrying()) this.#enqueueDead(d); // retries asked for before a restart
  }

  #enqueue(seq: number, key: string): void {
    if (seq <= this.#queuedThrough) return;
    this.#queuedThrough = seq;
    this.#add(seq, key);
  }

  #enqueueDead(d: DeadLetter): void {
    if (this.#knownDead.has(d.seq)) return;
    this.#knownDead.add(d.seq);
    this.#add(d, d.key);
  }

  #add(item: Queued, key: string): void {
    let ks = this.#keys.get(key);
    if (!ks) {
      ks = { key, queue: [], inFlight: false, ready: false, attempt: 0, dueAt: 0, frozen: undefined };
      this.#keys.set(key, ks);
    }
    const q = ks.queue;
    const seq = seqOf(item);
    // Most keys hold a few records: their arrays are made to size by concat (a push grows an array to 17 slots at once,
    // ~150 bytes a key for the ~16,000 sessions an afternoon outage leaves waiting).
    if (q.length < SMALL_QUEUE && (q.length === 0 || seqOf(q[q.length - 1] as Queued) < seq)) ks.queue = q.concat(item);
    else if (seqOf(q[q.length - 1] as Queued) < seq) q.push(item);
    else {
      // A retried dead letter: it goes back in seq order, ahead of the key's later records.
      let i = q.findIndex((x) => seqOf(x) > seq);
      if (i < 0) i = q.length;
      q.splice(i, 0, item);
    }
    this.#queued++;
    this.#makeReady(ks);
    this.#scheduleDispatch();
  }

  #makeReady(ks: KeyState): void {
    if (ks.ready || ks.inFlight || ks.queue.length === 0 || ks.dueAt > 0) return;
    ks.ready = true;
    this.#ready.push(ks);
  }

  #paused(): boolean {
    return this.#force === 0 && this.#d.upstream.health.state === 'down';
  }

  #scheduleDispatch(): void {
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  #dispatch(): void {
    if (this.#closing || !(this.#running || this.#force > 0) || this.#paused()) return;
    while (this.#inFlight < this.#d.concurrency && this.#readyHead < this.#ready.length) {
      const ks = this.#ready[this.#readyHead++] as KeyState;
      ks.ready = false;
      if (ks.inFlight || ks.queue.length === 0 || ks.dueAt > 0 || this.#held(ks)) continue;
      const task = this.#runKey(ks);
      this.#tasks.add(task);
      void task.finally(() => this.#tasks.delete(task));
    }
    if (this.#readyHead > 1024 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
  }

  // ---- one key's send ---------------------------------------------------------------------------

  async #runKey(ks: KeyState): Promise<void> {
    ks.inFlight = true;
    this.#inFlight++;
    this.#d.metrics?.flushInFlight.set(this.#inFlight);
    let group: JournalEntry[] = [];
    let outcome: Outcome | { t: 'held' };
    try {
      await this.#waitForLive();
      if (this.#held(ks)) outcome = { t: 'held' }; // a live call of the key started meanwhile
      else {
        // A retried dead letter came first.
        if (ks.frozen && !sameRecord(ks.frozen[0] as JournalEntry, ks.queue[0] as Queued)) ks.frozen = undefined;
        group = ks.frozen ?? coalesceHead(this.#entries(ks));
        if (group.length === 0) throw new EmptyQueue();
        ks.frozen = group;
        // Older dead letters of this key can no longer be retried in order once this goes: durable first.
        const noted = this.#d.deadLetters.noteLaterSent(ks.key, group);
        if (noted) await noted;
        outcome = await deliverGroup(this.#send, group);
      }
    } catch (err) {
      if (err instanceof EmptyQueue) outcome = { t: 'held' }; // nothing left to send: the key is dropped below
      else {
        this.#d.log.error({ err, key: ks.key }, 'flusher: unexpected error; will retry');
        outcome = { t: 'retry', reason: `internal: ${(err as Error).message}` };
      }
    }
    try {
      if (outcome.t === 'held') {
        // Nothing sent; `liveCalls.onFinished` makes the key ready again.
      } else if (outcome.t === 'retry') this.#scheduleRetry(ks, outcome.reason);
      else if (outcome.t === 'dead' && !(await this.#deadLetter(group, outcome))) {
        this.#scheduleRetry(ks, `dead letter not recorded: ${this.#lastError ?? ''}`);
      } else {
        const seqs = new Set(group.map((e) => e.seq));
        ks.queue = ks.queue.filter((q) => !seqs.has(seqOf(q)));
        this.#queued -= group.length;
        ks.frozen = undefined;
        ks.attempt = 0;
        if (outcome.t === 'delivered') this.#marker.add(group, outcome.how);
      }
    } finally {
      ks.inFlight = false;
      this.#inFlight--;
      this.#d.metrics?.flushInFlight.set(this.#inFlight);
      if (ks.queue.length === 0 && !ks.frozen) this.#keys.delete(ks.key);
      else this.#makeReady(ks);
      this.#scheduleDispatch();
      this.#checkIdle();
    }
  }

  /**
   * The head of the key's queue as entries, as far as one send may coalesce (made now from the journal's index). A
   * queued seq the journal no longer holds as undelivered (marked delivered meanwhile) is dropped from the queue.
   */
  #entries(ks: KeyState): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (let i = 0; i < ks.queue.length && out.length < MAX_GROUP; ) {
      const q = ks.queue[i] as Queued;
      const e = typeof q === 'number' ? this.#d.journal.get(q) : q;
      if (e) {
        out.push(e);
        i++;
      } else {
        ks.queue.splice(i, 1);
        this.#queued--;
      }
    }
    return out;
  }

  /** True while the key has a live terminal call not known finished (woken by `liveCalls.onFinished`). */
  #held(ks: KeyState): boolean {
    return this.#d.liveCalls?.unfinished(ks.key) === true;
  }

  /** Live terminal requests keep priority: hold back (bounded) while they wait on the upstream. */
  async #waitForLive(): Promise<void> {
    const busy = this.#d.liveBusy;
    if (!busy) return;
    for (let i = 0; i < LIVE_MAX_WAITS && busy(); i++) await this.#d.clock.sleep(5 + Math.floor(this.#random() * 15));
  }

  #scheduleRetry(ks: KeyState, reason: string): void {
    ks.attempt++;
    this.#retried++;
    this.#lastError = reason;
    this.#d.metrics?.flushRetries.inc({ reason: reason.split(':')[0] ?? reason });
    const delay = Math.max(1, backoffDelay(ks.attempt - 1, this.#retry, this.#random));
    ks.dueAt = this.#d.clock.monotonic() + delay;
    this.#timer.schedule(ks.dueAt, ks);
  }

  /**
   * Records Talon.One refused for good: written to the dead-letter store first (durable), then marked in the
   * journal (so their segment can go; a crash between the two leaves them in both, which the start resolves).
   * False when the store could not be written (a full disk): the group stays queued and is sent again later.
   */
  async #deadLetter(group: JournalEntry[], o: { status: number; body: string }): Promise<boolean> {
    const at = this.#d.clock.now();
    try {
      await this.#d.deadLetters.add(group.map((e) => ({ entry: e, status: o.status, body: o.body, failedAt: at })));
    } catch (err) {
      this.#lastError = `could not record dead letters: ${(err as Error).message}`;
      this.#d.log.error({ err, seqs: group.map((e) => e.seq) }, 'flusher: could not record dead letters; the records are sent again later');
      return false;
    }
    this.#lastError = `dead letter: HTTP ${o.status}`;
    const fromJournal = group.filter((e) => !(e instanceof DeadLetter));
    // Retried dead letters refused again are back in the store: nothing to mark.
    for (const e of group) if (e instanceof DeadLetter) this.#knownDead.delete(e.seq);
    if (fromJournal.length > 0) this.#marker.add(fromJournal, DEAD_LETTERED);
    for (const e of group) {
      this.#deadLettered++;
      this.#d.metrics?.flushDeadLetters.inc({ kind: e.kind, status: String(o.status) });
      this.#d.log.warn({ seq: e.seq, id: e.id, key: e.key, kind: e.kind, status: o.status, body: o.body.slice(0, 500) }, 'flusher: record moved to dead letters');
      this.#alert({
        kind: 'deadLetter', seq: e.seq, id: e.id, key: e.key, recordKind: e.kind, status: o.status, body: o.body,
        terminalId: (e.payload as Partial<JournalRecord>).terminalId, at: new Date(at).toISOString(),
      });
    }
    return true;
  }

  #alert(a: { kind: 'deadLetter' | 'reconciliation'; [k: string]: unknown }): void {
    try {
      this.#d.onAlert?.(a);
    } catch (err) {
      this.#d.log.error({ err }, 'flusher: onAlert threw');
    }
  }

  // ---- idleness (flushNow) ------------------------------------------------------------------------

  #idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
  }

  #checkIdle(): void {
    if (this.#queued === 0 && this.#inFlight === 0 && !this.#marker.busy) this.#wakeIdle();
  }

  #wakeIdle(): void {
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const fn of w) fn();
  }
}
