import { talonError } from '../http/talon-errors.js';
import type { ErrorCode } from '../core/errors.js';
import { TERMINAL_MAX_DEPTH, jsonDepthExcess } from '../core/json-budget.js';
import { OPERATIONS } from '../checkout/operations.js';
import type { Logger } from '../telemetry/logger.js';
import type { IncomingMessage } from './connection.js';
import { RPC_METHODS, type RpcMethod, type Topics } from './topics.js';

/** One terminal call as the HTTP app takes it (the RPC edge goes through exactly the same routes). */
export interface RpcCall {
  method: 'GET' | 'PUT' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: unknown;
}

export interface RpcAnswer {
  status: number;
  headers: { 'X-Storegate-Source': string; 'X-Storegate-Journal-Seq'?: string };
  body?: unknown;
  /** The body as JSON text already (an answer the gateway serialised itself): spliced in, not parsed again. */
  bodyJson?: string;
}

/** The MQTT payload of an answer: `{"status", "headers", "body"}`. */
export function answerPayload(a: RpcAnswer): string {
  const head = `{"status":${a.status},"headers":${JSON.stringify(a.headers)},"body":`;
  return `${head}${a.bodyJson ?? JSON.stringify(a.body ?? null)}}`;
}

export interface RpcServerDeps {
  topics: Topics;
  /** Runs the call through the HTTP app's routes: authentication, validation, routing, response bodies. */
  invoke: (call: RpcCall) => Promise<RpcAnswer>;
  /** The terminal id a token belongs to (for the de-duplication key), or null. */
  identify: (token: string) => string | null;
  respond: (topic: string, correlationData: Buffer | undefined, answer: RpcAnswer) => void;
  log: Logger;
  now?: () => number;
  /** How long a (terminal, correlation data) pair is remembered: a broker redelivery inside it is answered again, not run again. */
  dedupeWindowMs?: number;
  dedupeMax?: number;
  onAnswered?: (method: string, status: number, ms: number) => void;
}

const MAX_RPC_BYTES = 16 * 1048576;
const MAX_RPC_QUERY_CHARS = 8192;

/** A path parameter percent-encoded, or null when it cannot be (a lone UTF-16 surrogate has no UTF-8 form). */
function encodeParam(v: string): string | null {
  try {
    return encodeURIComponent(v);
  } catch {
    return null;
  }
}

/**
 * Terminal RPC over MQTT 5 (`P/rpc/<method>`): the request's `responseTopic` and `correlationData` are echoed on
 * the answer. The body `{terminalToken, customerSessionId | integrationId [, loyaltyProgramId], body [, query,
 * idempotencyKey]}` becomes the HTTP call a Talon.One SDK would make, and goes through the same app.
 * A QoS 1 request can reach us twice (the broker redelivers when our PUBACK was lost): the first answer is kept
 * per (terminal, correlation data) for `dedupeWindowMs` and a repeat gets that answer, so it never journals a
 * second record; the derived `Idempotency-Key` makes the upstream side safe even after a restart.
 */
export class RpcServer {
  readonly #d: RpcServerDeps;
  readonly #seen = new Map<string, { at: number; answer: Promise<RpcAnswer> }>();
  readonly #now: () => number;
  readonly #window: number;
  readonly #max: number;

  constructor(deps: RpcServerDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#window = deps.dedupeWindowMs ?? 10 * 60_000;
    this.#max = deps.dedupeMax ?? 20_000;
  }

  async handle(m: IncomingMessage): Promise<void> {
    const method = this.#d.topics.rpcMethodOf(m.topic) ?? '';
    const t0 = performance.now();
    const reply = m.responseTopic;
    if (reply !== undefined && this.#d.topics.isForbiddenResponseTopic(reply)) {
      this.#d.log.warn({ method, responseTopic: reply.slice(0, 200) }, 'rpc: refused a response topic that names one of the gateway topics');
      return;
    }
    let answer: RpcAnswer;
    try {
      answer = await this.#answer(method, m);
    } catch (err) {
      this.#d.log.error({ err, method }, 'rpc: unexpected failure');
      answer = gatewayError(500, 'internal error in storegate');
    }
    this.#d.onAnswered?.(method, answer.status, performance.now() - t0);
    if (reply === undefined) return; // fire and forget (no MQTT 5 response topic)
    this.#d.respond(reply, m.correlationData, answer);
  }

  #answer(method: string, m: IncomingMessage): Promise<RpcAnswer> {
    if (!Object.hasOwn(RPC_METHODS, method)) {
      return Promise.resolve(gatewayError(404, `unknown RPC method "${method.slice(0, 100)}"; use one of ${Object.keys(RPC_METHODS).join(', ')}`));
    }
    if (m.payload.length > MAX_RPC_BYTES) return Promise.resolve(gatewayError(413, `RPC request is larger than ${MAX_RPC_BYTES} bytes`));
    let req: unknown;
    const text = m.payload.toString('utf8');
    if (jsonDepthExcess(text, TERMINAL_MAX_DEPTH)) {
      return Promise.resolve(gatewayError(400, 'The submitted data was invalid', 'SG_ERR_BAD_REQUEST', `the request nests arrays and objects deeper than ${TERMINAL_MAX_DEPTH} levels`));
    }
    try {
      req = JSON.parse(text);
    } catch (err) {
      return Promise.resolve(gatewayError(400, 'The submitted data was invalid', 'SG_ERR_MALFORMED_JSON', `the request is not valid JSON: ${(err as Error).message}`));
    }
    const built = buildCall(method as RpcMethod, req, m.correlationData, this.#d.identify);
    if ('error' in built) return Promise.resolve(built.error);
    if (built.dedupeKey === null) return this.#d.invoke(built.call);
    return this.#once(built.dedupeKey, () => this.#d.invoke(built.call));
  }

  #once(key: string, run: () => Promise<RpcAnswer>): Promise<RpcAnswer> {
    const now = this.#now();
    const hit = this.#seen.get(key);
    if (hit && now - hit.at <= this.#window) return hit.answer;
    // Expire from the oldest end (insertion order = time order), and keep the map bounded.
    for (const [k, v] of this.#seen) {
      if (now - v.at <= this.#window && this.#seen.size < this.#max) break;
      this.#seen.delete(k);
    }
    const answer = run();
    this.#seen.set(key, { at: now, answer });
    // A failed invocation is not remembered: a retry should run again.
    answer.catch(() => this.#seen.delete(key));
    return answer;
  }
}

interface Built {
  call: RpcCall;
  dedupeKey: string | null;
}

function buildCall(
  method: RpcMethod,
  req: unknown,
  correlation: Buffer | undefined,
  identify: (token: string) => string | null,
): Built | { error: RpcAnswer } {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) return { error: gatewayError(400, 'RPC request must be a JSON object') };
  const r = req as Record<string, unknown>;
  const spec = OPERATIONS.find((o) => o.op === RPC_METHODS[method]);
  if (!spec) return { error: gatewayError(404, `unknown RPC method "${method}"`) };
  const token = typeof r.terminalToken === 'string' ? r.terminalToken : '';
  const params: Record<string, string> = {};
  for (const name of spec.url.match(/:([A-Za-z]+)/g) ?? []) {
    const key = name.slice(1);
    const v = r[key];
    if (typeof v !== 'string' || v.length === 0 || v.length > 1000) {
      return { error: gatewayError(400, `RPC ${method} needs "${key}" (a non-empty string)`, 'SG_ERR_BAD_REQUEST', `the request has no ${key}`, `/${key}`) };
    }
    const encoded = encodeParam(v);
    if (encoded === null) {
      return { error: gatewayError(400, `RPC ${method}: "${key}" is not valid Unicode (a lone surrogate)`, 'SG_ERR_BAD_REQUEST', `${key} does not encode as UTF-8`, `/${key}`) };
    }
    params[key] = encoded;
  }
  let query = '';
  if (typeof r.query === 'string') query = r.query.replace(/^\?/, '');
  else if (typeof r.query === 'object' && r.query !== null && !Array.isArray(r.query)) {
    const pairs: [string, string][] = [];
    for (const [k, v] of Object.entries(r.query as Record<string, unknown>)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        return { error: gatewayError(400, `RPC ${method}: query parameter "${k.slice(0, 100)}" must be a string, number or boolean`, 'SG_ERR_BAD_REQUEST', 'query values must be scalars', '/query') };
      }
      pairs.push([k, String(v)]);
    }
    query = new URLSearchParams(pairs).toString();
  } else if (r.query !== undefined && r.query !== null) {
    return { error: gatewayError(400, `RPC ${method}: "query" must be a string or an object of scalars`, 'SG_ERR_BAD_REQUEST', 'the query is neither a string nor an object', '/query') };
  }
  // The same bound a URL has over HTTP (the request head is capped at 16 KiB): a query built from JSON is not
  // forwarded upstream at a length no HTTP client of ours could send.
  if (query.length > MAX_RPC_QUERY_CHARS) {
    return { error: gatewayError(414, `RPC ${method}: the query is longer than ${MAX_RPC_QUERY_CHARS} characters`, 'SG_ERR_BAD_URL', `the query has ${query.length} characters`, '/query') };
  }
  const path = spec.url.replace(/:([A-Za-z]+)/g, (_, n: string) => params[n] ?? '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `ApiKey-v1 ${token}`;
  const terminal = token ? identify(token) : null;
  const corr = correlation && correlation.length > 0 ? correlation.toString('hex').slice(0, 128) : null;
  if (typeof r.idempotencyKey === 'string' && r.idempotencyKey.length > 0 && r.idempotencyKey.length <= 255) headers['idempotency-key'] = r.idempotencyKey;
  else if (terminal !== null && corr !== null && spec.method !== 'GET') headers['idempotency-key'] = `mqtt-${terminal}-${corr}`;
  const call: RpcCall = { method: spec.method, url: query ? `${path}?${query}` : path, headers };
  if (spec.method !== 'GET') call.body = r.body;
  return { call, dedupeKey: terminal !== null && corr !== null ? `${terminal}\u0000${corr}` : null };
}

/** An RPC refused by the gateway itself, in Talon.One's error shape with its storegate code (README "Error codes"). */
function gatewayError(status: number, message: string, code: ErrorCode = codeFor(status), details = message, pointer = '/'): RpcAnswer {
  return { status, headers: { 'X-Storegate-Source': 'gateway' }, body: talonError(status, code, message, [{ title: code, details, source: { pointer } }]) };
}

function codeFor(status: number): ErrorCode {
  switch (status) {
    case 404:
      return 'SG_ERR_NO_ROUTE';
    case 413:
      return 'SG_ERR_BODY_TOO_LARGE';
    case 414:
      return 'SG_ERR_BAD_URL';
    case 500:
      return 'SG_ERR_INTERNAL';
    default:
      return 'SG_ERR_BAD_REQUEST';
  }
}
