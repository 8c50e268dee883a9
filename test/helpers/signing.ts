import { generateKeyPairSync } from 'node:crypto';

/** A fresh Ed25519 pair as head office holds it: PKCS8 PEM private key, SPKI PEM public key. */
export function keyPair(): { privatePem: string; publicPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
