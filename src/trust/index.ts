/** Trust: the public keys a store accepts, and verifying (and, at head office, signing) pushes. */
export { ed25519PrivateKey, keyIdOf, loadTrustedKeys, publicKeyFromPrivatePem, thumbprint, type TrustedKey } from './keys.js';
export { claimedVersion, stalePush, verifyPush, type PushEnvelope, type PushKind, type VerifyOptions } from './verify.js';
export { alignBase64, PUSH_JWS_TYPE, PushSigner, signPush, signPushJson, type UnsignedPush } from './sign.js';
export { PushSignerPool } from './sign-pool.js';
