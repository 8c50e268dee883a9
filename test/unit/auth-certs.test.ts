/**
 * Terminal identity by client certificate (src/http/auth.ts `identify`), on connection objects shaped like Node's
 * TLSSocket after a handshake (the real handshakes are in test/integration/https-mtls.test.ts): a pushed config
 * that drops a terminal's certificate refuses it from its next call on the same connection, a token-only terminal
 * list is unchanged, and a non-TLS connection (MQTT RPC's inject) is the token check alone.
 */
import { describe, expect, it } from 'vitest';
import { TerminalAuth, sha256Hex } from '../../src/http/auth.js';

const FP = 'ab'.repeat(32);
const colons = (hex: string) => hex.toUpperCase().match(/../g)?.join(':') as string;

function tlsConnection(fingerprintHex: string, authorized = true, authorizationError?: string): object {
  return { encrypted: true, authorized, authorizationError, getPeerX509Certificate: () => ({ fingerprint256: colons(fingerprintHex) }) };
}

describe('terminal identity with client certificates', () => {
  it('a certificate pinned by a terminal is that terminal; a pushed config without it refuses it on the same connection', () => {
    const auth = new TerminalAuth([{ id: 'T3', certSha256: colons(FP) }]);
    const conn = tlsConnection(FP);
    expect(auth.identify(undefined, conn)).toEqual({ id: 'T3' });
    auth.replace([{ id: 'T3', tokenSha256: sha256Hex('t3-token') }]);
    expect(auth.identify(undefined, conn).refused).toMatch(/no terminal's certSha256/);
    expect(auth.identify('ApiKey-v1 t3-token', conn)).toEqual({ id: 'T3' });
  });

  it('without TLS (plain sockets, inject) only the token counts', () => {
    const auth = new TerminalAuth([{ id: 'T1', tokenSha256: sha256Hex('t1'), certSha256: FP }]);
    expect(auth.identify('ApiKey-v1 t1', { encrypted: false })).toEqual({ id: 'T1' });
    expect(auth.identify(undefined, {}).refused).toMatch(/ApiKey-v1/);
    expect(auth.authenticate('ApiKey-v1 t1')).toBe('T1'); // the RPC path
  });

  it('an unverified certificate never identifies, even when pinned', () => {
    const auth = new TerminalAuth([{ id: 'T1', tokenSha256: sha256Hex('t1') }, { id: 'T2', certSha256: FP }]);
    const conn = tlsConnection(FP, false, 'CERT_HAS_EXPIRED');
    expect(auth.identify(undefined, conn).refused).toMatch(/CERT_HAS_EXPIRED/);
    expect(auth.identify('ApiKey-v1 t1', conn)).toEqual({ id: 'T1' });
  });
});
