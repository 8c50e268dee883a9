/**
 * What an operator does with dead letters (README "Dead letters"): list them, retry them, discard one.
 *
 * Order guarantee: per session and per profile Talon.One receives records in journal order. A dead letter
 * does not stop its key (the shop keeps serving that customer, and later records — each carrying the whole
 * session — go on); it is skipped. It can be retried only while no later record of its key has been sent
 * to Talon.One since it failed (the flusher marks that durably before such a send): a retry then goes
 * ahead of the key's later records still waiting. Once a later record was sent, a retry would move
 * Talon.One's session back to an older state, so it is refused with 409 `SG_ERR_DEAD_LETTER_SUPERSEDED`
 * unless forced (an operator who knows better); discarding it is the usual answer.
 *
 * A retried dead letter is delivered from the dead-letter store on the flusher's path, under its own id as
 * `Idempotency-Key` (the one its failed sends carried), and leaves the store once Talon.One accepted it.
 */
import { StoregateError } from '../core/errors.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import { type DeadLetter, type DeadLetterStore, type DiscardRecord, LATER_SENT_UNKNOWN } from './dead-letter-store.js';

/** A dead letter as the admin API shows it. */
export interface DeadLetterView {
  seq: number;
  id: string;
  key: string;
  kind: string;
  /** When the record was journaled (ISO). */
  at: string;
  /** When Talon.One last refused it (ISO). */
  failedAt: string;
  status: number;
  upstreamBody: unknown;
  /** Being delivered again (an operator's retry). */
  retrying: boolean;
  /** Seq of a later record of the same key sent to Talon.One since (a retry then needs `force`); 0 = unknown. */
  laterSent: number | null;
}

export interface RetryResult {
  /** Seqs put back on the delivery path. */
  retried: number[];
  /** Seqs left as they are, with why. */
  skipped: { seq: number; reason: string }[];
  notFound: number[];
}

export interface DeadLettersDeps {
  store: DeadLetterStore;
  /** Hands retried dead letters to the flusher; null when no upstream is configured. */
  redeliver: ((letters: readonly DeadLetter[]) => void) | null;
  /**
   * Called with the seqs of records about to leave the store for good (discarded): what they built locally must
   * be durable elsewhere first, as before a delivery mark.
   */
  beforeRemove: (seqs: number[]) => Promise<void>;
  /** `P/alerts`. */
  alert: (a: { kind: 'deadLetterDiscarded'; [k: string]: unknown }) => void;
  clock: Clock;
  log: Logger;
}

const MAX_REASON = 1000;
const MAX_BY = 200;

function supersededReason(d: DeadLetter): string {
  return d.laterSent === LATER_SENT_UNKNOWN
    ? 'it was dead-lettered by an older storegate, which went on delivering later records of its key: one may have reached Talon.One'
    : `a later record of ${d.key} (seq ${String(d.laterSent)}) was sent to Talon.One after it failed`;
}

export class DeadLetters {
  readonly #d: DeadLettersDeps;

  constructor(deps: DeadLettersDeps) {
    this.#d = deps;
  }

  get count(): number {
    return this.#d.store.size;
  }

  list(): DeadLetterView[] {
    return this.#d.store.list().map((d) => ({
      seq: d.seq,
      id: d.id,
      key: d.key,
      kind: d.kind,
      at: new Date(d.at).toISOString(),
      failedAt: new Date(d.failedAt).toISOString(),
      status: d.status,
      upstreamBody: d.body,
      retrying: d.retrying,
      laterSent: d.laterSent,
    }));
  }

  discarded(): readonly DiscardRecord[] {
    return this.#d.store.discarded();
  }

  /**
   * Retries `seqs` (all dead letters when undefined). Named seqs that a later record of their key has
   * overtaken make the whole call fail with 409 `SG_ERR_DEAD_LETTER_SUPERSEDED` (nothing is retried) unless
   * `force`; "all" retries those that can go in order and lists the others as skipped.
   */
  async retry(seqs: readonly number[] | undefined, o: { force?: boolean; by?: string } = {}): Promise<RetryResult> {
    const redeliver = this.#d.redeliver;
    if (!redeliver) {
      throw new StoregateError('SG_ERR_UPSTREAM_UNAVAILABLE', 'no upstream configured (upstream.baseUrl and an API key): dead letters cannot be delivered', { statusCode: 503 });
    }
    const store = this.#d.store;
    const force = o.force === true;
    const out: RetryResult = { retried: [], skipped: [], notFound: [] };
    const picked: DeadLetter[] = [];
    const superseded: DeadLetter[] = [];
    for (const seq of seqs ?? store.list().map((d) => d.seq)) {
      const d = store.get(seq);
      if (!d) out.notFound.push(seq);
      else if (d.retrying) out.skipped.push({ seq, reason: 'already being retried' });
      else if (d.laterSent !== null && !force) superseded.push(d);
      else picked.push(d);
    }
    if (superseded.length > 0 && seqs !== undefined) {
      throw new StoregateError(
        'SG_ERR_DEAD_LETTER_SUPERSEDED',
        `dead letter${superseded.length > 1 ? 's' : ''} ${superseded.map((d) => d.seq).join(', ')} cannot be retried in order: ` +
          'sending now would put an older state after a newer one in Talon.One; discard it, or retry with force to send it anyway',
        { statusCode: 409, details: superseded.map((d) => ({ path: `/seqs/${d.seq}`, message: supersededReason(d) })) },
      );
    }
    for (const d of superseded) out.skipped.push({ seq: d.seq, reason: `${supersededReason(d)}; retry it with force, or discard it` });
    if (picked.length === 0) return out;
    await store.markRetry(picked.map((d) => d.seq), force, this.#d.clock.now());
    redeliver(picked);
    out.retried = picked.map((d) => d.seq);
    this.#d.log.info({ seqs: out.retried, force, by: o.by }, 'dead letters retried');
    return out;
  }

  /** Gives up one dead letter: audited (log line, durable record, `P/alerts`); Talon.One never gets it. */
  async discard(seq: number, o: { reason: unknown; by?: unknown }): Promise<DiscardRecord> {
    const reason = typeof o.reason === 'string' ? o.reason.trim() : '';
    if (reason === '' || reason.length > MAX_REASON) {
      throw new StoregateError('SG_ERR_BAD_REQUEST', `a reason (1..${MAX_REASON} characters) is required to discard a dead letter`, {
        statusCode: 400,
        details: [{ path: '/reason', message: 'required' }],
      });
    }
    const by = typeof o.by === 'string' && o.by.trim() !== '' ? o.by.trim().slice(0, MAX_BY) : 'admin API';
    const store = this.#d.store;
    const d = store.get(seq);
    if (!d) throw new StoregateError('SG_ERR_NOT_FOUND', `no dead letter with seq ${seq}`, { statusCode: 404 });
    if (d.retrying) {
      throw new StoregateError('SG_ERR_DEAD_LETTER_RETRYING', `dead letter ${seq} is being retried: wait until it is delivered or refused again`, { statusCode: 409 });
    }
    // What the record built locally (a coupon it used stays used) stays durable once it is no longer replayed.
    await this.#d.beforeRemove([seq]);
    const rec = await store.discard(seq, { reason, by, at: this.#d.clock.now() });
    const at = new Date(rec.at).toISOString();
    this.#d.log.warn({ seq: rec.seq, id: rec.id, key: rec.key, kind: rec.kind, status: rec.status, reason: rec.reason, by: rec.by, at }, 'dead letter discarded');
    this.#d.alert({ kind: 'deadLetterDiscarded', seq: rec.seq, id: rec.id, key: rec.key, recordKind: rec.kind, status: rec.status, reason: rec.reason, by: rec.by, at });
    return rec;
  }
}
