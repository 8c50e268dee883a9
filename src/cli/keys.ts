import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { sha256Hex } from '../http/auth.js';
import { keyIdOf } from '../trust/keys.js';

/** `storegate keys terminal ID`: a new random terminal token and the config line holding only its hash. */
export function terminalKey(id: string, json = false): string {
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(id)) throw new Error(`terminal id "${id}" must match [A-Za-z0-9._-]{1,100}`);
  const token = randomBytes(32).toString('base64url');
  if (json) return `${JSON.stringify({ id, token, terminal: { id, tokenSha256: sha256Hex(token) } }, null, 2)}\n`;
  return [
    `terminal token (give it to terminal ${id}; it is not stored anywhere):`,
    `  ${token}`,
    'config line (add to "terminals"):',
    `  ${JSON.stringify({ id, tokenSha256: sha256Hex(token) })}`,
    '',
  ].join('\n');
}

/**
 * `storegate keys signing --out FILE`: a new Ed25519 key pair for head office's push signing. The
 * private key goes only to FILE (mode 0600, never overwriting an existing key, never printed, so it does
 * not end up in terminal scrollback or CI logs); the terminal gets the public half and its config line.
 */
export function signingKeys(outFile: string): string {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  let fd: number;
  try {
    // 'wx' = O_CREAT|O_EXCL: an existing signing key is never replaced by accident.
    fd = openSync(outFile, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new Error(`${outFile} already exists: refusing to overwrite a signing key (choose another --out)`);
    }
    throw e;
  }
  try {
    fchmodSync(fd, 0o600); // the umask could only narrow the mode; make it exactly 0600
    writeSync(fd, privatePem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return [
    `private key written to ${outFile} (mode 0600; keep it at head office, never on a store gateway)`,
    'public key:',
    publicPem.trim(),
    `kid: ${keyIdOf(publicPem)}`,
    'config line (add to "trust.publicKeys" in the store config):',
    `  ${JSON.stringify(publicPem)}`,
    '',
  ].join('\n');
}
