/**
 * Head office's side of a push: the envelope as a JWS compact serialization (RFC 7515 §7.1) signed with
 * EdDSA over Ed25519 (RFC 8037). Lives next to `verify.ts` so the two can never drift apart; a store
 * gateway never calls it (it holds no private key).
 */
import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { CompactSign } from 'jose';
import { ed25519PrivateKey, thumbprint } from './keys.js';

/** Explicit typing (RFC 7515 §4.1.9) so a push cannot be mistaken for some other token this key signs. */
export const PUSH_JWS_TYPE = 'storegate-push+jws';

export interface UnsignedPush {
  /** The push kind it is meant for (checked by the store when present). */
  kind?: string;
  version: number;
  storeIntegrationId: string;
  config?: unknown;
  data?: unknown;
}

export async function signPush(envelope: UnsignedPush, privateKeyPem: string): Promise<string> {
  return signPushJson(JSON.stringify(envelope), ed25519PrivateKey(privateKeyPem));
}

/**
 * Signs an envelope already serialised (head office assembles a shop's payload from pieces it serialised once,
 * and signs hundreds of them: it passes the key object, imported once). The text must be an envelope as above.
 */
export async function signPushJson(envelopeJson: string, privateKey: KeyObject): Promise<string> {
  return new PushSigner(privateKey).sign([Buffer.from(envelopeJson, 'utf8').toString('base64url')]).toString('latin1');
}

/**
 * Head office's signer for many pushes with one key: the same JWS compact serialization (RFC 7515 §7.1, EdDSA
 * RFC 8037) as {@link signPush}, without jose's per-call encoding (about 3× the time of the signature itself on a
 * 400 KB rules push, times 500 shops). The protected header is encoded once; a payload is given as base64url
 * parts whose concatenation is its base64url, so a prefix many shops' payloads share is encoded once (it must
 * be a whole number of 3-byte groups: see `alignBase64`). Returns the JWS as bytes, ready to publish.
 */
export class PushSigner {
  readonly #key: KeyObject;
  readonly #head: string;

  constructor(privateKey: KeyObject) {
    this.#key = privateKey;
    // kid = RFC 7638 thumbprint of the public half, the same id `loadTrustedKeys` gives the store's copy.
    const kid = thumbprint(createPublicKey(privateKey));
    this.#head = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid, typ: PUSH_JWS_TYPE })).toString('base64url')}.`;
  }

  /** The encoded protected header and its dot: what every signing input starts with. */
  get head(): string {
    return this.#head;
  }

  sign(payloadBase64url: readonly string[]): Buffer {
    const inputLength = this.#head.length + payloadBase64url.reduce((n, p) => n + p.length, 0);
    // Ed25519 signatures are 64 bytes: 86 base64url characters, plus the dot.
    const out = Buffer.allocUnsafe(inputLength + 87);
    let at = out.write(this.#head, 0, 'latin1');
    for (const p of payloadBase64url) at += out.write(p, at, 'latin1');
    const sig = cryptoSign(null, out.subarray(0, inputLength), this.#key);
    at += out.write('.', at, 'latin1');
    at += out.write(sig.toString('base64url'), at, 'latin1');
    return out.subarray(0, at);
  }
}

/** Pads JSON text with spaces (after a comma) so its UTF-8 length is a whole number of 3-byte base64 groups. */
export function alignBase64(jsonPrefixEndingWithComma: string): string {
  const rest = Buffer.byteLength(jsonPrefixEndingWithComma, 'utf8') % 3;
  return rest === 0 ? jsonPrefixEndingWithComma : `${jsonPrefixEndingWithComma}${' '.repeat(3 - rest)}`;
}
