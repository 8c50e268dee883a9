/**
 * `storegate doctor`'s HTTPS line: the certificate the config names, its names and how long it is still valid
 * (terminals refuse an expired one), and whether client certificates are asked for.
 */
import type { Config } from '../config/schema.js';
import { loadTlsFiles } from './files.js';

export interface TlsCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  reason: string;
  /** The certificate's SHA-256, to compare with what the running daemon presents. */
  sha256?: string;
}

const DAY_MS = 86_400_000;
/** Renew a month ahead: a shop's technician visits are not daily. */
const RENEW_DAYS = 30;

export async function checkTlsFiles(http: Readonly<Config['http']>, now: number): Promise<TlsCheck> {
  const name = 'https';
  const t = http.tls;
  if (!t.certFile || !t.keyFile) {
    // Not a warning: the installer sets up plain HTTP, and a fresh install must pass doctor. The words say the risk.
    const where = http.host === '127.0.0.1' || http.host === '::1' || http.host === 'localhost' ? 'loopback only' : `on ${http.host}:${http.port}, terminal tokens readable on the LAN`;
    return { name, status: 'ok', reason: `not configured: plain HTTP (${where}); to protect them: storegate keys tls --names … (README "HTTPS on the shop's LAN")` };
  }
  const r = await loadTlsFiles({ certFile: t.certFile, keyFile: t.keyFile, caFile: t.caFile }, now);
  if (r.errors.length > 0 || !r.info) return { name, status: 'fail', reason: r.errors.map((e) => `${e.path} ${e.message}`).join('; ') };
  const i = r.info;
  const left = Math.floor((Date.parse(i.notAfter) - now) / DAY_MS);
  const mtls = t.caFile === null ? 'no client certificates' : t.requireClientCert ? 'client certificates required' : 'client certificates optional';
  const names = i.names.map((n) => n.replace(/^(DNS|IP Address):/, '')).join(', ');
  const what = `${i.subject}, names ${names || 'none'}, ${mtls}`;
  if (Date.parse(i.notAfter) <= now) return { name, status: 'fail', reason: `the certificate expired on ${i.notAfter.slice(0, 10)} (${what}): terminals refuse it; run storegate keys tls --names … again (picked up without a restart)`, sha256: i.sha256 };
  if (Date.parse(i.notBefore) > now) return { name, status: 'fail', reason: `the certificate is valid only from ${i.notBefore} (${what}): is this machine's clock right?`, sha256: i.sha256 };
  if (left < RENEW_DAYS) return { name, status: 'warn', reason: `the certificate expires in ${left} days, on ${i.notAfter.slice(0, 10)} (${what}): run storegate keys tls --names … again`, sha256: i.sha256 };
  return { name, status: 'ok', reason: `valid until ${i.notAfter.slice(0, 10)} (${left} days; ${what})`, sha256: i.sha256 };
}
