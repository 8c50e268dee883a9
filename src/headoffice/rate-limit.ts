/**
 * The Management API allows "a maximum of 3 requests per second for each of these endpoints"
 * (docs.talon.one/management-api: every operation says "Rate limit: 3 requests per second"). Each endpoint (a
 * route template: the ids in the path do not make another endpoint) gets its own token bucket, so endpoints are
 * pulled in parallel and none exceeds its rate.
 *
 * Why a bucket of ONE token by default: a bucket holding b tokens and refilled at r per second lets b + r
 * requests into one second (a full bucket drained at once, then the refill). With b = 3 that is 6 in a second,
 * twice the limit. With b = 1 requests simply leave at least 1/r apart, which is r in any one-second window.
 * A small margin on top of 1/r absorbs the jitter between our clock and Talon.One's (a request delayed on its
 * way must not land in the same second as the next one). A `429` blocks the endpoint until its `Retry-After`.
 */
import type { Clock } from '../platform/clock.js';

export interface BucketOptions {
  ratePerSec: number;
  /** Tokens the bucket holds (default 1: see above). */
  burst?: number;
  /** Added to the interval 1000/rate (default 10 ms). */
  marginMs?: number;
}

export class TokenBucket {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  #blockedUntil = 0;
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  constructor(o: BucketOptions, clock: Clock) {
    this.#clock = clock;
    this.#burst = Math.max(1, o.burst ?? 1);
    this.#intervalMs = 1000 / o.ratePerSec + (o.marginMs ?? 10);
    this.#tokens = this.#burst;
    this.#last = clock.monotonic();
  }

  /** Requests waiting for a token. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Resolves when a request may be sent now (first come, first served); rejects when `signal` aborts. */
  take(signal?: AbortSignal): Promise<void> {
    this.#waiting++;
    const p = this.#tail.then(() => this.#acquire(signal));
    this.#tail = p.catch(() => undefined);
    return p.finally(() => this.#waiting--);
  }

  /** A 429's Retry-After: nothing leaves before `ms` from now. */
  blockFor(ms: number): void {
    this.#blockedUntil = Math.max(this.#blockedUntil, this.#clock.monotonic() + ms);
  }

  async #acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const now = this.#clock.monotonic();
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) / this.#intervalMs);
      this.#last = now;
      const wait = Math.max(this.#blockedUntil - now, this.#tokens >= 1 ? 0 : (1 - this.#tokens) * this.#intervalMs);
      if (wait <= 0) {
        this.#tokens -= 1;
        return;
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
