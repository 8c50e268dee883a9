/**
 * The Management API's rate limit: "a maximum of 3 requests per second for each of these endpoints"
 * (docs.talon.one/management-api, every operation's description: "Rate limit: 3 requests per second").
 * Talon.One does not publish how it counts; the emulator counts per endpoint (route template, e.g.
 * `GET /v1/applications/{applicationId}/campaigns/{campaignId}/coupons/no_total`, whatever the ids) and per
 * sliding second: a request is accepted when fewer than `perSecond` requests of that endpoint were accepted in
 * the 1,000 ms before it, else it is answered `429` with `Retry-After` (whole seconds, RFC 9110 §10.2.3).
 *
 * The counters are for tests: every arrival is counted (accepted or not), with the most arrivals seen in any
 * 1,000 ms window, the 429s given, and the arrivals that came while a `Retry-After` given earlier had not yet
 * passed (a client that does not honour it).
 */

export interface EndpointCounters {
  /** Requests that arrived (accepted and refused). */
  requests: number;
  accepted: number;
  /** Answered 429. */
  rejected: number;
  /** The most arrivals in any 1,000 ms window. */
  maxPerSecond: number;
  /** Arrivals before the `Retry-After` of an earlier 429 had passed. */
  retryAfterIgnored: number;
}

interface EndpointState extends EndpointCounters {
  /** Arrival times in the last second (all arrivals), for `maxPerSecond`. */
  arrivals: number[];
  /** Accepted times in the last second, for the limit itself. */
  acceptedTimes: number[];
  /** Until when the last 429's Retry-After asked the client to wait. */
  blockedUntil: number;
}

const WINDOW_MS = 1000;

export class ManagementRateLimit {
  readonly #perSecond: number;
  readonly #now: () => number;
  #endpoints = new Map<string, EndpointState>();

  /** `now` is monotonic-enough wall time in ms (the emulator's clock). */
  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#now = now;
  }

  get perSecond(): number {
    return this.#perSecond;
  }

  /** Counts one arrival; returns null when accepted, else the Retry-After in whole seconds. */
  arrive(endpoint: string): number | null {
    const t = this.#now();
    let s = this.#endpoints.get(endpoint);
    if (!s) {
      s = { requests: 0, accepted: 0, rejected: 0, maxPerSecond: 0, retryAfterIgnored: 0, arrivals: [], acceptedTimes: [], blockedUntil: 0 };
      this.#endpoints.set(endpoint, s);
    }
    s.requests++;
    if (t < s.blockedUntil) s.retryAfterIgnored++;
    // Half-open window (t - 1000, t]: a client spacing its requests 1000/N ms apart never has N + 1 in one.
    while (s.arrivals.length > 0 && (s.arrivals[0] as number) <= t - WINDOW_MS) s.arrivals.shift();
    s.arrivals.push(t);
    if (s.arrivals.length > s.maxPerSecond) s.maxPerSecond = s.arrivals.length;
    while (s.acceptedTimes.length > 0 && (s.acceptedTimes[0] as number) <= t - WINDOW_MS) s.acceptedTimes.shift();
    if (s.acceptedTimes.length < this.#perSecond) {
      s.acceptedTimes.push(t);
      s.accepted++;
      return null;
    }
    s.rejected++;
    const freeAt = (s.acceptedTimes[0] as number) + WINDOW_MS;
    const retryAfter = Math.max(1, Math.ceil((freeAt - t) / 1000));
    s.blockedUntil = Math.max(s.blockedUntil, t + retryAfter * 1000);
    return retryAfter;
  }

  counters(): Record<string, EndpointCounters> {
    const out: Record<string, EndpointCounters> = {};
    for (const [k, s] of this.#endpoints) {
      out[k] = { requests: s.requests, accepted: s.accepted, rejected: s.rejected, maxPerSecond: s.maxPerSecond, retryAfterIgnored: s.retryAfterIgnored };
    }
    return out;
  }

  reset(): void {
    this.#endpoints = new Map();
  }
}
