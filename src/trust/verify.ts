/**
 * The one place a head office push (over MQTT or HTTP) is checked: a JWS compact serialization
 * (RFC 7515 §7.1) signed with EdDSA over Ed25519 (RFC 8037), by a key in `trust.publicKeys`, carrying a
 * well-formed envelope for this store. Checks run cheapest and least trusting first, and each refusal
 * has its own stable code so the sender can tell "unsigned" from "wrong key" from "bad content".
 * Version ordering (rollback) is not checked here: that needs persisted state, see `stalePush`.
 */
import { compactVerify, type CompactVerifyResult } from 'jose';
import { StoregateError, type ErrorDetail } from '../core/errors.js';
import { PUSH_MAX_DEPTH, jsonDepthExcess } from '../core/json-budget.js';
import type { TrustedKey } from './keys.js';

export type PushKind = 'config' | 'rules' | 'prices' | 'coupons' | 'loyalty' | 'catalog' | 'collections';

export interface PushEnvelope {
  version: number;
  storeIntegrationId: string;
  /** The kid (RFC 7638 thumbprint) of the trusted key that verified the push. */
  kid: string;
  config?: Record<string, unknown>;
  data?: unknown;
}

export interface VerifyOptions {
  keys: readonly TrustedKey[];
  storeIntegrationId: string;
  kind: PushKind;
  maxBytes: number;
}

/** Bound for `claimedVersion`, which runs before (and regardless of) verification. */
const CLAIM_MAX_BYTES = 64 * 1024 * 1024;
const B64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function verifyPush(jws: string | Buffer, opts: VerifyOptions): Promise<PushEnvelope> {
  // Size first, before any decoding: a UTF-16 length over the limit implies a UTF-8 size over it.
  const size = typeof jws === 'string' && jws.length <= opts.maxBytes ? Buffer.byteLength(jws, 'utf8') : jws.length;
  if (size > opts.maxBytes) {
    throw new StoregateError('SG_ERR_PUSH_TOO_LARGE', `push is ${size} bytes, over the ${opts.maxBytes}-byte limit`, { statusCode: 413 });
  }
  const compact = splitCompact(jws);
  if (typeof compact === 'string') {
    throw new StoregateError('SG_ERR_PUSH_UNSIGNED', 'push is not a signed JWS compact string', { statusCode: 400, details: [{ message: compact }] });
  }
  const header = checkHeader(compact[0]);

  if (opts.keys.length === 0) {
    throw new StoregateError('SG_ERR_PUSH_UNTRUSTED_KEY', 'no trust.publicKeys configured: pushes are refused', { statusCode: 403 });
  }
  let candidates: readonly TrustedKey[] = opts.keys;
  if ('kid' in header) {
    const kid = header['kid'];
    // RFC 7515 §4.1.4: kid is a hint; when present it must name a trusted key, so a push signed by an
    // unknown key is reported as such rather than as a bad signature.
    const match = typeof kid === 'string' ? opts.keys.find((k) => k.kid === kid) : undefined;
    if (match === undefined) {
      throw new StoregateError('SG_ERR_PUSH_UNTRUSTED_KEY', `push is signed with key id ${show(kid)}, which is not in trust.publicKeys`, { statusCode: 403 });
    }
    candidates = [match];
  }

  let verified: { result: CompactVerifyResult; kid: string } | undefined;
  let lastError: unknown;
  for (const k of candidates) {
    try {
      // algorithms pins EdDSA again inside jose, so no header can steer it to another algorithm.
      verified = { result: await compactVerify(compact.join('.'), k.key, { algorithms: ['EdDSA'] }), kid: k.kid };
      break;
    } catch (e) {
      lastError = e;
    }
  }
  if (verified === undefined) {
    throw new StoregateError('SG_ERR_PUSH_SIGNATURE', 'signature does not verify with any trusted key', { statusCode: 403, cause: lastError });
  }

  let payload: unknown;
  let text: string;
  try {
    text = utf8.decode(verified.result.payload);
  } catch {
    throw new StoregateError('SG_ERR_PUSH_INVALID', 'push payload is not UTF-8 JSON', { statusCode: 400 });
  }
  // The depth budget comes before anything recursive (config merge, ingest) sees the value.
  if (jsonDepthExcess(text, PUSH_MAX_DEPTH)) {
    throw new StoregateError('SG_ERR_PUSH_INVALID', `push payload nests deeper than ${PUSH_MAX_DEPTH} levels`, { statusCode: 400 });
  }
  try {
    payload = JSON.parse(text);
  } catch {
    throw new StoregateError('SG_ERR_PUSH_INVALID', 'push payload is not UTF-8 JSON', { statusCode: 400 });
  }
  const envelope = checkEnvelope(payload, opts.kind);
  const store = envelope.storeIntegrationId;
  if (store !== opts.storeIntegrationId && store !== '*') {
    const details = [{ path: '/storeIntegrationId', message: 'must be this store or "*"' }];
    throw new StoregateError('SG_ERR_PUSH_WRONG_STORE', `push is for store ${show(store)}, not this store ${show(opts.storeIntegrationId)}`, { statusCode: 400, details });
  }
  return { ...envelope, kid: verified.kid };
}

/**
 * The version a push claims, read WITHOUT verifying it, only so a refusal ack can say which push it
 * refuses. Never trust the result for anything else. Never throws; bounded by CLAIM_MAX_BYTES.
 */
export function claimedVersion(jws: string | Buffer): number | null {
  try {
    if (jws.length > CLAIM_MAX_BYTES) return null;
    const compact = splitCompact(jws);
    if (typeof compact === 'string') return null;
    const body: unknown = JSON.parse(utf8.decode(Buffer.from(compact[1], 'base64url')));
    const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['version'] : undefined;
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : null;
  } catch {
    return null;
  }
}

/** For the module that keeps the applied versions: a verified push that would roll data back. */
export function stalePush(kind: PushKind, version: number, applied: number): StoregateError {
  return new StoregateError('SG_ERR_PUSH_STALE', `${kind} push version ${version} is not higher than the applied version ${applied}`, {
    statusCode: 409,
    details: [{ path: '/version', message: `must be greater than ${applied}` }],
  });
}

/** The three base64url parts of a compact JWS (RFC 7515 §7.1), or why the input is not one. */
function splitCompact(jws: string | Buffer): [string, string, string] | string {
  // latin1 maps each byte to one char, so any non-ASCII byte fails the base64url test below.
  const raw = typeof jws === 'string' ? jws : jws.toString('latin1');
  let a = 0;
  let b = raw.length;
  // Tolerate surrounding ASCII whitespace (a trailing newline from a file or `curl -d @file`).
  const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  while (a < b && isSpace(raw.charCodeAt(a))) a++;
  while (b > a && isSpace(raw.charCodeAt(b - 1))) b--;
  const text = raw.slice(a, b);
  if (text.length === 0) return 'the push is empty';
  if (text.startsWith('{') || text.startsWith('[')) return 'the push is plain JSON: head office must sign it';
  const parts = text.split('.', 4);
  if (parts.length !== 3) return `expected 3 dot-separated base64url parts, got ${parts.length === 4 ? 'more than 3' : parts.length}`;
  for (const p of parts) {
    // length % 4 === 1 can never be produced by base64url encoding.
    if (!B64URL.test(p) || p.length % 4 === 1) return 'a part is not base64url (RFC 7515 §2)';
  }
  if (parts[0] === '') return 'the protected header is empty';
  return parts as [string, string, string];
}

function checkHeader(encoded: string): Record<string, unknown> {
  const refuse = (why: string): never => {
    throw new StoregateError('SG_ERR_PUSH_ALG', why, { statusCode: 400 });
  };
  let header: unknown;
  try {
    header = JSON.parse(utf8.decode(Buffer.from(encoded, 'base64url')));
  } catch {
    return refuse('push JWS protected header is not base64url-encoded UTF-8 JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return refuse('push JWS protected header is not a JSON object');
  const h = header as Record<string, unknown>;
  if (!('alg' in h)) return refuse('push JWS header has no "alg": only EdDSA is accepted');
  // Exactly "EdDSA" (RFC 8037 §3.1): "none" and HMAC would let anyone forge a push, RSA/ECDSA keys
  // are never trusted here, and the newer fully-specified "Ed25519" name is not what head office signs with.
  if (h['alg'] !== 'EdDSA') return refuse(`push JWS "alg" ${show(h['alg'])} is not allowed: only EdDSA is accepted`);
  // RFC 7515 §4.1.11: an extension we do not implement must make the JWS invalid; refuse them all.
  if ('crit' in h) return refuse('push JWS header has "crit": no header extensions are accepted');
  // RFC 7797: b64:false signs the raw payload; our pushes always carry a base64url payload.
  if ('b64' in h && h['b64'] !== true) return refuse('push JWS header has "b64": unencoded payloads are not accepted');
  return h;
}

function checkEnvelope(value: unknown, kind: PushKind): Omit<PushEnvelope, 'kid'> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid([{ path: '', message: 'must be a JSON object' }]);
  }
  const o = value as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  const body = kind === 'config' ? 'config' : 'data';
  const other = kind === 'config' ? 'data' : 'config';
  const version = o['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    details.push({ path: '/version', message: 'must be a positive integer' });
  }
  const store = o['storeIntegrationId'];
  if (typeof store !== 'string' || store.length === 0) {
    details.push({ path: '/storeIntegrationId', message: 'must be a non-empty string' });
  }
  const content = o[body];
  if (kind === 'config' && (typeof content !== 'object' || content === null || Array.isArray(content))) {
    details.push({ path: '/config', message: 'must be an object (a config push carries "config")' });
  } else if (kind !== 'config' && (content === undefined || content === null)) {
    details.push({ path: '/data', message: `is required (a ${kind} push carries "data")` });
  }
  if (other in o) details.push({ path: `/${other}`, message: `not allowed in a ${kind} push (it carries "${body}" only)` });
  // Optional, set by `storegate push`: a push signed for one kind cannot be replayed on another kind's topic.
  if ('kind' in o && o['kind'] !== kind) details.push({ path: '/kind', message: `this push was signed for ${show(o['kind'])}, not ${kind}` });
  for (const k of Object.keys(o)) {
    if (k !== 'version' && k !== 'storeIntegrationId' && k !== 'config' && k !== 'data' && k !== 'kind') {
      details.push({ path: `/${pointerToken(k)}`, message: 'unknown field' });
    }
  }
  if (details.length > 0) throw invalid(details.slice(0, 20));
  const carried = kind === 'config' ? { config: content as Record<string, unknown> } : { data: content };
  return { version: version as number, storeIntegrationId: store as string, ...carried };
}

function invalid(details: ErrorDetail[]): StoregateError {
  const first = details[0];
  const summary = first === undefined ? '' : `: ${first.path === '' ? '(root)' : first.path} ${first.message}`;
  return new StoregateError('SG_ERR_PUSH_INVALID', `push envelope is invalid${summary}`, { statusCode: 400, details });
}

/** RFC 6901 §3 escaping of one JSON pointer reference token. */
function pointerToken(k: string): string {
  return k.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A sender-supplied value quoted for a message, bounded so a huge header cannot bloat logs. */
function show(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
