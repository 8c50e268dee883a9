/**
 * Talon.One's Management API, read-only, as head office uses it: `Authorization: ManagementKey-v1 <key>`, every
 * request through its endpoint's token bucket (rate-limit.ts), `429` honoured (the endpoint waits its
 * `Retry-After`), 5xx, timeouts and network errors retried with full-jitter backoff, other 4xx not retried.
 * Paging follows the Management API's lists: `pageSize` + `skip`, bodies `{totalResultSize, data}` or
 * `{hasMore, data}` (docs.talon.one/management-api: `pageSize` up to 1000, `skip`).
 *
 * The key is only ever put in the request header: errors name the endpoint and the status, never the key.
 */
import { StoregateError } from '../core/errors.js';
import { backoffDelay, type BackoffPolicy } from '../platform/backoff.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { EndpointLimiter } from './rate-limit.js';

export interface HttpAnswer {
  status: number;
  header(name: string): string | null;
  text: string;
}

/** The network port: one GET. The default is Node's fetch (keep-alive). */
export type HttpGet = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<HttpAnswer>;

export const fetchGet: HttpGet = async (url, headers, signal) => {
  const res = await fetch(url, { headers, signal });
  return { status: res.status, header: (n) => res.headers.get(n), text: await res.text() };
};

export type Query = Record<string, string | number | boolean | undefined>;

export interface EndpointStats {
  requests: number;
  retries: number;
  rateLimited: number;
  errors: number;
  lastStatus: number | null;
}

export interface ManagementClientOptions {
  baseUrl: string;
  key: string;
  limiter: EndpointLimiter;
  clock: Clock;
  retry: BackoffPolicy & { attempts: number };
  timeoutMs: number;
  log: Logger;
  get?: HttpGet;
  random?: () => number;
}

export class ManagementClient {
  readonly #o: ManagementClientOptions;
  readonly #get: HttpGet;
  readonly #stats = new Map<string, EndpointStats>();

  constructor(o: ManagementClientOptions) {
    this.#o = o;
    this.#get = o.get ?? fetchGet;
  }

  /** Requests per endpoint since start (the benchmark compares them with the rate limit's floor). */
  stats(): Record<string, EndpointStats> {
    return Object.fromEntries([...this.#stats].map(([k, v]) => [k, { ...v }]));
  }

  async json<T>(endpoint: string, path: string, query: Query = {}, signal?: AbortSignal): Promise<T> {
    const text = await this.text(endpoint, path, query, signal);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new StoregateError('SG_ERR_UPSTREAM_UNAVAILABLE', `Talon.One answered ${endpoint} with a body that is not JSON`, { statusCode: 502, retryable: true });
    }
  }

  /** One GET (a CSV export answers text). */
  async text(endpoint: string, path: string, query: Query = {}, signal?: AbortSignal): Promise<string> {
    const url = this.#url(path, query);
    const s = this.#stat(endpoint);
    const bucket = this.#o.limiter.bucket(endpoint);
    const headers = { authorization: `ManagementKey-v1 ${this.#o.key}`, accept: 'application/json, application/csv, text/csv' };
    let failures = 0;
    let limited = 0;
    for (;;) {
      const release = await bucket.take(signal);
      s.requests++;
      let answer: HttpAnswer | null = null;
      let netError: unknown = null;
      const timeout = AbortSignal.timeout(this.#o.timeoutMs);
      try {
        answer = await this.#get(url, headers, signal ? AbortSignal.any([signal, timeout]) : timeout);
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        netError = err;
      } finally {
        release(); // the endpoint's next request may leave 1000/rate ms from now (rate-limit.ts)
      }
      s.lastStatus = answer?.status ?? null;
      if (answer && answer.status >= 200 && answer.status < 300) return answer.text;
      if (answer?.status === 429) {
        // Honour Retry-After (RFC 9110 §10.2.3: seconds or an HTTP date); without one, back off.
        s.rateLimited++;
        const ms = retryAfterMs(answer.header('retry-after'), this.#o.clock.now()) ?? backoffDelay(limited, this.#o.retry, this.#o.random);
        bucket.blockFor(ms);
        if (++limited > this.#o.retry.attempts * 4) throw this.#fail(endpoint, 'kept answering 429 (rate limited)', 429, true);
        this.#o.log.warn({ endpoint, retryAfterMs: ms }, 'Management API rate limit hit (429): waiting Retry-After');
        continue;
      }
      const retryable = answer === null || answer.status >= 500 || answer.status === 408;
      if (!retryable) {
        s.errors++;
        throw this.#refused(endpoint, answer as HttpAnswer);
      }
      if (++failures >= this.#o.retry.attempts) {
        s.errors++;
        const why = answer ? `answered ${answer.status}` : `could not be reached (${describe(netError)})`;
        throw this.#fail(endpoint, `${why} ${failures} times`, answer?.status ?? null, true);
      }
      s.retries++;
      const wait = backoffDelay(failures - 1, this.#o.retry, this.#o.random);
      this.#o.log.debug({ endpoint, status: answer?.status ?? null, err: netError ? describe(netError) : undefined, waitMs: wait }, 'Management API request failed; retrying');
      await this.#o.clock.sleep(wait, signal);
    }
  }

  /**
   * The pages of a list, from `skip`. Each page says where the next one starts (`next`, or null after the
   * last), so a caller that records `next` durably can resume there after a restart.
   */
  async *pages<T>(endpoint: string, path: string, query: Query, pageSize: number, skip = 0, signal?: AbortSignal): AsyncGenerator<{ items: T[]; skip: number; next: number | null }> {
    for (;;) {
      const body = await this.json<{ data?: T[]; hasMore?: boolean; totalResultSize?: number }>(endpoint, path, { ...query, pageSize, skip }, signal);
      const items = Array.isArray(body.data) ? body.data : [];
      const more = typeof body.hasMore === 'boolean' ? body.hasMore : typeof body.totalResultSize === 'number' ? skip + items.length < body.totalResultSize : items.length >= pageSize;
      const next = more && items.length > 0 ? skip + items.length : null;
      yield { items, skip, next };
      if (next === null) return;
      skip = next;
    }
  }

  #url(path: string, query: Query): string {
    const u = new URL(path, this.#o.baseUrl.endsWith('/') ? this.#o.baseUrl : `${this.#o.baseUrl}/`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  #stat(endpoint: string): EndpointStats {
    let s = this.#stats.get(endpoint);
    if (!s) this.#stats.set(endpoint, (s = { requests: 0, retries: 0, rateLimited: 0, errors: 0, lastStatus: null }));
    return s;
  }

  #refused(endpoint: string, a: HttpAnswer): StoregateError {
    let message = '';
    try {
      const b = JSON.parse(a.text) as { message?: unknown };
      if (typeof b.message === 'string') message = `: ${b.message.slice(0, 300)}`;
    } catch {
      // not JSON
    }
    if (a.status === 404) return new StoregateError('SG_ERR_NOT_FOUND', `Talon.One has no such resource (${endpoint}, 404)${message}`, { statusCode: 404 });
    const hint = a.status === 401 || a.status === 403 ? ' — check the Management API key (talon.managementKeyFile) and its read scopes' : '';
    return this.#fail(endpoint, `refused the request (${a.status})${message}${hint}`, a.status, false);
  }

  #fail(endpoint: string, what: string, status: number | null, retryable: boolean): StoregateError {
    return Object.assign(new StoregateError('SG_ERR_UPSTREAM_UNAVAILABLE', `Talon.One Management API ${endpoint} ${what}`, { statusCode: 502, retryable }), { upstreamStatus: status });
  }
}

/** Milliseconds a Retry-After value asks for, or null when absent or unreadable. */
export function retryAfterMs(v: string | null, nowMs: number): number | null {
  if (v === null || v.trim() === '') return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : null;
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string }; message?: string };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.code ?? e?.message ?? String(err);
}
