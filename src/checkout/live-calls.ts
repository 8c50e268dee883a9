/**
 * Live terminal calls to Talon.One per ordering key (`session:<id>`, `profile:<id>`), followed until they are
 * known finished, so that nothing else of the key reaches Talon.One before them (README "Durability and the
 * journal").
 *
 * A call that misses its deadline gets a local answer, whose journal record carries the call's
 * Idempotency-Key; but the request itself may already be on its way and still be executed by Talon.One. Such
 * an abandoned call is followed until undici reports its exchange over (answered, or failed / its socket
 * closed), and until then its key is held: the flusher sends none of the key's records and checkout forwards
 * no new call of the key live. A safety cap bounds the hold, so a wedged connection cannot hold a session
 * forever: past it the request is aborted (its socket destroyed), the key is released, and the event is
 * counted and logged.
 */
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { AbandonedEnd, AbandonedExchange } from '../upstream/client.js';

/** How long after its deadline an abandoned live call may hold its key (README "Durability and the journal"). */
export const ABANDONED_CAP_MS = 5_000;

export interface LiveCallsOptions {
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  /** Safety cap per abandoned call, from its deadline (default `ABANDONED_CAP_MS`). */
  capMs?: number;
}

/** One live call of a key, from `LiveCalls.begin` to its end. */
export interface LiveCall {
  /**
   * The deadline passed while the request was out (the terminal gets a local answer): the key stays held until
   * the exchange is over or the cap passes.
   */
  abandon(exchange: AbandonedExchange): void;
  /** The terminal's call is over. Releases the key unless the call was abandoned (then its exchange's end does). */
  end(): void;
}

export interface LiveCallsStats {
  /** Abandoned calls not yet finished. */
  abandoned: number;
  /** Abandoned calls given up on at the cap since start. */
  capped: number;
}

interface KeyCalls {
  /** Calls waiting for their answer within their deadline. */
  live: number;
  /** Calls past their deadline whose exchange is not over yet. */
  abandoned: number;
  /** Somebody was told the key is held: tell them when it is not. */
  watched: boolean;
}

export class LiveCalls {
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #capMs: number;
  readonly #keys = new Map<string, KeyCalls>();
  readonly #listeners = new Set<(key: string) => void>();
  #abandoned = 0;
  #capped = 0;

  constructor(opts: LiveCallsOptions) {
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
    this.#capMs = opts.capMs ?? ABANDONED_CAP_MS;
  }

  /** A live call of `key` starts. */
  begin(key: string): LiveCall {
    const k = this.#entry(key);
    k.live++;
    let ended = false;
    let abandoned = false;
    return {
      abandon: (exchange) => {
        if (abandoned) return;
        abandoned = true;
        if (ended) {
          this.#follow(key, this.#entry(key), exchange); // the call was over already: hold the key again
          return;
        }
        ended = true;
        k.live--;
        this.#follow(key, k, exchange);
      },
      end: () => {
        if (ended) return;
        ended = true;
        k.live--;
        this.#settle(key, k);
      },
    };
  }

  /**
   * True while `key` has a live call not known finished (within its deadline or abandoned): its records must
   * not be sent yet. The `onFinished` listeners hear when this turns false.
   */
  unfinished(key: string): boolean {
    const k = this.#keys.get(key);
    if (k === undefined) return false;
    k.watched = true;
    return true;
  }

  /** True while `key` has a call that missed its deadline and may still reach Talon.One. */
  abandoned(key: string): boolean {
    const k = this.#keys.get(key);
    return k !== undefined && k.abandoned > 0;
  }

  /** `fn(key)` is called when a key `unfinished` answered true for has no unfinished call any more. */
  onFinished(fn: (key: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  stats(): LiveCallsStats {
    return { abandoned: this.#abandoned, capped: this.#capped };
  }

  #entry(key: string): KeyCalls {
    let k = this.#keys.get(key);
    if (k === undefined) {
      k = { live: 0, abandoned: 0, watched: false };
      this.#keys.set(key, k);
    }
    return k;
  }

  #follow(key: string, k: KeyCalls, exchange: AbandonedExchange): void {
    k.abandoned++;
    this.#abandoned++;
    this.#metrics?.upstreamAbandonedInFlight.set(this.#abandoned);
    const t0 = this.#clock.monotonic();
    const cap = new AbortController();
    let done = false;
    const finish = (outcome: 'answered' | 'failed' | 'cap', end?: AbandonedEnd): void => {
      if (done) return;
      done = true;
      cap.abort();
      k.abandoned--;
      this.#abandoned--;
      this.#metrics?.upstreamAbandonedInFlight.set(this.#abandoned);
      this.#metrics?.upstreamAbandoned.inc({ outcome });
      const ms = Math.round(this.#clock.monotonic() - t0);
      if (outcome === 'cap') {
        this.#capped++;
        this.#log.warn(
          { key, capMs: this.#capMs },
          'an upstream call that missed its deadline is still unfinished at the cap: aborted, and its key released (it may still reach Talon.One after later records of the key)',
        );
      } else {
        this.#log.debug({ key, outcome, ms, ...(end?.how === 'answered' ? { status: end.status } : {}) }, 'an upstream call that missed its deadline finished');
      }
      this.#settle(key, k);
    };
    void exchange.finished.then((end) => finish(end.how, end));
    this.#clock.sleep(this.#capMs, cap.signal).then(
      () => {
        if (done) return;
        exchange.abort(new Error(`abandoned upstream call given up after ${this.#capMs} ms`)); // destroys its socket
        finish('cap');
      },
      () => undefined, // cancelled: the call finished first
    );
  }

  #settle(key: string, k: KeyCalls): void {
    if (k.live > 0 || k.abandoned > 0) return;
    if (this.#keys.get(key) === k) this.#keys.delete(key);
    if (!k.watched) return;
    for (const fn of this.#listeners) {
      try {
        fn(key);
      } catch (err) {
        this.#log.error({ err, key }, 'live calls: a finished listener threw');
      }
    }
  }
}
