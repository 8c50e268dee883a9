/**
 * Head office's side of a push: the envelope as a JWS compact serialization (RFC 7515 §7.1) signed with
 * EdDSA over Ed25519 (RFC 8037). Lives next to `verify.ts` so the two can never drift apart; a store
 * gateway never calls it (it holds no private key).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
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
  // kid = RFC 7638 thumbprint of the public half, the same id `loadTrustedKeys` gives the store's copy.
  const kid = thumbprint(createPublicKey(privateKey));
  return new CompactSign(Buffer.from(envelopeJson, 'utf8')).setProtectedHeader({ alg: 'EdDSA', kid, typ: PUSH_JWS_TYPE }).sign(privateKey);
}
