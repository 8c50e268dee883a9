/**
 * The Management API allows "a maximum of 3 requests per second for each of these endpoints"
 * (docs.talon.one/management-api: every operation says "Rate limit: 3 requests per second"). Each endpoint (a
 * route template: the ids in the path do not make another endpoint) gets its own token bucket, so endpoints are
 * pulled side by side and none exceeds its rate.
 *
 * The bucket holds ONE token, and it is given back 1000/rate ms (+ a margin) after the previous request's
 * ANSWER, not after its start. What counts is when requests arrive at Talon.One, and a gap measured at our end
 * when a request is sent does not hold there: a pause in this process (a large page parsed, a set signed) or on
 * the way delays one request and not the next, and two arrive together. The benchmark saw exactly that (4 in
 * one second, then 429s) with a bucket refilled from the start of each request. Refilled from the answer, the
 * next request cannot reach Talon.One before it has answered the previous one plus 1000/rate ms, whatever the
 * delays. (A bucket of b tokens would also let b + rate requests into one second.) The cost: one round trip
 * per request on top of 1000/rate ms. A `429` blocks the endpoint until its `Retry-After`.
 */
import type { Clock } from '../platform/clock.js';

export interface BucketOptions {
  ratePerSec: number;
  /** Added to the interval 1000/rate (default 10 ms). */
  marginMs?: number;
}

export class TokenBucket {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  /** When (monotonic ms) the token is back. */
  #freeAt = 0;
  #out = false;
  #back: Promise<void> = Promise.resolve();
  #giveBack: () => void = () => undefined;
  #blockedUntil = 0;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  constructor(o: BucketOptions, clock: Clock) {
    this.#clock = clock;
    this.#intervalMs = 1000 / o.ratePerSec + (o.marginMs ?? 10);
  }

  /** Requests waiting for the token. */
  get waiting(): number {
    return this.#waiting;
  }

  /**
   * Resolves when a request may be sent now (first come, first served) with the function to call once its
   * answer (or failure) is in; rejects when `signal` aborts.
   */
  take(signal?: AbortSignal): Promise<() => void> {
    this.#waiting++;
    const p = this.#tail.then(() => this.#acquire(signal));
    this.#tail = p.then(() => undefined, () => undefined);
    return p.finally(() => this.#waiting--);
  }

  /** A 429's Retry-After: nothing leaves before `ms` from now. */
  blockFor(ms: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, this.#clock.monotonic() + ms);
  }

  async #acquire(signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.#out) {
        await this.#back;
        continue;
      }
      const now = this.#clock.monotonic();
      const wait = Math.max(this.#blockedUntil - now, this.#freeAt - now);
      if (wait <= 0) {
        this.#out = true;
        this.#back = new Promise((r) => (this.#giveBack = r));
        let given = false;
        return () => {
          if (given) return;
          given = true;
          this.#out = false;
          this.#freeAt = this.#clock.monotonic() + this.#intervalMs;
          this.#giveBack();
        };
      }
      await this.#clock.sleep(Math.ceil(wait), signal);
    }
  }
}

/** One bucket per endpoint, made on first use. */
export class EndpointLimiter {
  readonly #o: BucketOptions;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(o: BucketOptions, clock: Clock) {
    this.#o = o;
    this.#clock = clock;
  }

  bucket(endpoint: string): TokenBucket {
    let b = this.#buckets.get(endpoint);
    if (!b) this.#buckets.set(endpoint, (b = new TokenBucket(this.#o, this.#clock)));
    return b;
  }
}
