/** Public types of the flusher (src/delivery/flusher.ts). */
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { UpstreamClient } from '../upstream/client.js';
import type { Journal } from '../journal/index.js';
import type { ReconciliationLog } from './reconciliation.js';
import type { DeadLetterStore } from './dead-letter-store.js';

export interface FlusherDeps {
  journal: Journal;
  upstream: UpstreamClient;
  clock: Clock;
  log: Logger;
  metrics?: Metrics;
  /** `journal.flushConcurrency`: keys with a request in flight at once. */
  concurrency: number;
  reconciliation: ReconciliationLog;
  /** Where records Talon.One refused for good go (and retried ones come from): src/delivery/dead-letter-store.ts. */
  deadLetters: DeadLetterStore;
  /** A delivery mark failed on a full disk: release the disk reserve; true if that freed space (flush-marks.ts). */
  onDiskFull?: () => Promise<boolean>;
  /** Backoff for 409/429/5xx/network, full jitter (default 250 ms .. 30 s). */
  retry?: { baseMs: number; maxMs: number };
  random?: () => number;
  /** Called with the seqs about to be marked delivered; the gateway persists its local state snapshot first. */
  beforeMarkDelivered?: (seqs: number[]) => Promise<void>;
  /** True while live terminal requests are waiting on the upstream: the flusher then holds back. */
  liveBusy?: () => boolean;
  /**
   * Live terminal calls per key (src/checkout/live-calls.ts): a key with one not known finished (e.g. one that
   * missed its deadline and may still reach Talon.One) is held, and its records wait until it has none.
   */
  liveCalls?: LiveCallsPort;
  /** Reconciliation entries and dead letters are also announced (published to P/alerts). */
  onAlert?: (a: { kind: 'deadLetter' | 'reconciliation'; [k: string]: unknown }) => void;
  /**
   * Called with each delivered session update and Talon.One's effects for it, before it is marked delivered
   * (the local state learns which coupon uses Talon.One now has).
   */
  onUpstreamEffects?: (rec: import('../checkout/records.js').JournalRecord, upstream: import('../engine/index.js').Effect[]) => void;
  /** Records older than this (wall time since append) are checked upstream first (default 23 h). */
  oldRecordMs?: number;
  /** The text a session update record is sent as (src/trim/: attributes no campaign reads left out); default: whole. */
  serializeUpdate?: (body: Record<string, unknown>) => { json: string };
}

/** What the flusher needs to know of live terminal calls. */
export interface LiveCallsPort {
  /** True while `key` has a live call that is not known finished: none of its records may be sent. */
  unfinished(key: string): boolean;
  /** Calls `fn(key)` once a key `unfinished` said true for has none any more. */
  onFinished(fn: (key: string) => void): () => void;
}

export interface FlushReport {
  /** Records marked delivered during this call (coalesced records count each). */
  delivered: number;
  deadLettered: number;
  /** Sends that failed retryably and were rescheduled. */
  retried: number;
  /** Undelivered records still queued (not dead letters) when the call returned. */
  remaining: number;
  timedOut: boolean;
  durationMs: number;
}

export interface FlusherStats {
  inFlight: number;
  delivered: number;
  deadLettered: number;
  /** Keys whose head record is waiting for a retry. */
  retrying: number;
  lastError: string | null;
  /** ISO time of the last delivery marked. */
  lastFlushAt: string | null;
  queued: number;
  paused: boolean;
}
