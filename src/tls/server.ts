/**
 * HTTPS for terminals (README "HTTPS on the shop's LAN"): the TLS options fastify's server is built with, and what
 * runs beside it — the certificate reloader, the refusal of plain HTTP on the HTTPS port, the loopback health port,
 * client certificates (mutual TLS) asked for or required. The gateway wires it in a few lines; terminal
 * authentication reads the client certificate in src/http/auth.ts.
 */
import type { Server as HttpServer } from 'node:http';
import type { ServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../core/errors.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../telemetry/logger.js';
import { loadTlsFiles, type CertificateInfo, type TlsMaterial, type TlsPaths } from './files.js';
import { listenHealthPort, refusePlainHttp } from './plain.js';
import { CertificateReloader, type ReloadStatus } from './reload.js';

export interface HttpsFrontOptions {
  http: Readonly<Config['http']>;
  log: Logger;
  now: () => number;
}

export type ClientCertificates = 'off' | 'optional' | 'required';

/** The `/status` section `tls`: public facts only (no key, no file content). */
export interface TlsStatus extends ReloadStatus {
  enabled: true;
  certificate: CertificateInfo & { expiresInDays: number };
  clientCertificates: ClientCertificates;
  checkIntervalSec: number;
  /** The loopback plain port for /healthz and /readyz, when configured. */
  healthUrl: string | null;
  /** Plain-HTTP requests refused on the HTTPS port, and TLS handshakes that failed, since start. */
  plainRefused: number;
  handshakeFailures: number;
}

/** A client that connects and sends nothing, or never finishes its handshake, is dropped after this long. */
const HANDSHAKE_MS = 15_000;
/** At most one log line per kind per this long (a misconfigured terminal retries in a loop). */
const LOG_EVERY_MS = 10_000;
const DAY_MS = 86_400_000;

/** The TLS settings of the server, from the files' content. */
function secureContextOptions(m: TlsMaterial): Pick<ServerOptions, 'cert' | 'key' | 'ca'> {
  return { cert: m.cert, key: m.key, ...(m.ca !== null ? { ca: m.ca } : {}) };
}

export class HttpsFront {
  readonly #o: HttpsFrontOptions;
  readonly #paths: TlsPaths;
  readonly #initial: { material: TlsMaterial; info: CertificateInfo };
  #reloader: CertificateReloader | null = null;
  #health: HttpServer | null = null;
  #healthUrl: string | null = null;
  #pending: Set<Socket> = new Set();
  #plainRefused = 0;
  #handshakeFailures = 0;
  #lastLog = new Map<string, { at: number; skipped: number }>();

  private constructor(o: HttpsFrontOptions, paths: TlsPaths, initial: { material: TlsMaterial; info: CertificateInfo }) {
    this.#o = o;
    this.#paths = paths;
    this.#initial = initial;
  }

  /** Reads the files again (the config loader checked them; they may have changed since) or refuses to start. */
  static async open(o: HttpsFrontOptions): Promise<HttpsFront> {
    const t = o.http.tls;
    if (!t.certFile || !t.keyFile) throw new Error('HttpsFront needs http.tls.certFile and keyFile');
    const paths: TlsPaths = { certFile: t.certFile, keyFile: t.keyFile, caFile: t.caFile };
    const r = await loadTlsFiles(paths, o.now());
    if (!r.material || !r.info || r.errors.length > 0) {
      throw new ConfigError(`invalid HTTPS files:\n${r.errors.map((d) => `  ${d.path}: ${d.message}`).join('\n')}`, r.errors);
    }
    for (const w of r.warnings) o.log.warn(w);
    return new HttpsFront(o, paths, { material: r.material, info: r.info });
  }

  get clientCertificates(): ClientCertificates {
    const t = this.#o.http.tls;
    return t.caFile === null ? 'off' : t.requireClientCert ? 'required' : 'optional';
  }

  /** fastify's `https` option. */
  serverOptions(): ServerOptions {
    const mode = this.clientCertificates;
    return {
      ...secureContextOptions(this.#initial.material),
      minVersion: 'TLSv1.2',
      // Asked for only with a client CA; required (the handshake refused without one) only with requireClientCert.
      requestCert: mode !== 'off',
      rejectUnauthorized: mode === 'required',
      handshakeTimeout: HANDSHAKE_MS,
    };
  }

  /** Installs the plain-HTTP refusal, the handshake bookkeeping and the reloader on the app's server (before listen). */
  attach(app: FastifyInstance): void {
    const server = app.server as unknown as TlsServer;
    const sniff = refusePlainHttp(server, {
      firstBytesMs: HANDSHAKE_MS,
      onPlain: (remote) => {
        this.#plainRefused++;
        this.#rateLimited('plain', { remote }, 'plain HTTP refused on the HTTPS port (a terminal still set to http://?)');
      },
    });
    if (sniff) this.#pending = sniff.pending;
    else this.#o.log.warn('plain HTTP on the HTTPS port cannot be answered in words here: such clients see a failed TLS handshake');
    server.on('secureConnection', (socket: TLSSocket) => {
      // A connection's certificate identifies its terminal once (src/tls/client-certs.ts): no renegotiation.
      socket.disableRenegotiation();
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      this.#handshakeFailures++;
      this.#rateLimited('handshake', { code: err.code ?? 'unknown', remote: socket.remoteAddress }, 'TLS handshake failed (a terminal without the store CA, or without a client certificate where one is required?)');
    });
    // Connections that never finished a handshake are not the HTTP server's: close them, or they hold the drain.
    app.addHook('preClose', (done) => {
      for (const s of this.#pending) s.destroy();
      done();
    });
    this.#reloader = new CertificateReloader({
      paths: this.#paths,
      current: this.#initial,
      apply: (m) => server.setSecureContext(secureContextOptions(m)),
      intervalMs: this.#o.http.tls.checkIntervalSec * 1000,
      log: this.#o.log,
      now: this.#o.now,
    });
    this.#reloader.start();
  }

  /** After the HTTPS listener: the loopback plain port for /healthz and /readyz, if configured. */
  async afterListen(app: FastifyInstance, httpsUrl: string): Promise<void> {
    const port = this.#o.http.plainPort;
    if (port === null) return;
    const h = await listenHealthPort(app, port, httpsUrl);
    this.#health = h.server;
    this.#healthUrl = h.url;
    this.#o.log.info({ url: h.url }, 'plain-HTTP health port on loopback: /healthz and /readyz only');
  }

  /** The loopback health port's URL (null without one). */
  get healthUrl(): string | null {
    return this.#healthUrl;
  }

  status(): TlsStatus {
    const info = this.#reloader?.info ?? this.#initial.info;
    const r = this.#reloader?.status() ?? { loadedAt: new Date(this.#o.now()).toISOString(), reloads: 0, lastError: null };
    return {
      enabled: true,
      certificate: { ...info, expiresInDays: Math.floor((Date.parse(info.notAfter) - this.#o.now()) / DAY_MS) },
      ...r,
      clientCertificates: this.clientCertificates,
      checkIntervalSec: this.#o.http.tls.checkIntervalSec,
      healthUrl: this.#healthUrl,
      plainRefused: this.#plainRefused,
      handshakeFailures: this.#handshakeFailures,
    };
  }

  async stop(): Promise<void> {
    this.#reloader?.stop();
    const h = this.#health;
    this.#health = null;
    if (h) {
      h.closeAllConnections();
      await new Promise<void>((resolve) => h.close(() => resolve()));
    }
  }

  #rateLimited(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.#o.now();
    const last = this.#lastLog.get(kind);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.skipped++;
      return;
    }
    this.#lastLog.set(kind, { at: now, skipped: 0 });
    this.#o.log.warn({ ...fields, ...(last?.skipped ? { alsoSinceLastLine: last.skipped } : {}) }, msg);
  }
}
