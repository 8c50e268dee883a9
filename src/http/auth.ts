import { createHash, timingSafeEqual } from 'node:crypto';
import { normalizeFingerprint } from '../tls/files.js';
import { peerCertificate } from '../tls/client-certs.js';

export interface TerminalEntry {
  readonly id: string;
  /** A terminal has a token, a client certificate, or both (the config loader refuses one with neither). */
  readonly tokenSha256?: string | undefined;
  readonly certSha256?: string | undefined;
}

/** Who called, or why nobody is recognised (a sentence for the 401's `details`). */
export type Identity = { id: string; refused?: undefined } | { id?: undefined; refused: string };

const NO_TOKEN = 'send Authorization: ApiKey-v1 <terminal token> with a token configured in terminals[]';

/**
 * Terminal authentication: `Authorization: ApiKey-v1 <token>` (what a Talon.One SDK sends), checked against
 * the SHA-256 of each configured token. Only hashes live in the config, and the digest comparison is
 * constant-time and runs against every terminal, so timing reveals neither which terminal nor how much matched.
 */
export class TerminalAuth {
  #terminals: { id: string; digest: Buffer }[];
  /**
   * The last header each keep-alive connection authenticated with. A POS sends the same header on every call
   * of a connection, so the hash and the scan run once per connection, not per request. Comparing against the
   * remembered header is not constant-time, but only that connection's own peer can send on it, and it already
   * proved it holds the token.
   */
  #byConnection = new WeakMap<object, { header: string; id: string }>();

  /** Client certificate fingerprint (lowercase hex) → terminal id. */
  #byCertificate: Map<string, string>;

  constructor(terminals: readonly TerminalEntry[]) {
    this.#terminals = tokenDigests(terminals);
    this.#byCertificate = certificateIds(terminals);
  }

  /** A pushed config changed `terminals`: a removed terminal is refused from its very next call, even on an open connection. */
  replace(terminals: readonly TerminalEntry[]): void {
    this.#terminals = tokenDigests(terminals);
    this.#byCertificate = certificateIds(terminals);
    this.#byConnection = new WeakMap();
  }

  /**
   * The one check of terminal routes (README "HTTPS on the shop's LAN"): the token, the connection's client
   * certificate, or both. A trusted certificate whose SHA-256 is a terminal's `certSha256` is that terminal
   * without a token; a token, when sent, must be valid and, beside such a certificate, name the same terminal.
   * A certificate that does not verify proves nothing: the token decides, and without one the call is refused
   * with OpenSSL's reason. Without TLS (or through `inject`, as MQTT RPC calls) this is the token check alone.
   */
  identify(header: string | undefined, connection?: object): Identity {
    const cert = peerCertificate(connection);
    const byToken = this.authenticate(header, connection);
    if (cert === null) return byToken !== null ? { id: byToken } : { refused: NO_TOKEN };
    const byCert = cert.trusted ? (this.#byCertificate.get(cert.sha256) ?? null) : null;
    if (parseScheme(header, 'ApiKey-v1') !== null) {
      if (byToken === null) return { refused: 'the terminal token is not one configured in terminals[] (a client certificate does not excuse a wrong token)' };
      if (byCert !== null && byCert !== byToken) return { refused: `the token and the client certificate name different terminals ("${byToken}" and "${byCert}")` };
      return { id: byToken };
    }
    if (byCert !== null) return { id: byCert };
    if (!cert.trusted) return { refused: `the client certificate is not accepted (${cert.reason ?? 'not trusted'}) and no token was sent` };
    return { refused: `the client certificate (SHA-256 ${cert.sha256}) is no terminal's certSha256, and no token was sent` };
  }

  /** The terminal id for this `Authorization` header value, or null. `connection` (the socket) enables the cache. */
  authenticate(header: string | undefined, connection?: object): string | null {
    if (connection !== undefined && header !== undefined) {
      const known = this.#byConnection.get(connection);
      if (known !== undefined && known.header === header) return known.id;
    }
    const found = this.#scan(header);
    if (found !== null && connection !== undefined && header !== undefined) this.#byConnection.set(connection, { header, id: found });
    return found;
  }

  #scan(header: string | undefined): string | null {
    const token = parseScheme(header, 'ApiKey-v1');
    if (!token) return null;
    const digest = createHash('sha256').update(token).digest();
    let found: string | null = null;
    for (const t of this.#terminals) {
      if (timingSafeEqual(digest, t.digest) && found === null) found = t.id;
    }
    return found;
  }

  /** Token check for one given terminal (the scan stream route is per terminal). */
  authenticateAs(header: string | undefined, terminalId: string): boolean {
    return this.authenticate(header) === terminalId;
  }
}

function tokenDigests(terminals: readonly TerminalEntry[]): { id: string; digest: Buffer }[] {
  return terminals.flatMap((t) => (t.tokenSha256 ? [{ id: t.id, digest: Buffer.from(t.tokenSha256, 'hex') }] : []));
}

function certificateIds(terminals: readonly TerminalEntry[]): Map<string, string> {
  return new Map(terminals.flatMap((t) => (t.certSha256 ? [[normalizeFingerprint(t.certSha256), t.id] as [string, string]] : [])));
}

/** Admin routes: `Authorization: Bearer <adminToken>`; closed when no admin token is configured. */
export function checkAdminToken(header: string | undefined, adminToken: string | null): boolean {
  if (!adminToken) return false;
  const presented = parseScheme(header, 'Bearer');
  return presented !== null && secretEquals(presented, adminToken);
}

/** Compares a presented secret with the configured one in constant time, without revealing its length (both hashed first). */
export function secretEquals(presented: string, secret: string): boolean {
  return timingSafeEqual(createHash('sha256').update(presented).digest(), createHash('sha256').update(secret).digest());
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The credentials of an `Authorization` header of `scheme` (case-insensitive), or null. */
export function parseScheme(header: string | undefined, scheme: string): string | null {
  if (!header) return null;
  const sp = header.indexOf(' ');
  if (sp <= 0 || header.slice(0, sp).toLowerCase() !== scheme.toLowerCase()) return null;
  const token = header.slice(sp + 1).trim();
  return token.length > 0 ? token : null;
}
