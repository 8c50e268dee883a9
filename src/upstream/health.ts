import type { Clock } from '../platform/clock.js';

export type UpstreamState = 'up' | 'degraded' | 'down';

export interface HealthSnapshot {
  state: UpstreamState;
  lastOkAt: string | null;
  latencyMsP50: number | null;
  latencyMsP95: number | null;
  consecutiveFailures: number;
  lastError: string | null;
  /** Upstream `Date` header minus the local clock, from the last response that had one. */
  clockSkewMs: number | null;
}

export interface HealthOptions {
  timeoutMs: number;
  clock: Clock;
  /** Consecutive failed calls that make the upstream `down`. */
  failureThreshold?: number;
  /** Latency samples kept for p50/p95. */
  window?: number;
  /** p95 is only trusted once this many samples exist. */
  minSamples?: number;
}

/**
 * Upstream health: `down` after consecutive failures or when p95 latency exceeds the call deadline,
 * `degraded` after a failure or when p95 passes half the deadline, `up` otherwise. Once down, only
 * `probeSucceeded()` (the background probe) brings it back: terminals' calls don't, so a flapping link
 * doesn't make every checkout wait for a timeout.
 */
export class UpstreamHealth {
  readonly #opts: Required<HealthOptions>; // timeoutMs can change (setTimeoutMs)
  readonly #samples: Float64Array;
  #count = 0;
  #next = 0;
  #sortedCache: Float64Array | null = null;
  #consecutiveFailures = 0;
  #lastOkAt: number | null = null;
  #lastError: string | null = null;
  #down = false;
  #clockSkewMs: number | null = null;
  #lastDateHeader = '';
  /** p95 refreshed every 16 samples, so the hot path does not sort on every call. */
  #p95: number | null = null;
  #listeners: ((s: UpstreamState) => void)[] = [];

  constructor(opts: HealthOptions) {
    this.#opts = { failureThreshold: 3, window: 256, minSamples: 20, ...opts };
    this.#samples = new Float64Array(this.#opts.window);
  }

  get state(): UpstreamState {
    if (this.#down) return 'down';
    const p95 = this.#p95;
    if (this.#consecutiveFailures > 0 || (p95 !== null && p95 > this.#opts.timeoutMs / 2)) return 'degraded';
    return 'up';
  }

  /** The call deadline changed (a pushed config): p95 is judged against the new one. */
  setTimeoutMs(timeoutMs: number): void {
    this.#opts.timeoutMs = timeoutMs;
  }

  onChange(fn: (s: UpstreamState) => void): void {
    this.#listeners.push(fn);
  }

  recordSuccess(latencyMs: number): void {
    const before = this.state;
    this.#push(latencyMs);
    this.#consecutiveFailures = 0;
    this.#lastOkAt = this.#opts.clock.now();
    const p95 = this.#p95;
    if (p95 !== null && p95 > this.#opts.timeoutMs) this.#markDown(`p95 latency ${Math.round(p95)} ms over ${this.#opts.timeoutMs} ms`);
    this.#emitIfChanged(before);
  }

  recordFailure(reason: string, latencyMs?: number): void {
    const before = this.state;
    if (latencyMs !== undefined) this.#push(latencyMs);
    this.#consecutiveFailures += 1;
    this.#lastError = reason;
    if (this.#consecutiveFailures >= this.#opts.failureThreshold) this.#markDown(reason);
    this.#emitIfChanged(before);
  }

  /** The background probe reached the upstream: forget the slow past and serve terminals upstream again. */
  probeSucceeded(latencyMs: number): void {
    const before = this.state;
    this.#down = false;
    this.#count = 0;
    this.#next = 0;
    this.#sortedCache = null;
    this.#p95 = null;
    this.#consecutiveFailures = 0;
    this.#lastOkAt = this.#opts.clock.now();
    this.#push(latencyMs);
    this.#emitIfChanged(before);
  }

  /** Upstream `Date` minus the local clock (null until a response had one). */
  get clockSkewMs(): number | null {
    return this.#clockSkewMs;
  }

  recordClockSkew(upstreamDateHeader: string | undefined, receivedAt: number): void {
    // The header changes once a second: parse it once, not on every response.
    if (!upstreamDateHeader || upstreamDateHeader === this.#lastDateHeader) return;
    this.#lastDateHeader = upstreamDateHeader;
    const t = Date.parse(upstreamDateHeader);
    // The Date header has 1 s resolution: a skew under a second is noise, not drift.
    if (Number.isFinite(t)) this.#clockSkewMs = Math.abs(t - receivedAt) < 1000 ? 0 : t - receivedAt;
  }

  snapshot(): HealthSnapshot {
    return {
      state: this.state,
      lastOkAt: this.#lastOkAt === null ? null : new Date(this.#lastOkAt).toISOString(),
      latencyMsP50: round(this.#percentile(50)),
      latencyMsP95: round(this.#percentile(95)),
      consecutiveFailures: this.#consecutiveFailures,
      lastError: this.#lastError,
      clockSkewMs: this.#clockSkewMs,
    };
  }

  #markDown(reason: string): void {
    this.#down = true;
    this.#lastError = reason;
  }

  #push(ms: number): void {
    this.#samples[this.#next] = ms;
    this.#next = (this.#next + 1) % this.#opts.window;
    this.#count = Math.min(this.#count + 1, this.#opts.window);
    this.#sortedCache = null;
    if ((this.#next & 15) === 0 || this.#count <= this.#opts.minSamples) this.#p95 = this.#percentile(95);
  }

  #percentile(p: number): number | null {
    if (this.#count < (p === 50 ? 1 : this.#opts.minSamples)) return null;
    // Sorted lazily and cached until the next sample (a typed array sorts numerically, without a comparator).
    this.#sortedCache ??= this.#samples.slice(0, this.#count).sort();
    const s = this.#sortedCache;
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? null;
  }

  #emitIfChanged(before: UpstreamState): void {
    const after = this.state;
    if (after !== before) for (const fn of this.#listeners) fn(after);
  }
}

function round(v: number | null): number | null {
  return v === null ? null : Math.round(v * 100) / 100;
}
