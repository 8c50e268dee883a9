/**
 * The HTTPS files (`http.tls`): read, parse and check a certificate, its key and the client CA the way OpenSSL will
 * use them, so a bad file is refused with a sentence (and its config path) instead of a handshake failure later.
 * Used at config load (a bad file stops the start, exit 2) and by the reloader (a bad new file keeps the old one).
 * Nothing here ever puts key bytes in a message.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { ErrorDetail } from '../core/errors.js';

export interface TlsPaths {
  certFile: string;
  keyFile: string;
  caFile: string | null;
}

/** The bytes of the three files, as read together. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca: string | null;
  /** SHA-256 over the three files: "did anything change?" without keeping the key around twice. */
  digest: string;
}

/** What a technician (and `/status`) may see of a certificate: public facts only. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** Subject alternative names, e.g. `DNS:storegate.local`, `IP Address:192.168.1.10`. */
  names: string[];
  notBefore: string;
  notAfter: string;
  /** SHA-256 fingerprint of the DER certificate, lowercase hex without colons. */
  sha256: string;
}

export interface TlsCheck {
  info: CertificateInfo | null;
  /** Refusals, each with the config path of the file at fault. */
  errors: ErrorDetail[];
  /** Findings that do not stop a start (an expired certificate: the daemon still flushes its journal). */
  warnings: string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const DAY_MS = 86_400_000;

/** Every certificate of a PEM bundle, in order (the leaf first in a chain file). */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERT) ?? [];
}

/** `AB:CD:…` (Node, openssl) or plain hex → lowercase hex without colons: the one form compared. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/:/g, '').toLowerCase();
}

export function certificateInfo(cert: X509Certificate): CertificateInfo {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    names: cert.subjectAltName ? cert.subjectAltName.split(', ') : [],
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    sha256: normalizeFingerprint(cert.fingerprint256),
  };
}

/** Reads the files named by the config; a file that cannot be read is an error with its path. */
export async function readTlsMaterial(paths: TlsPaths, at = '/http/tls'): Promise<{ material: TlsMaterial | null; errors: ErrorDetail[] }> {
  const errors: ErrorDetail[] = [];
  const read = async (file: string, key: string): Promise<string | null> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      const why =
        code === 'ENOENT'
          ? `${file} does not exist (storegate keys tls makes one)`
          : code === 'EACCES'
            ? `${file} cannot be read by this user (EACCES): the service's user must read it (chgrp storegate, chmod 640)`
            : `cannot read ${file}: ${code}`;
      errors.push({ path: `${at}/${key}`, message: why });
      return null;
    }
  };
  const [cert, key, ca] = await Promise.all([read(paths.certFile, 'certFile'), read(paths.keyFile, 'keyFile'), paths.caFile ? read(paths.caFile, 'caFile') : Promise.resolve(null)]);
  if (cert === null || key === null || (paths.caFile && ca === null)) return { material: null, errors };
  const digest = createHash('sha256').update(cert).update('\0').update(key).update('\0').update(ca ?? '').digest('hex');
  return { material: { cert, key, ca, digest }, errors };
}

/**
 * Checks material as the TLS server will use it: the certificate parses, the key parses and belongs to it, the CA
 * file holds certificates, and OpenSSL accepts the set. `now` judges expiry (a warning, not a refusal).
 */
export function checkTlsMaterial(m: TlsMaterial, now: number, at = '/http/tls'): TlsCheck {
  const errors: ErrorDetail[] = [];
  const warnings: string[] = [];
  const blocks = pemCertificates(m.cert);
  let leaf: X509Certificate | null = null;
  try {
    if (blocks.length === 0) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) in it');
    leaf = new X509Certificate(blocks[0] as string);
    for (const b of blocks.slice(1)) new X509Certificate(b);
  } catch (err) {
    errors.push({ path: `${at}/certFile`, message: `is not a PEM certificate: ${short(err)}` });
  }
  let key: KeyObject | null = null;
  try {
    key = createPrivateKey({ key: m.key, format: 'pem' });
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(m.key);
    errors.push({
      path: `${at}/keyFile`,
      message: encrypted ? 'is an encrypted private key: storegate needs it unencrypted (readable by its user only)' : `is not a PEM private key: ${short(err)}`,
    });
  }
  if (leaf && key && !leaf.checkPrivateKey(key)) {
    errors.push({ path: `${at}/keyFile`, message: "is not the private key of certFile (the certificate's public key differs): a certificate and a key of two different pairs" });
  }
  if (m.ca !== null) {
    const cas = pemCertificates(m.ca);
    try {
      if (cas.length === 0) throw new Error('no PEM certificate (-----BEGIN CERTIFICATE-----) in it');
      for (const c of cas) {
        const x = new X509Certificate(c);
        if (!x.ca) throw new Error(`${x.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints CA:FALSE)`);
      }
    } catch (err) {
      errors.push({ path: `${at}/caFile`, message: `is not a PEM CA certificate: ${short(err)}` });
    }
  }
  if (errors.length === 0) {
    // Whatever else OpenSSL refuses (an unsupported key type, a broken chain encoding) is caught here, not at the first handshake.
    try {
      createSecureContext({ cert: m.cert, key: m.key, ...(m.ca !== null ? { ca: m.ca } : {}) });
    } catch (err) {
      errors.push({ path: `${at}/certFile`, message: `is refused by OpenSSL with its key: ${short(err)}` });
    }
  }
  const info = leaf ? certificateInfo(leaf) : null;
  if (info) {
    const until = Date.parse(info.notAfter);
    const from = Date.parse(info.notBefore);
    if (until <= now) warnings.push(`http.tls.certFile expired on ${info.notAfter}: terminals refuse it; make a new one (storegate keys tls --names …)`);
    else if (from > now) warnings.push(`http.tls.certFile is valid only from ${info.notBefore}: terminals refuse it until then (is this machine's clock right?)`);
    else if (until - now < 30 * DAY_MS) warnings.push(`http.tls.certFile expires on ${info.notAfter} (in ${Math.ceil((until - now) / DAY_MS)} days): make a new one (storegate keys tls --names …)`);
  }
  return { info, errors, warnings };
}

/** Reads and checks in one step (config load, reload, doctor). */
export async function loadTlsFiles(paths: TlsPaths, now: number, at = '/http/tls'): Promise<TlsCheck & { material: TlsMaterial | null }> {
  const { material, errors } = await readTlsMaterial(paths, at);
  if (!material) return { material: null, info: null, errors, warnings: [] };
  return { material, ...checkTlsMaterial(material, now, at) };
}

/** OpenSSL's first line, without its library prefix noise; never the input. */
function short(err: unknown): string {
  const msg = (err as Error).message ?? String(err);
  return (msg.split('\n')[0] ?? msg).slice(0, 200);
}
