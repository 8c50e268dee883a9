import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { sha256Hex } from '../http/auth.js';

/** `storegate keys terminal ID`: a new random terminal token and the config line holding only its hash. */
export function terminalKey(id: string): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) throw new Error(`terminal id "${id}" must match [A-Za-z0-9._-]{1,100}`);
  const token = randomBytes(32).toString('base64url');
  return [
    `terminal token (give it to terminal ${id}; it is not stored anywhere):`,
    `  ${token}`,
    'config line (add to "terminals"):',
    `  ${JSON.stringify({ id, tokenSha256: sha256Hex(token) })}`,
    '',
  ].join('\n');
}

/** `storegate keys signing`: a new Ed25519 key pair for head office's config signing. */
export function signingKeys(): string {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return [
    'private key (keep at head office; never on a store gateway):',
    privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim(),
    'public key (add to "trust.publicKeys" in the store config):',
    publicKey.export({ type: 'spki', format: 'pem' }).toString().trim(),
    '',
  ].join('\n');
}
