import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Pool, undiciErrors } from './undici-parts.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { StoregateError } from '../core/errors.js';
import { backoffDelay, isRetryableStatus, type BackoffPolicy } from '../platform/backoff.js';
import { UpstreamHealth } from './health.js';
import { exchange, type AbandonedExchange } from './exchange.js';
import { upstreamIdempotencyKey } from './idempotency-key.js';

export type { AbandonedEnd, AbandonedExchange } from './exchange.js';

export type UpstreamOp =
  | 'updateSession'
  | 'returnItems'
  | 'reopenSession'
  | 'trackEvent'
  | 'updateProfile'
  | 'getInventory'
  | 'getBalances'
  | 'getSession'
  | 'probe';

export interface UpstreamCall {
  op: UpstreamOp;
  method: 'GET' | 'PUT' | 'POST';
  /** Path and query string, e.g. `/v2/customer_sessions/s1?dry=true`. */
  path: string;
  /** JSON text. */
  body?: string;
  /** Sent as `Idempotency-Key` on mutating calls; generated when absent so retries stay safe. */
  idempotencyKey?: string;
  /** Overall deadline for the call, retries included (default `upstream.timeoutMs`). */
  deadlineMs?: number;
  /** Retry policy override (the flusher retries on its own schedule and passes `attempts: 1`). */
  attempts?: number;
  /**
   * When given, an attempt still in flight when the deadline passes is not aborted: the call rejects with the
   * timeout as usual, and the exchange is handed here (synchronously, before the rejection) to be followed to
   * its end (src/upstream/exchange.ts). Without it, that attempt is aborted.
   */
  onAbandoned?: (abandoned: AbandonedExchange) => void;
}

export interface UpstreamResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
  attempts: number;
  idempotencyKey: string | undefined;
}

export type FailureKind = 'timeout' | 'connect' | 'reset' | 'http_5xx' | 'http_429' | 'http_409' | 'auth' | 'other';

/** The upstream could not give a usable answer within the deadline (connection refused, reset, timeout). */
export class UpstreamUnavailableError extends StoregateError {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, cause?: unknown) {
    super(kind === 'timeout' ? 'SG_ERR_UPSTREAM_TIMEOUT' : 'SG_ERR_UPSTREAM_UNAVAILABLE', message, {
      statusCode: kind === 'timeout' ? 504 : 503,
      retryable: true,
      cause,
    });
    this.name = 'UpstreamUnavailableError';
    this.kind = kind;
  }
}

export interface UpstreamClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  connections: number;
  retry: BackoffPolicy & { attempts: number };
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  random?: () => number;
}

const PROBE_PATH = '/v1/customer_profiles/storegate-probe/inventory';

/**
 * Talon.One client: one keep-alive undici `Pool`, a deadline per call (an AbortSignal on a precise timer,
 * because undici's own timers fire on a ~1 s grid), retries with capped full-jitter backoff on 409/429/5xx and network errors,
 * and the API key added here and nowhere else.
 */
export class UpstreamClient {
  readonly health: UpstreamHealth;
  #opts: UpstreamClientOptions;
  readonly #pool: Pool;
  readonly #prefix: string;
  readonly #authHeader: string;
  readonly #random: () => number;
  #skewWarned = false;

  constructor(opts: UpstreamClientOptions) {
    this.#opts = opts;
    const url = new URL(opts.baseUrl);
    this.#prefix = url.pathname.replace(/\/+$/, '');
    this.#pool = new Pool(url.origin, {
      connections: opts.connections,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 120_000,
      connect: { timeout: Math.max(opts.timeoutMs, 1000) },
    });
    this.#authHeader = `ApiKey-v1 ${opts.apiKey}`;
    this.#random = opts.random ?? Math.random;
    this.health = new UpstreamHealth({ timeoutMs: opts.timeoutMs, clock: opts.clock });
    this.health.onChange((s) => {
      opts.metrics.upstreamState.set(s === 'up' ? 1 : s === 'degraded' ? 0.5 : 0);
      opts.log.warn({ upstream: s, lastError: this.health.snapshot().lastError }, 'upstream health changed');
    });
    opts.metrics.upstreamState.set(1);
  }

  /** A pushed config changed the call deadline or the retry policy: the next call uses them. */
  reconfigure(opts: { timeoutMs: number; retry: BackoffPolicy & { attempts: number } }): void {
    this.#opts = { ...this.#opts, timeoutMs: opts.timeoutMs, retry: { ...opts.retry } };
    this.health.setTimeoutMs(opts.timeoutMs);
  }

  /**
   * One upstream call with retries inside the deadline. Resolves with the last HTTP answer (including 4xx, and
   * a 5xx/409/429 whose retries ran out); rejects with `UpstreamUnavailableError` when no answer came at all.
   */
  async request(call: UpstreamCall): Promise<UpstreamResponse> {
    const deadlineMs = call.deadlineMs ?? this.#opts.timeoutMs;
    const deadline = new Deadline(deadlineMs);
    try {
      return await this.#attempts(call, deadline, deadlineMs);
    } finally {
      deadline.clear();
    }
  }

  async #attempts(call: UpstreamCall, deadline: Deadline, deadlineMs: number): Promise<UpstreamResponse> {
    const start = this.#opts.clock.monotonic();
    const mutating = call.method !== 'GET';
    const idempotencyKey = mutating ? upstreamIdempotencyKey(call.idempotencyKey ?? randomUUID()) : undefined;
    const headers: Record<string, string> = { authorization: this.#authHeader, accept: 'application/json' };
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const attempts = call.attempts ?? this.#opts.retry.attempts;

    let last: { response?: UpstreamResponse; error?: UpstreamUnavailableError } = {};
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const t0 = this.#opts.clock.monotonic();
      try {
        const res = await exchange(this.#pool, { method: call.method, path: this.#prefix + call.path, headers, body: call.body }, deadline, call.onAbandoned);
        const latency = this.#opts.clock.monotonic() - t0;
        this.#skew(res.date);
        this.#opts.metrics.upstreamDuration.observe({ op: call.op, status: String(res.status) }, latency / 1000);
        const response: UpstreamResponse = { status: res.status, contentType: res.contentType, body: res.body, attempts: attempt, idempotencyKey };
        if (!isRetryableStatus(res.status)) {
          if (res.status === 401) this.health.recordFailure('upstream rejected the API key (401)', latency);
          else this.health.recordSuccess(latency);
          return response;
        }
        const kind: FailureKind = res.status === 429 ? 'http_429' : res.status === 409 ? 'http_409' : 'http_5xx';
        // 409 means upstream's per-session queue is full: the upstream itself is fine.
        if (kind === 'http_409') this.health.recordSuccess(latency);
        else this.health.recordFailure(`upstream answered ${res.status}`, latency);
        last = { response };
        if (!(await this.#backoff(call, attempt, attempts, kind, deadline))) break;
      } catch (err) {
        const latency = this.#opts.clock.monotonic() - t0;
        const error = classify(err, deadline, deadlineMs);
        this.#opts.metrics.upstreamDuration.observe({ op: call.op, status: error.kind }, latency / 1000);
        this.health.recordFailure(error.message, latency);
        last = { error };
        if (error.kind === 'timeout' || !(await this.#backoff(call, attempt, attempts, error.kind, deadline))) break;
      }
    }
    const total = this.#opts.clock.monotonic() - start;
    if (last.response) {
      this.#opts.metrics.upstreamErrors.inc({ kind: last.response.status >= 500 ? 'http_5xx' : `http_${last.response.status}` });
      return last.response;
    }
    const error = last.error ?? new UpstreamUnavailableError('other', 'no upstream attempt was made');
    this.#opts.metrics.upstreamErrors.inc({ kind: error.kind });
    this.#opts.log.debug({ op: call.op, kind: error.kind, ms: Math.round(total) }, 'upstream call failed');
    throw error;
  }

  /** A side-effect-free call that needs a valid API key; used by the background probe and `doctor`. */
  async probe(deadlineMs = this.#opts.timeoutMs): Promise<{ ok: boolean; status?: number; latencyMs: number; reason?: string }> {
    const t0 = this.#opts.clock.monotonic();
    try {
      const res = await this.request({ op: 'probe', method: 'GET', path: PROBE_PATH, deadlineMs, attempts: 1 });
      const latencyMs = this.#opts.clock.monotonic() - t0;
      if (res.status === 401) return { ok: false, status: 401, latencyMs, reason: 'API key rejected (401)' };
      if (res.status >= 500 || res.status === 429) return { ok: false, status: res.status, latencyMs, reason: `HTTP ${res.status}` };
      return { ok: true, status: res.status, latencyMs };
    } catch (err) {
      return { ok: false, latencyMs: this.#opts.clock.monotonic() - t0, reason: (err as Error).message };
    }
  }

  /** Tracks the upstream clock; warns once per excursion beyond 2 s (promotion windows depend on our clock). */
  #skew(dateHeader: string | undefined): void {
    this.health.recordClockSkew(dateHeader, this.#opts.clock.now());
    const skew = this.health.clockSkewMs;
    const off = skew !== null && Math.abs(skew) > 2000;
    if (off && !this.#skewWarned) this.#opts.log.warn({ clockSkewMs: skew }, 'local clock differs from Talon.One by more than 2 s');
    this.#skewWarned = off;
  }

  async close(): Promise<void> {
    await this.#pool.close().catch(() => this.#pool.destroy());
  }

  /** Sleeps before the next attempt; false when there is no next attempt or it would not fit the deadline. */
  async #backoff(call: UpstreamCall, attempt: number, attempts: number, reason: string, deadline: Deadline): Promise<boolean> {
    if (attempt >= attempts || deadline.aborted) return false;
    const delay = backoffDelay(attempt - 1, this.#opts.retry, this.#random);
    this.#opts.metrics.upstreamRetries.inc({ op: call.op, reason });
    const wake = new AbortController();
    const onDeadline = () => wake.abort(deadline.reason);
    deadline.once('abort', onDeadline);
    try {
      await this.#opts.clock.sleep(delay, wake.signal);
      return !deadline.aborted;
    } catch {
      return false;
    } finally {
      deadline.removeListener('abort', onDeadline);
    }
  }
}

/**
 * The deadline of one call, on a precise timer that is cleared when the call ends (undici's own timers fire
 * on a ~1 s grid; `AbortSignal.timeout`'s timer cannot be cancelled, so every finished call would stay
 * reachable for the whole deadline). A plain EventEmitter costs far less per call than an AbortController's
 * EventTarget (that was ~3% of the gateway's CPU per request).
 */
class Deadline extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(ms: number) {
    super();
    this.#timer = setTimeout(() => {
      this.aborted = true;
      this.reason = new DOMException(`upstream deadline of ${ms} ms passed`, 'TimeoutError');
      this.emit('abort');
    }, ms);
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

function classify(err: unknown, deadline: Deadline, deadlineMs: number): UpstreamUnavailableError {
  if (deadline.aborted) return new UpstreamUnavailableError('timeout', `upstream did not answer within ${deadlineMs} ms`, err);
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || err instanceof undiciErrors.ConnectTimeoutError) {
    return new UpstreamUnavailableError('connect', `cannot connect to upstream (${code || 'connect timeout'})`, err);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || err instanceof undiciErrors.SocketError) {
    return new UpstreamUnavailableError('reset', `upstream connection lost (${code || 'socket error'})`, err);
  }
  return new UpstreamUnavailableError('other', `upstream call failed (${code || (err as Error).name})`, err);
}
