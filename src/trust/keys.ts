/**
 * Head office's public keys, as configured in `trust.publicKeys`. A store gateway only ever holds
 * public keys: it can check a push, never make one. Each entry is a PEM SPKI Ed25519 public key or the
 * JSON text of a public OKP JWK (RFC 8037 §2). Anything else is refused at start, not at the first push.
 */
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ConfigError, type ErrorDetail } from '../core/errors.js';

export interface TrustedKey {
  /** RFC 7638 JWK thumbprint (base64url SHA-256): the `kid` head office puts in the JWS header. */
  readonly kid: string;
  /** A node:crypto public KeyObject, which `jose.compactVerify` accepts as is. */
  readonly key: KeyObject;
}

/** Parses every entry; all bad entries are reported at once, each with its `/trust/publicKeys/<i>` path. */
export function loadTrustedKeys(entries: readonly string[]): TrustedKey[] {
  const keys: TrustedKey[] = [];
  const details: ErrorDetail[] = [];
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const path = `/trust/publicKeys/${i}`;
    try {
      const key = parsePublicKey(entry);
      const kid = thumbprint(key);
      const first = seen.get(kid);
      // A duplicate is harmless to verification but almost always a paste error during key rotation
      // (the new key was meant to go here), so say so instead of silently trusting one key fewer.
      if (first !== undefined) throw new KeyError(`same key as /trust/publicKeys/${first} (kid ${kid})`);
      seen.set(kid, i);
      keys.push({ kid, key });
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
      details.push({ path, message: e.message });
    }
  });
  if (details.length > 0) {
    const n = details.length;
    throw new ConfigError(`trust.publicKeys: ${n} invalid entr${n === 1 ? 'y' : 'ies'} (each must be an Ed25519 public key)`, details);
  }
  return keys;
}

/** The RFC 7638 thumbprint of one public key entry (PEM SPKI or JWK JSON text). */
export function keyIdOf(publicKeyPemOrJwk: string): string {
  try {
    return thumbprint(parsePublicKey(publicKeyPemOrJwk));
  } catch (e) {
    throw e instanceof KeyError ? new Error(`public key ${e.message}`) : e;
  }
}

/** The SPKI PEM public half of a PKCS8 PEM Ed25519 private key, for the signing CLI. */
export function publicKeyFromPrivatePem(pem: string): string {
  return createPublicKey(ed25519PrivateKey(pem)).export({ type: 'spki', format: 'pem' }).toString();
}

/** Imports a PKCS8 PEM private key and insists it is Ed25519 (the only key type pushes are signed with). */
export function ed25519PrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('signing key is not a readable PEM private key (expected PKCS8 "BEGIN PRIVATE KEY")');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`signing key is ${key.asymmetricKeyType ?? 'an unknown type'}, not Ed25519 (RFC 8037 EdDSA)`);
  }
  return key;
}

/**
 * RFC 7638 §3: SHA-256 over the JSON of the required members only, in lexicographic order, with no
 * whitespace. For an OKP key (RFC 8037 §2) these are crv, kty, x. Computed here with node:crypto so
 * key loading stays synchronous; a test checks it against jose's `calculateJwkThumbprint`.
 */
export function thumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

/** A refusal whose message is safe to show: it describes the entry, never quotes key material. */
class KeyError extends Error {}

function parsePublicKey(entry: string): KeyObject {
  const text = entry.trim();
  const key = text.startsWith('{') ? fromJwkText(text) : fromPem(text);
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
    throw new KeyError(`is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519 (pushes are signed with EdDSA, RFC 8037)`);
  }
  return key;
}

function fromPem(text: string): KeyObject {
  // createPublicKey would happily derive the public half of a private key or read a certificate;
  // a private key here means the secret has leaked onto a store gateway, so refuse it outright.
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    throw new KeyError('is a private key: only public keys belong in trust.publicKeys (keep the private key at head office)');
  }
  const blocks = text.match(/-----BEGIN ([A-Z0-9 ]+)-----/g) ?? [];
  if (blocks.length === 0) throw new KeyError('is neither a PEM public key ("-----BEGIN PUBLIC KEY-----") nor a JWK JSON object');
  if (blocks.length > 1 || blocks[0] !== '-----BEGIN PUBLIC KEY-----') {
    throw new KeyError('must be exactly one PEM SPKI public key ("-----BEGIN PUBLIC KEY-----")');
  }
  try {
    return createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new KeyError('is not a readable PEM SPKI public key');
  }
}

function fromJwkText(text: string): KeyObject {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyError('starts with "{" but is not valid JSON (expected a JWK object)');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new KeyError('is not a JWK object');
  const j = jwk as Record<string, unknown>;
  // RFC 8037 §2: an OKP private key carries "d"; refuse it for the same reason as a private PEM.
  if ('d' in j) throw new KeyError('is a private JWK (has "d"): only public keys belong in trust.publicKeys');
  if (j['kty'] !== 'OKP' || j['crv'] !== 'Ed25519') {
    throw new KeyError(`is a JWK with kty ${JSON.stringify(j['kty'] ?? null)} crv ${JSON.stringify(j['crv'] ?? null)}, not kty "OKP" crv "Ed25519"`);
  }
  if (typeof j['x'] !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(j['x'])) {
    throw new KeyError('is an Ed25519 JWK whose "x" is not 32 bytes of base64url');
  }
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: j['x'] } as JsonWebKey, format: 'jwk' });
  } catch {
    throw new KeyError('is not a usable Ed25519 JWK');
  }
}
