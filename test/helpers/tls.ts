/**
 * Certificates for HTTPS tests, made by the same code as `storegate keys tls` (src/tls/issue.ts), written as real
 * files; and a small HTTPS client that says which certificate it saw and whether its connection was reused.
 */
import { request, type Agent, type RequestOptions } from 'node:https';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createStoreCa, issueClientCertificate, issueServerCertificate, parseNames, type Issued, type StoreCa } from '../../src/tls/issue.js';

const DAY = 86_400_000;

export function validFor(days: number, from = Date.now() - 3600_000): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(from), notAfter: new Date(from + days * DAY) };
}

/** A validity wholly in the past (an expired certificate). */
export function expired(): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) };
}

export async function storeCa(name = 'test store CA'): Promise<StoreCa> {
  return createStoreCa(name, validFor(3650));
}

export async function serverCert(ca: StoreCa, v = validFor(825), names = 'localhost,127.0.0.1'): Promise<Issued> {
  return issueServerCertificate(ca, parseNames(names), v);
}

export async function clientCert(ca: StoreCa, id: string, v = validFor(825)): Promise<Issued> {
  return issueClientCertificate(ca, id, v);
}

/** Writes `<name>.pem` (leaf + CA) and `<name>.key` into dir; returns their paths. */
export function writePair(dir: string, name: string, issued: Issued, ca: StoreCa): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.pem`);
  const key = path.join(dir, `${name}.key`);
  writeFileSync(key, issued.keyPem, { mode: 0o600 });
  writeFileSync(cert, issued.certPem + ca.certPem);
  return { cert, key };
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = any>(): T;
  /** SHA-256 (lowercase hex) of the server certificate this connection saw. */
  serverSha256: string;
  /** The request went over an already open keep-alive connection. */
  reused: boolean;
}

/** One HTTPS request; `tls` carries ca/cert/key (or an `agent` holding them). Rejects on a TLS refusal. */
export function httpsRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown; agent?: Agent; ca?: string; cert?: string; key?: string } = {},
): Promise<HttpsAnswer> {
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const ro: RequestOptions = {
    method: opts.method ?? 'GET',
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(opts.headers ?? {}) },
    ...(opts.agent ? { agent: opts.agent } : { agent: false }),
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(url, ro, (res) => {
      const chunks: Buffer[] = [];
      const socket = res.socket as TLSSocket;
      const fp = socket.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase();
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text), serverSha256: fp, reused: req.reusedSocket });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
