/**
 * The last hour at a glance: a ring of samples taken every `intervalMs` (30 s, 120 points) for the status
 * page's plots — upstream latency, journal depth, and terminal answers by source per interval. In memory only
 * (a restart starts a new hour), on the injected clock so tests step through time without sleeping.
 */
import type { Clock } from '../platform/clock.js';
import type { AnswerCounts } from './activity.js';

export interface HistoryReadings {
  /** Upstream latency p50 now (ms); null when unknown or no upstream is configured. */
  upstreamP50Ms: () => number | null;
  journalDepth: () => number;
  /** Cumulative answers by source since the start. */
  answers: () => AnswerCounts;
}

export interface HistoryPoint {
  /** End of the interval (ms since the epoch). */
  at: number;
  upstreamP50Ms: number | null;
  journalDepth: number;
  /** Answers during the interval, by source. */
  local: number;
  upstream: number;
  gateway: number;
}

export interface HistorySnapshot {
  intervalSec: number;
  /** Oldest first; the last one is the interval running now (partial). */
  points: HistoryPoint[];
}

export const HISTORY_INTERVAL_MS = 30_000;
export const HISTORY_POINTS = 120;

export class StatusHistory {
  readonly #clock: Clock;
  readonly #read: HistoryReadings;
  readonly #intervalMs: number;
  readonly #max: number;
  /** Ring buffer: `#next` is where the next point goes once it is full. */
  readonly #ring: HistoryPoint[] = [];
  #next = 0;
  #base: AnswerCounts = { upstream: 0, local: 0, gateway: 0 };
  #abort: AbortController | null = null;

  constructor(deps: { clock: Clock; readings: HistoryReadings; intervalMs?: number; points?: number }) {
    this.#clock = deps.clock;
    this.#read = deps.readings;
    this.#intervalMs = deps.intervalMs ?? HISTORY_INTERVAL_MS;
    this.#max = Math.max(2, deps.points ?? HISTORY_POINTS);
  }

  /** Samples every interval until `stop()`; never throws (a reading that fails skips one point). */
  start(): void {
    if (this.#abort) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#base = this.#read.answers();
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          await this.#clock.sleep(this.#intervalMs, abort.signal);
        } catch {
          return; // aborted
        }
        if (abort.signal.aborted) return;
        try {
          this.tick();
        } catch {
          // A reading failed (a part stopping): the plot shows a gap, nothing else is affected.
        }
      }
    })();
  }

  stop(): void {
    this.#abort?.abort();
    this.#abort = null;
  }

  /** Closes the running interval as one point (called by the timer; tests call it directly). */
  tick(): HistoryPoint {
    const p = this.#current();
    this.#base = { upstream: this.#base.upstream + p.upstream, local: this.#base.local + p.local, gateway: this.#base.gateway + p.gateway };
    if (this.#ring.length < this.#max) this.#ring.push(p);
    else this.#ring[this.#next] = p;
    this.#next = (this.#next + 1) % this.#max;
    return p;
  }

  /** The stored points, oldest first, and the running interval as the last one (at most `points`). */
  snapshot(): HistorySnapshot {
    const stored = this.#ring.length < this.#max ? [...this.#ring] : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
    const points = [...stored, this.#current()];
    return { intervalSec: this.#intervalMs / 1000, points: points.slice(-this.#max) };
  }

  #current(): HistoryPoint {
    const a = this.#read.answers();
    return {
      at: this.#clock.now(),
      upstreamP50Ms: this.#read.upstreamP50Ms(),
      journalDepth: this.#read.journalDepth(),
      local: a.local - this.#base.local,
      upstream: a.upstream - this.#base.upstream,
      gateway: a.gateway - this.#base.gateway,
    };
  }
}
