import { createHash, timingSafeEqual } from 'node:crypto';

export interface TerminalEntry {
  readonly id: string;
  readonly tokenSha256: string;
}

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

  constructor(terminals: readonly TerminalEntry[]) {
    this.#terminals = terminals.map((t) => ({ id: t.id, digest: Buffer.from(t.tokenSha256, 'hex') }));
  }

  /** A pushed config changed `terminals`: a removed terminal is refused from its very next call, even on an open connection. */
  replace(terminals: readonly TerminalEntry[]): void {
    this.#terminals = terminals.map((t) => ({ id: t.id, digest: Buffer.from(t.tokenSha256, 'hex') }));
    this.#byConnection = new WeakMap();
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

/** Admin routes: `Authorization: Bearer <adminToken>`; closed when no admin token is configured. */
export function checkAdminToken(header: string | undefined, adminToken: string | null): boolean {
  if (!adminToken) return false;
  const presented = parseScheme(header, 'Bearer');
  if (!presented) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(adminToken).digest();
  return timingSafeEqual(a, b);
}

export function sha256Hex(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function parseScheme(header: string | undefined, scheme: string): string | null {
  if (!header) return null;
  const sp = header.indexOf(' ');
  if (sp <= 0 || header.slice(0, sp).toLowerCase() !== scheme.toLowerCase()) return null;
  const token = header.slice(sp + 1).trim();
  return token.length > 0 ? token : null;
}
