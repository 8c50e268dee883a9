import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { checkServerIdentity, rootCertificates, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { Config } from '../config/schema.js';
import { normalizeFingerprint, pemCertificates } from '../tls/files.js';

/**
 * How the CLI reaches the daemon of its config: plain HTTP, or, with `http.tls`, HTTPS on loopback trusting what
 * that config's files vouch for — the daemon's own certificate (pinned by its SHA-256, whatever names it carries)
 * or a certificate chaining to the CA after it in certFile or in caFile. When the daemon requires client
 * certificates, the CLI presents the daemon's own certificate and key (`storegate keys tls` makes them fit).
 */
export interface DaemonTarget {
  url: string;
  tls?: { ca: string[]; pins: string[]; cert?: string; key?: string };
}

/** Where the running daemon answers, from its config (a wildcard listen address is reached on loopback). */
export function daemonUrl(config: Readonly<Config>, override?: string): string {
  if (override) return override;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  const scheme = config.http.tls.certFile ? 'https' : 'http';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

/** The daemon's address and, with `http.tls`, what the CLI trusts (files it cannot read are left out). */
export function daemonTarget(config: Readonly<Config>, override?: string): DaemonTarget {
  const url = daemonUrl(config, override);
  const t = config.http.tls;
  if (!url.startsWith('https:') || !t.certFile) return { url };
  const read = (f: string | null) => {
    try {
      return f ? readFileSync(f, 'utf8') : '';
    } catch {
      return '';
    }
  };
  const chain = pemCertificates(read(t.certFile));
  const ca = [...chain, ...pemCertificates(read(t.caFile))];
  const pins: string[] = [];
  for (const pem of chain.slice(0, 1)) {
    try {
      pins.push(normalizeFingerprint(new X509Certificate(pem).fingerprint256));
    } catch {
      // an unparsable file: the chain check below decides alone
    }
  }
  const key = t.requireClientCert ? read(t.keyFile) : '';
  return { url, tls: { ca, pins, ...(key && chain.length > 0 ? { cert: chain.join('\n'), key } : {}) } };
}

export interface DaemonAnswer {
  status: number;
  text: string;
  /** Over HTTPS: the SHA-256 of the certificate the daemon presented (lowercase hex). */
  peerSha256?: string;
}

/** One request to the daemon; rejects with a sentence a technician can act on. */
export function daemonRequest(target: DaemonTarget | string, method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<DaemonAnswer> {
  const t = typeof target === 'string' ? { url: target } : target;
  const url = new URL(path, t.url);
  const opts: RequestOptions = { method, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) }, timeout: timeoutMs };
  if (url.protocol === 'https:' && t.tls) {
    const pins = new Set(t.tls.pins);
    Object.assign(opts, {
      ca: [...t.tls.ca, ...rootCertificates],
      ...(t.tls.cert && t.tls.key ? { cert: t.tls.cert, key: t.tls.key } : {}),
      // The daemon's own certificate is trusted whatever names it carries (the CLI reaches it on loopback).
      checkServerIdentity: (host: string, cert: PeerCertificate) => (pins.has(normalizeFingerprint(cert.fingerprint256)) ? undefined : checkServerIdentity(host, cert)),
    });
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const peer = 'getPeerCertificate' in res.socket ? (res.socket as TLSSocket).getPeerCertificate()?.fingerprint256 : undefined;
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ...(peer ? { peerSha256: normalizeFingerprint(peer) } : {}) }));
      res.on('error', (err) => reject(explain(t.url, err, timeoutMs)));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err) => reject(explain(t.url, err, timeoutMs)));
    req.end(body);
  });
}

/** Connection and TLS failures in words. */
function explain(base: string, err: Error & { code?: string }, timeoutMs: number): Error {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return new Error(`connection refused at ${base} — is storegate running? (systemctl status storegate)`);
  if (code === 'ETIMEDOUT') return new Error(`no answer from ${base} within ${timeoutMs / 1000} s — is storegate stuck? (journalctl -u storegate)`);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(code)) {
    return new Error(`the daemon at ${base} presents a certificate that this config's http.tls files do not vouch for (${code}): it runs with another config, or its certificate was replaced by one from another CA`);
  }
  if (/CERTIFICATE_REQUIRED|ALERT_BAD_CERTIFICATE|ALERT_UNKNOWN_CA|ALERT_HANDSHAKE_FAILURE/i.test(code) || /certificate required|unknown ca|bad certificate/i.test(err.message)) {
    return new Error(
      `the daemon at ${base} refused this CLI's client certificate (${code || err.message}): with http.tls.requireClientCert the CLI presents http.tls.certFile, which must allow client authentication and be signed by http.tls.caFile (storegate keys tls makes it so)`,
    );
  }
  if (code === 'EPROTO' || /wrong version number|packet length too long/i.test(err.message)) {
    return new Error(`the daemon at ${base} does not speak HTTPS: it runs with another config (without http.tls?); give this command the same --config as \`storegate run\``);
  }
  return new Error(`storegate is not answering at ${base}: ${code || err.message}`);
}

/** One admin call to the running daemon; throws a sentence a technician can act on. */
export async function adminCall(
  base: string | DaemonTarget,
  adminToken: string | null,
  method: 'GET' | 'POST',
  path: string,
  timeoutMs = 10_000,
  body?: unknown,
  configSource = 'the config',
): Promise<unknown> {
  const where = typeof base === 'string' ? base : base.url;
  const res = await daemonRequest(
    base,
    method,
    path,
    { ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body === undefined ? undefined : JSON.stringify(body),
    timeoutMs,
  );
  const text = res.text;
  if (res.status === 401) {
    throw new Error(
      adminToken
        ? `the daemon at ${where} refused the adminToken of ${configSource}: it runs with another config; give this command the same --config as \`storegate run\` (or set STOREGATE_CONFIG)`
        : `${configSource} has no adminToken, so the daemon's operations routes cannot be used: set adminToken (or STOREGATE_ADMIN_TOKEN)`,
    );
  }
  if (res.status < 200 || res.status >= 300) {
    let why = text;
    try {
      const b = JSON.parse(text) as { message?: string; errors?: { title?: string; details?: string }[] };
      why = [b.errors?.[0]?.title, b.message ?? b.errors?.[0]?.details].filter(Boolean).join(': ');
    } catch {
      // not Talon.One-shaped: the text as it is
    }
    throw new Error(`${path}: HTTP ${res.status} ${why}`);
  }
  return text ? (JSON.parse(text) as unknown) : null;
}
