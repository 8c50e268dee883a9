/** Signed pushes: key loading, JWS verification (every refusal code), signing, and the signing-key CLI. */
import { describe, expect, it, onTestFinished } from 'vitest';
import { generateKeyPairSync, sign as rawSignature, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompactSign, calculateJwkThumbprint, type JWK } from 'jose';
import { ConfigError, StoregateError, type ErrorCode } from '../../src/core/errors.js';
import { claimedVersion, keyIdOf, loadTrustedKeys, publicKeyFromPrivatePem, signPush, stalePush, verifyPush } from '../../src/trust/index.js';
import type { PushKind, TrustedKey } from '../../src/trust/index.js';
import { signingKeys } from '../../src/cli/keys.js';

const STORE = 'store-42';

function pair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicJwk: publicKey.export({ format: 'jwk' }),
  };
}
const A = pair();
const B = pair();
const OUTSIDER = pair();
const KEYS = loadTrustedKeys([A.publicPem, JSON.stringify(B.publicJwk)]);
const kidA = (KEYS[0] as TrustedKey).kid;
const kidB = (KEYS[1] as TrustedKey).kid;

const b64 = (v: string | Uint8Array) => Buffer.from(v).toString('base64url');
/** A compact JWS with any header, signed correctly with `key`, to reach the checks past the signature. */
function token(header: object, payload: string | Uint8Array, key: KeyObject): string {
  const input = `${b64(JSON.stringify(header))}.${b64(payload)}`;
  return `${input}.${rawSignature(null, Buffer.from(input), key).toString('base64url')}`;
}
const env = (over: Record<string, unknown> = {}) => ({ version: 7, storeIntegrationId: STORE, config: { mode: 'hybrid' }, ...over });
const opts = (over: Partial<{ keys: readonly TrustedKey[]; kind: PushKind; maxBytes: number; storeIntegrationId: string }> = {}) => ({
  keys: KEYS,
  storeIntegrationId: STORE,
  kind: 'config' as PushKind,
  maxBytes: 1024 * 1024,
  ...over,
});

async function refused(p: Promise<unknown>, code: ErrorCode, statusCode: number): Promise<StoregateError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StoregateError);
  expect((e as StoregateError).code).toBe(code);
  expect((e as StoregateError).statusCode).toBe(statusCode);
  return e as StoregateError;
}
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
function flipFirstByte(part: string): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[0] = (bytes[0] as number) ^ 0x01;
  return bytes.toString('base64url');
}

describe('trusted keys', () => {
  it('loads PEM and JWK entries; kid is the RFC 7638 thumbprint jose computes', async () => {
    expect(KEYS).toHaveLength(2);
    expect(kidA).toBe(await calculateJwkThumbprint(A.publicJwk as JWK, 'sha256'));
    expect(kidB).toBe(await calculateJwkThumbprint(B.publicJwk as JWK, 'sha256'));
    expect(loadTrustedKeys([JSON.stringify(A.publicJwk)])[0]?.kid).toBe(kidA);
    expect(keyIdOf(A.publicPem)).toBe(kidA);
    expect(keyIdOf(publicKeyFromPrivatePem(B.privatePem))).toBe(kidB);
  });

  it('refuses RSA, EC, X25519, private keys and junk, each at its /trust/publicKeys/<i>', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const x25519 = generateKeyPairSync('x25519').publicKey;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const bad = [
      rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      x25519.export({ type: 'spki', format: 'pem' }).toString(),
      JSON.stringify(x25519.export({ format: 'jwk' })),
      JSON.stringify(ec.export({ format: 'jwk' })),
      A.privatePem,
      JSON.stringify(A.privateKey.export({ format: 'jwk' })),
      'not a key',
      '{"kty":"OKP","crv":"Ed25519","x":"short"}',
    ];
    for (const entry of bad) {
      const e = configError(() => loadTrustedKeys([B.publicPem, entry]));
      expect(e.details).toEqual([{ path: '/trust/publicKeys/1', message: expect.any(String) }]);
      // Never echo key material, private or public.
      expect(JSON.stringify([e.message, e.details])).not.toMatch(/[A-Za-z0-9+/]{40}/);
    }
    expect(configError(() => loadTrustedKeys([A.privatePem])).details[0]?.message).toMatch(/private key/);
    expect(configError(() => loadTrustedKeys([rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString()])).details[0]?.message).toMatch(/rsa.*not Ed25519/);
    expect(configError(() => loadTrustedKeys([A.publicPem, B.publicPem, JSON.stringify(A.publicJwk)])).details).toEqual([
      { path: '/trust/publicKeys/2', message: expect.stringMatching(/same key as \/trust\/publicKeys\/0/) },
    ]);
  });
});

describe('verifyPush', () => {
  it('returns the envelope and the kid of the key that verified it', async () => {
    const jws = await signPush(env(), A.privatePem);
    expect(await verifyPush(jws, opts())).toEqual({ version: 7, storeIntegrationId: STORE, kid: kidA, config: { mode: 'hybrid' } });
    expect(await verifyPush(Buffer.from(`${jws}\n`), opts())).toMatchObject({ kid: kidA, version: 7 });
    const data = await signPush({ version: 3, storeIntegrationId: '*', data: [{ sku: 'X', price: 1 }] }, A.privatePem);
    expect(await verifyPush(data, opts({ kind: 'prices' }))).toEqual({ version: 3, storeIntegrationId: '*', kid: kidA, data: [{ sku: 'X', price: 1 }] });
  });

  it('accepts either trusted key during a rotation, with or without a kid header', async () => {
    expect((await verifyPush(await signPush(env(), A.privatePem), opts())).kid).toBe(kidA);
    expect((await verifyPush(await signPush(env(), B.privatePem), opts())).kid).toBe(kidB);
    const noKid = token({ alg: 'EdDSA' }, JSON.stringify(env()), B.privateKey);
    expect((await verifyPush(noKid, opts())).kid).toBe(kidB);
  });

  it('refuses forged signatures: SG_ERR_PUSH_SIGNATURE', async () => {
    const [h, p, s] = (await signPush(env(), A.privatePem)).split('.') as [string, string, string];
    const e = await refused(verifyPush(`${h}.${p}.${flipFirstByte(s)}`, opts()), 'SG_ERR_PUSH_SIGNATURE', 403);
    expect(e.message).toBe('signature does not verify with any trusted key');
    await refused(verifyPush(`${h}.${b64(JSON.stringify(env({ version: 999 })))}.${s}`, opts()), 'SG_ERR_PUSH_SIGNATURE', 403);
    await refused(verifyPush(`${h}.${p}.`, opts()), 'SG_ERR_PUSH_SIGNATURE', 403);
    // Re-signed by an untrusted key, no kid: tried against every trusted key, none verifies.
    await refused(verifyPush(token({ alg: 'EdDSA' }, JSON.stringify(env()), OUTSIDER.privateKey), opts()), 'SG_ERR_PUSH_SIGNATURE', 403);
    // Claims a trusted kid but is signed by another key.
    await refused(verifyPush(token({ alg: 'EdDSA', kid: kidA }, JSON.stringify(env()), B.privateKey), opts()), 'SG_ERR_PUSH_SIGNATURE', 403);
  });

  it('refuses untrusted key ids and a gateway without keys: SG_ERR_PUSH_UNTRUSTED_KEY', async () => {
    const outsider = await signPush(env(), OUTSIDER.privatePem);
    const e = await refused(verifyPush(outsider, opts()), 'SG_ERR_PUSH_UNTRUSTED_KEY', 403);
    expect(e.message).toContain(keyIdOf(OUTSIDER.publicPem));
    await refused(verifyPush(token({ alg: 'EdDSA', kid: 42 }, JSON.stringify(env()), A.privateKey), opts()), 'SG_ERR_PUSH_UNTRUSTED_KEY', 403);
    const none = await refused(verifyPush(await signPush(env(), A.privatePem), opts({ keys: [] })), 'SG_ERR_PUSH_UNTRUSTED_KEY', 403);
    expect(none.message).toBe('no trust.publicKeys configured: pushes are refused');
  });

  it('refuses every algorithm but EdDSA, crit and b64:false: SG_ERR_PUSH_ALG', async () => {
    const payload = JSON.stringify(env());
    const algNone = `${b64('{"alg":"none"}')}.${b64(payload)}.`;
    const hs256 = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32).fill(7));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const rs256 = await new CompactSign(new TextEncoder().encode(payload)).setProtectedHeader({ alg: 'RS256' }).sign(rsa);
    const tokens = [
      algNone,
      hs256,
      rs256,
      token({ alg: 'Ed25519', kid: kidA }, payload, A.privateKey),
      token({ kid: kidA }, payload, A.privateKey),
      token({ alg: 'EdDSA', kid: kidA, crit: ['exp'], exp: 1 }, payload, A.privateKey),
      token({ alg: 'EdDSA', kid: kidA, b64: false, crit: ['b64'] }, payload, A.privateKey),
      token({ alg: 'EdDSA', kid: kidA, b64: false }, payload, A.privateKey),
      `${b64('not json')}.${b64(payload)}.AAAA`,
      `${b64('["alg","EdDSA"]')}.${b64(payload)}.AAAA`,
    ];
    for (const t of tokens) await refused(verifyPush(t, opts()), 'SG_ERR_PUSH_ALG', 400);
    // Even with no keys configured, an alg:none push is reported as such.
    expect((await refused(verifyPush(algNone, opts({ keys: [] })), 'SG_ERR_PUSH_ALG', 400)).message).toMatch(/"none".*only EdDSA/);
  });

  it('refuses what is not a JWS compact string: SG_ERR_PUSH_UNSIGNED', async () => {
    const inputs: (string | Buffer)[] = [
      JSON.stringify(env()),
      Buffer.from(JSON.stringify(env())),
      '',
      '  \n',
      'garbage',
      'a.b',
      'a.b.c.d',
      'é.b.c',
      Buffer.from([0x65, 0x79, 0xff, 0x2e, 0x61, 0x2e, 0x62]),
      'ab+/.cd.ef',
      'abcde.ab.cd',
      '.ab.cd',
    ];
    for (const i of inputs) {
      expect((await refused(verifyPush(i, opts()), 'SG_ERR_PUSH_UNSIGNED', 400)).message).toBe('push is not a signed JWS compact string');
    }
  });

  it('refuses pushes over maxBytes before parsing them: SG_ERR_PUSH_TOO_LARGE', async () => {
    const jws = await signPush(env(), A.privatePem);
    await refused(verifyPush(jws, opts({ maxBytes: jws.length - 1 })), 'SG_ERR_PUSH_TOO_LARGE', 413);
    expect(await verifyPush(jws, opts({ maxBytes: jws.length }))).toMatchObject({ version: 7 });
    await refused(verifyPush('x'.repeat(101), opts({ maxBytes: 100 })), 'SG_ERR_PUSH_TOO_LARGE', 413);
    await refused(verifyPush('é'.repeat(60), opts({ maxBytes: 100 })), 'SG_ERR_PUSH_TOO_LARGE', 413); // 120 UTF-8 bytes
    await refused(verifyPush(Buffer.alloc(101), opts({ maxBytes: 100 })), 'SG_ERR_PUSH_TOO_LARGE', 413);
  });

  it('refuses a payload nested deeper than the budget before anything walks it: SG_ERR_PUSH_INVALID', async () => {
    const deep = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const jws = token({ alg: 'EdDSA', kid: kidA }, `{"version":8,"storeIntegrationId":"${STORE}","config":${deep(20_000)}}`, A.privateKey);
    expect((await refused(verifyPush(jws, opts()), 'SG_ERR_PUSH_INVALID', 400)).message).toMatch(/deeper than 128 levels/);
    const ok = token({ alg: 'EdDSA', kid: kidA }, `{"version":8,"storeIntegrationId":"${STORE}","config":${deep(100)}}`, A.privateKey);
    expect(await verifyPush(ok, opts())).toMatchObject({ version: 8 });
  });

  it('refuses a payload that is not UTF-8 JSON: SG_ERR_PUSH_INVALID', async () => {
    for (const payload of ['not json', '', new Uint8Array([0x22, 0xff, 0x22])]) {
      const jws = token({ alg: 'EdDSA', kid: kidA }, payload, A.privateKey);
      expect((await refused(verifyPush(jws, opts()), 'SG_ERR_PUSH_INVALID', 400)).message).toBe('push payload is not UTF-8 JSON');
    }
  });

  it('refuses a bad envelope, pointing at the offending member: SG_ERR_PUSH_INVALID', async () => {
    const cases: [unknown, PushKind, string][] = [
      [env({ version: 0 }), 'config', '/version'],
      [env({ version: 1.5 }), 'config', '/version'],
      [env({ version: '7' }), 'config', '/version'],
      [env({ version: 2 ** 53 }), 'config', '/version'],
      [{ storeIntegrationId: STORE, config: {} }, 'config', '/version'],
      [{ version: 1, config: {} }, 'config', '/storeIntegrationId'],
      [env({ storeIntegrationId: '' }), 'config', '/storeIntegrationId'],
      [env({ data: {} }), 'config', '/data'],
      [env({ config: [] }), 'config', '/config'],
      [{ version: 1, storeIntegrationId: STORE, data: [] }, 'config', '/config'],
      [env({ extra: 1 }), 'config', '/extra'],
      [env({ 'a/b~c': 1 }), 'config', '/a~1b~0c'],
      [{ version: 1, storeIntegrationId: STORE, data: null }, 'rules', '/data'],
      [{ version: 1, storeIntegrationId: STORE, config: {} }, 'coupons', '/data'],
      [{ version: 1, storeIntegrationId: STORE, data: 1, config: {} }, 'loyalty', '/config'],
      [[env()], 'config', ''],
      [null, 'config', ''],
    ];
    for (const [payload, kind, pointer] of cases) {
      const jws = token({ alg: 'EdDSA', kid: kidA }, JSON.stringify(payload), A.privateKey);
      const e = await refused(verifyPush(jws, opts({ kind })), 'SG_ERR_PUSH_INVALID', 400);
      expect(e.details.map((d) => d.path)).toContain(pointer);
    }
  });

  it('refuses another store, accepts "*": SG_ERR_PUSH_WRONG_STORE', async () => {
    const other = await signPush(env({ storeIntegrationId: 'store-43' }), A.privatePem);
    expect((await refused(verifyPush(other, opts()), 'SG_ERR_PUSH_WRONG_STORE', 400)).message).toContain('"store-43"');
    expect(await verifyPush(await signPush(env({ storeIntegrationId: '*' }), B.privatePem), opts())).toMatchObject({ storeIntegrationId: '*' });
  });
});

describe('claimedVersion, stalePush, signPush', () => {
  it('reads the claimed version without verifying, and never throws', async () => {
    const jws = await signPush(env({ version: 12 }), A.privatePem);
    const [h, p, s] = jws.split('.') as [string, string, string];
    expect(claimedVersion(jws)).toBe(12);
    expect(claimedVersion(Buffer.from(jws))).toBe(12);
    expect(claimedVersion(`${h}.${p}.${flipFirstByte(s)}`)).toBe(12); // forged: still only a claim
    expect(claimedVersion(token({ alg: 'EdDSA' }, JSON.stringify(env({ version: 5 })), OUTSIDER.privateKey))).toBe(5);
    expect(claimedVersion(`${b64('{"alg":"none"}')}.${b64(JSON.stringify(env({ version: 3 })))}.`)).toBe(3);
    for (const bad of ['', 'garbage', JSON.stringify(env()), `${h}.${b64('nope')}.${s}`, `${h}.${b64('{"version":"7"}')}.${s}`, `${h}.${b64('null')}.${s}`]) {
      expect(claimedVersion(bad)).toBeNull();
    }
    // Bounded: a well-formed token over 64 MiB is not even decoded.
    const huge = token({ alg: 'EdDSA' }, JSON.stringify({ version: 9, pad: 'x'.repeat(49 * 1024 * 1024) }), OUTSIDER.privateKey);
    expect(huge.length).toBeGreaterThan(64 * 1024 * 1024);
    expect(claimedVersion(huge)).toBeNull();
  });

  it('stalePush is SG_ERR_PUSH_STALE (409)', () => {
    const e = stalePush('prices', 4, 5);
    expect([e.code, e.statusCode, e.message]).toEqual(['SG_ERR_PUSH_STALE', 409, 'prices push version 4 is not higher than the applied version 5']);
  });

  it('signPush signs EdDSA with kid and typ, and refuses a key that is not an Ed25519 private key', async () => {
    const header = JSON.parse(Buffer.from((await signPush(env(), A.privatePem)).split('.')[0] as string, 'base64url').toString()) as unknown;
    expect(header).toEqual({ alg: 'EdDSA', kid: kidA, typ: 'storegate-push+jws' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(signPush(env(), rsa)).rejects.toThrow(/rsa, not Ed25519/);
    await expect(signPush(env(), A.publicPem)).rejects.toThrow(/not a readable PEM private key/);
  });
});

describe('storegate keys signing', () => {
  it('writes the private key 0600, never overwrites, prints a public key that verifies its pushes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-trust-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'signing.pem');
    const out = signingKeys(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const privatePem = readFileSync(file, 'utf8');
    expect(privatePem).toContain('BEGIN PRIVATE KEY');
    expect(out).not.toContain('PRIVATE KEY');
    expect(out).toContain(file);
    expect(out).toContain('BEGIN PUBLIC KEY');

    const lines = out.split('\n');
    const configLine = lines[lines.findIndex((l) => l.includes('trust.publicKeys')) + 1]?.trim() as string;
    const keys = loadTrustedKeys([JSON.parse(configLine) as string]);
    expect(out).toContain(`kid: ${keys[0]?.kid}`);
    const push = await signPush(env(), privatePem);
    expect(await verifyPush(push, opts({ keys }))).toMatchObject({ kid: keys[0]?.kid, version: 7 });

    expect(() => signingKeys(file)).toThrow(/already exists/);
    expect(readFileSync(file, 'utf8')).toBe(privatePem);
    const other = path.join(path.dirname(file), 'existing.pem');
    writeFileSync(other, 'keep me');
    expect(() => signingKeys(other)).toThrow(/refusing to overwrite/);
    expect(readFileSync(other, 'utf8')).toBe('keep me');
  });
});
