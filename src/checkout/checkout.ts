import type { Logger } from '../telemetry/logger.js';
import type { Mode } from '../config/schema.js';
import { StoregateError } from '../core/errors.js';
import type { UpstreamClient } from '../upstream/client.js';
import { UpstreamUnavailableError } from '../upstream/client.js';
import { upstreamPath, type OperationSpec } from './operations.js';

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
  log: Logger;
}

/**
 * The core use case: route one terminal call. In connected mode it is forwarded to Talon.One with this store's
 * id injected; the answer (effects included) goes back byte for byte. Offline answers plug in here.
 */
export class Checkout {
  readonly #deps: CheckoutDeps;

  constructor(deps: CheckoutDeps) {
    this.#deps = deps;
  }

  async handle(req: TerminalRequest): Promise<TerminalAnswer> {
    const body = this.#withStore(req);
    const upstream = this.#deps.upstream;
    if (this.#deps.mode !== 'connected' || upstream === null) {
      throw new StoregateError('SG_ERR_LOCAL_UNAVAILABLE', `mode "${this.#deps.mode}" needs local answers, which this build cannot give yet`, {
        statusCode: 503,
        retryable: true,
      });
    }
    if (upstream.health.state === 'down') {
      throw new StoregateError('SG_ERR_UPSTREAM_UNAVAILABLE', 'Talon.One is unreachable (upstream down); try again shortly', {
        statusCode: 503,
        retryable: true,
      });
    }
    try {
      const res = await upstream.request({
        op: req.spec.op,
        method: req.spec.method,
        path: upstreamPath(req.spec, req.params, req.query),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}),
      });
      return { status: res.status, body: res.body, contentType: res.contentType, source: 'upstream' };
    } catch (err) {
      if (err instanceof UpstreamUnavailableError) {
        throw new StoregateError(err.code, `Talon.One is unreachable: ${err.message}`, { statusCode: 503, retryable: true, cause: err });
      }
      throw err;
    }
  }

  /**
   * CONTRACT §3: storegate sets `storeIntegrationId` on every session and event it sends upstream; a body naming
   * another store is refused. Bodies arrive already parsed and validated, so they are ours to modify.
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
