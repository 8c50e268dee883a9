/**
 * The clock port. Business time (promotion windows, coupon validity, journal wall time, backoff)
 * comes from here so that offline, skew and expiry cases are tested without sleeping.
 */
export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Monotonic milliseconds (never goes back; unrelated to wall time). */
  monotonic(): number;
  /** Resolves after `ms` (real or fake time). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A clock tests move by hand. `sleep` resolves when `advance` passes its deadline. */
export class ManualClock implements Clock {
  #now: number;
  #mono = 0;
  #sleepers: { at: number; resolve: () => void }[] = [];

  constructor(startMs = Date.parse('2026-01-01T00:00:00Z')) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  monotonic(): number {
    return this.#mono;
  }

  set(ms: number): void {
    this.#now = ms;
  }

  advance(ms: number): void {
    this.#now += ms;
    this.#mono += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#mono);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#mono);
    for (const s of due) s.resolve();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#sleepers.push({ at: this.#mono + ms, resolve });
    });
  }
}
