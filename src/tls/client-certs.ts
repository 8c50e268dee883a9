/**
 * A terminal's client certificate (mutual TLS, README "HTTPS on the shop's LAN"): what the connection's peer
 * presented, read once per connection — a certificate cannot change within one (renegotiation is disabled on
 * the HTTPS server, src/tls/server.ts).
 */
import type { TLSSocket } from 'node:tls';
import { normalizeFingerprint } from './files.js';

export interface PeerCertificate {
  /** SHA-256 fingerprint of the DER certificate, lowercase hex: what `terminals[].certSha256` names. */
  sha256: string;
  /** It chains to `http.tls.caFile` and is within its validity (OpenSSL's verdict from the handshake). */
  trusted: boolean;
  /** OpenSSL's reason when it is not trusted (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`…). */
  reason: string | null;
}

const byConnection = new WeakMap<object, PeerCertificate | null>();

/** The peer's certificate on a TLS connection; null on plain HTTP, on `inject` (MQTT RPC) or when none was sent. */
export function peerCertificate(connection: object | undefined): PeerCertificate | null {
  // Plain sockets and light-my-request's fake ones stop here at the cost of one property read.
  if (connection === undefined || (connection as { encrypted?: boolean }).encrypted !== true) return null;
  const known = byConnection.get(connection);
  if (known !== undefined) return known;
  const socket = connection as TLSSocket;
  const x509 = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  const found: PeerCertificate | null = x509
    ? { sha256: normalizeFingerprint(x509.fingerprint256), trusted: socket.authorized === true, reason: socket.authorized ? null : String(socket.authorizationError ?? 'not trusted') }
    : null;
  byConnection.set(connection, found);
  return found;
}
