import { randomUUID } from 'node:crypto';
import type { Logger } from '../telemetry/logger.js';
import type { Mode } from '../config/schema.js';
import { StoregateError } from '../core/errors.js';
import type { UpstreamClient } from '../upstream/client.js';
import { UpstreamUnavailableError, type AbandonedExchange } from '../upstream/client.js';
import { upstreamPath, type OperationSpec } from './operations.js';
import type { LocalAnswers } from './local-answers.js';
import { profileKey, sessionKey } from './records.js';
import type { LiveCalls } from './live-calls.js';
import { stringifySessionUpdate } from './follow.js';

export interface TerminalRequest {
  spec: OperationSpec;
  terminalId: string;
  /** Decoded path parameters. */
  params: Readonly<Record<string, string>>;
  /** Raw query string (without `?`), passed through unchanged (`dry`, `now`, inventory flags, `silent` …). */
  query: string;
  /** Parsed and schema-validated body, if the route has one. */
  body: unknown;
  /** The terminal's own `Idempotency-Key`, if it sent one. */
  idempotencyKey?: string | undefined;
  /**
   * Set by checkout when this call is answered locally after its live call to Talon.One failed or missed its
   * deadline: that call may still reach Talon.One under the same Idempotency-Key, so its record is delivered
   * under its own key (src/delivery/coalesce.ts).
   */
  replacesLiveCall?: boolean;
}

export interface TerminalAnswer {
  status: number;
  /** Raw upstream bytes (passed through untouched) or an object to serialise. */
  body: Buffer | object | undefined;
  contentType?: string | undefined;
  source: 'upstream' | 'local';
  journalSeq?: number;
}

export interface CheckoutDeps {
  mode: Mode;
  storeIntegrationId: string;
  upstream: UpstreamClient | null;
  /** Local answers (engine + journal); null only in tests of the pure forwarding path. */
  local: LocalAnswers | null;
  /** True while the journal holds undelivered records for this ordering key (`session:<id>`, `profile:<id>`). */
  pending: (key: string) => boolean;
  /**
   * Live calls per ordering key, followed past their deadline until Talon.One answered them or their connection
   * is gone; the flusher holds a key's records while it has one, and a key with an abandoned one stays local.
   */
  liveCalls: LiveCalls;
  /**
   * Called after an upstream answer to a session update, so local state can follow the session; `fields` is the
   * JSON text of each `customerSession` field that was sent.
   */
  onUpstreamSession?: (req: TerminalRequest, status: number, fields: readonly [string, string][], answer: Buffer | object | undefined) => void;
  /** Deadline of one terminal call (`upstream.timeoutMs`). */
  timeoutMs: number;
  log: Logger;
  /** Coupons scanned at a terminal (serial scanners with `autoApplyCoupons`), for its next session update. */
  scannedCoupons?: ScannedCoupons | undefined;
  /** The text a session update is sent upstream as (src/trim/: attributes no campaign reads left out); default: whole. */
  serializeUpdate?: ((body: Record<string, unknown>) => { json: string; fields: [string, string][] }) | undefined;
  /** Checks a 2xx answer of Talon.One (src/answers/); `replace`: answer this call locally instead. */
  checkAnswer?: ((req: TerminalRequest, body: unknown, res: { status: number; contentType: string | undefined; body: Buffer }) => { replace: boolean }) | undefined;
  /** Sees every answer before the terminal does (src/overrides/ counts manual overrides); a promise is awaited. */
  observe?: ((req: TerminalRequest, answer: TerminalAnswer) => Promise<void> | undefined) | undefined;
}

/** Coupons scanned at terminals, waiting for each terminal's next session update (src/serial/scanned-coupons.ts). */
export interface ScannedCoupons {
  /** Codes to merge (for a retry under the same Idempotency-Key: those its first try carried). */
  pending(terminalId: string, idempotencyKey: string | undefined): readonly string[];
  /** The update was answered carrying `codes`: forget them. */
  applied(terminalId: string, codes: readonly string[], idempotencyKey: string | undefined): void;
}

/**
 * The core use case: route one terminal call (README "Configuration", `mode`).
 * - `connected`: forward to Talon.One with this store's id; if the upstream is down, fails, answers 5xx/429,
 *   or misses its deadline, answer locally instead, within the same deadline. A session or profile that
 *   already has journaled records stays local until they are delivered, so upstream never sees them out of order;
 *   so does one whose live call missed its deadline and may still reach Talon.One (src/checkout/live-calls.ts).
 *   The journal record of a local answer has the live call's Idempotency-Key as its id.
 * - `hybrid`: answer locally at once (the flusher forwards in the background); reads still try upstream first.
 * - `offline`: answer locally only.
 */
export class Checkout {
  readonly #deps: CheckoutDeps;
  /** Time kept for the local answer when an upstream attempt fails late (evaluation + fsync). */
  #reserveMs: number;
  /** Terminal calls waiting on the upstream right now: the flusher holds back while there are any. */
  #live = 0;

  constructor(deps: CheckoutDeps) {
    this.#deps = { ...deps };
    this.#reserveMs = Math.min(150, Math.max(20, Math.round(deps.timeoutMs * 0.15)));
  }

  /** A pushed config changed `mode` (takes effect for the next call). */
  setMode(mode: Mode): void {
    this.#deps.mode = mode;
  }

  get mode(): Mode {
    return this.#deps.mode;
  }

  /** A pushed config changed `upstream.timeoutMs`. */
  setTimeoutMs(timeoutMs: number): void {
    this.#deps.timeoutMs = timeoutMs;
    this.#reserveMs = Math.min(150, Math.max(20, Math.round(timeoutMs * 0.15)));
  }

  /** True while terminal calls wait on the upstream (live requests keep priority over the flush). */
  liveBusy(): boolean {
    return this.#live > 0;
  }

  async handle(req: TerminalRequest): Promise<TerminalAnswer> {
    const answer = await this.#withScans(req);
    const seen = this.#deps.observe?.(req, answer);
    if (seen !== undefined) await seen;
    return answer;
  }

  async #withScans(req: TerminalRequest): Promise<TerminalAnswer> {
    const scanned = this.#deps.scannedCoupons;
    if (scanned === undefined || req.spec.op !== 'updateSession') return this.#route(req);
    // Merged before routing, so the forwarded and the local path (and the journal record) see the same body.
    const codes = mergeScannedCoupons(req, scanned);
    const answer = await this.#route(req);
    // Forgotten once an update carried them (a dry run changes nothing; a refused update keeps them for the next).
    if (answer.status < 300 && !isDryRun(req.query)) scanned.applied(req.terminalId, codes, req.idempotencyKey);
    return answer;
  }

  async #route(req: TerminalRequest): Promise<TerminalAnswer> {
    const body = this.#withStore(req);
    const { upstream, local, mode } = this.#deps;
    const idem = req.idempotencyKey ?? randomUUID();
    const read = req.spec.method === 'GET';
    const key = orderingKey(req);
    const tryUpstream =
      upstream !== null &&
      upstream.health.state !== 'down' &&
      (mode === 'connected' || (mode === 'hybrid' && read)) &&
      (key === null || (!this.#deps.pending(key) && !this.#deps.liveCalls.abandoned(key)));
    /** Talon.One's answer that failed its checks, passed on after all if no local answer can be given. */
    let checkedOut: (() => TerminalAnswer) | undefined;

    if (tryUpstream) {
      this.#live++;
      // Reads have no ordering key and dry runs change nothing upstream: an abandoned one is simply aborted.
      const call = key === null || isDryRun(req.query) ? null : this.#deps.liveCalls.begin(key);
      try {
        const update = req.spec.op === 'updateSession' && isObject(body);
        const follow = update && this.#deps.onUpstreamSession !== undefined;
        const sent = update ? (this.#deps.serializeUpdate ?? stringifySessionUpdate)(body) : body === undefined ? undefined : { json: JSON.stringify(body), fields: [] };
        const res = await upstream.request({
          op: req.spec.op,
          method: req.spec.method,
          path: upstreamPath(req.spec, req.params, req.query),
          ...(sent === undefined ? {} : { body: sent.json }),
          idempotencyKey: idem,
          deadlineMs: local ? this.#deps.timeoutMs - this.#reserveMs : this.#deps.timeoutMs,
          ...(call === null ? {} : { onAbandoned: (a: AbandonedExchange) => call.abandon(a) }),
        });
        const failed = res.status >= 500 || res.status === 429;
        // A 2xx answer that fails its checks is replaced by a local one when so configured (README "Checked answers").
        const checked = !failed && res.status < 300 ? this.#deps.checkAnswer?.(req, body, res) : undefined;
        const refused = checked?.replace === true && local !== null;
        const passOn = (): TerminalAnswer => {
          if (follow) this.#deps.onUpstreamSession?.(req, res.status, (sent as { fields: [string, string][] }).fields, res.body);
          return { status: res.status, body: res.body, contentType: res.contentType, source: 'upstream' };
        };
        if (!refused && (!failed || !local)) return passOn();
        if (refused) checkedOut = passOn;
        this.#deps.log.debug({ op: req.spec.op, status: res.status }, refused ? 'upstream answer failed its checks; answering locally' : 'upstream failed; answering locally');
      } catch (err) {
        if (!(err instanceof UpstreamUnavailableError)) throw err;
        if (!local) throw new StoregateError(err.code, `Talon.One is unreachable: ${err.message}`, { statusCode: 503, retryable: true, cause: err });
      } finally {
        this.#live--;
        call?.end();
      }
    } else if (!local) {
      throw new StoregateError('SG_ERR_UPSTREAM_UNAVAILABLE', 'Talon.One is unreachable (upstream down) and local answers are not available', {
        statusCode: 503,
        retryable: true,
      });
    }
    if (!local) throw new StoregateError('SG_ERR_LOCAL_UNAVAILABLE', 'local answers are not available', { statusCode: 503, retryable: true });
    try {
      return await local.answer({ ...req, body, ...(tryUpstream ? { replacesLiveCall: true } : {}) }, idem);
    } catch (err) {
      if (checkedOut) {
        // Talon.One did answer (and did what it was asked): better its answer than none.
        this.#deps.log.warn({ op: req.spec.op, err }, 'no local answer could replace an upstream answer that failed its checks; passing that answer on');
        return checkedOut();
      }
      if (err instanceof StoregateError) err.source = 'local';
      throw err;
    }
  }

  /**
   * storegate sets `storeIntegrationId` on every session and event it sends upstream; a body naming another
   * store is refused (README "Terminal API (Talon.One-compatible)"). Bodies arrive already parsed and
   * validated, so they are ours to modify.
   */
  #withStore(req: TerminalRequest): unknown {
    const path = req.spec.storePath;
    if (!path || req.body === undefined) return req.body;
    let node = req.body as Record<string, unknown>;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null) return req.body;
      node = next as Record<string, unknown>;
    }
    const field = path[path.length - 1] as string;
    const given = node[field];
    if (given !== undefined && given !== this.#deps.storeIntegrationId) {
      throw new StoregateError('SG_ERR_WRONG_STORE', `this gateway serves store "${this.#deps.storeIntegrationId}", not "${String(given)}"`, {
        statusCode: 400,
        details: [{ path: `/${path.join('/')}`, message: 'storeIntegrationId names another store' }],
      });
    }
    node[field] = this.#deps.storeIntegrationId;
    return req.body;
  }
}

/** Adds the terminal's scanned coupons to `customerSession.couponCodes` (once each); returns the codes carried. */
function mergeScannedCoupons(req: TerminalRequest, scanned: ScannedCoupons): readonly string[] {
  const session = isObject(req.body) ? req.body.customerSession : undefined;
  if (!isObject(session)) return [];
  const codes = scanned.pending(req.terminalId, req.idempotencyKey);
  if (codes.length === 0) return codes;
  const given = Array.isArray(session.couponCodes) ? (session.couponCodes as unknown[]) : [];
  session.couponCodes = [...given, ...codes.filter((c) => !given.includes(c))];
  return codes;
}

function isDryRun(query: string): boolean {
  return query !== '' && new URLSearchParams(query).get('dry') === 'true';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The journal ordering key a call belongs to (reads have none: they never wait behind the journal). */
export function orderingKey(req: TerminalRequest): string | null {
  switch (req.spec.op) {
    case 'updateSession':
    case 'returnItems':
    case 'reopenSession':
      return sessionKey(req.params.customerSessionId as string);
    case 'trackEvent':
      return profileKey(((req.body as { profileId?: string } | undefined)?.profileId ?? '') as string);
    case 'updateProfile':
      return profileKey(req.params.integrationId as string);
    default:
      return null;
  }
}
