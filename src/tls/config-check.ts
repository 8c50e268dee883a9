/**
 * The cross-field rules of `http.tls`, `http.plainPort` and `terminals[].certSha256`, run by the config loader
 * (every problem listed with its JSON path, the start refused with exit 2) and therefore by a pushed config too.
 */
import path from 'node:path';
import type { ErrorDetail } from '../core/errors.js';
import type { Config } from '../config/schema.js';
import { loadTlsFiles, normalizeFingerprint } from './files.js';

/** Relative file names in `http.tls` are relative to the config file's folder, like every other file in it. */
export function resolveTlsPaths(http: Config['http'], baseDir: string): void {
  const t = http.tls;
  for (const k of ['certFile', 'keyFile', 'caFile'] as const) {
    const f = t[k];
    if (f) t[k] = path.resolve(baseDir, f);
  }
}

export async function checkTlsConfig(config: Config, now: number, details: ErrorDetail[], warnings: string[]): Promise<void> {
  const { tls, plainPort, port } = config.http;
  const on = tls.certFile !== null || tls.keyFile !== null;
  if (tls.certFile !== null && tls.keyFile === null) details.push({ path: '/http/tls/keyFile', message: 'is needed with certFile (the private key of that certificate)' });
  if (tls.keyFile !== null && tls.certFile === null) details.push({ path: '/http/tls/certFile', message: 'is needed with keyFile (the certificate of that key)' });
  if (!on && tls.caFile !== null) details.push({ path: '/http/tls/caFile', message: 'needs http.tls.certFile and keyFile: client certificates come with HTTPS' });
  if (tls.requireClientCert && tls.caFile === null) details.push({ path: '/http/tls/requireClientCert', message: 'needs http.tls.caFile (the CA client certificates must be signed by)' });
  if (plainPort !== null) {
    if (!on) warnings.push('http.plainPort is ignored without http.tls: /healthz and /readyz are on http.port');
    else if (plainPort !== 0 && plainPort === port) details.push({ path: '/http/plainPort', message: `must differ from http.port (${port}): it is a second, plain-HTTP listener on 127.0.0.1` });
  }
  const seen = new Map<string, number>();
  config.terminals.forEach((t, i) => {
    if (!t.certSha256) return;
    const fp = normalizeFingerprint(t.certSha256);
    const first = seen.get(fp);
    if (first !== undefined) details.push({ path: `/terminals/${i}/certSha256`, message: `is the same certificate as terminals[${first}] ("${config.terminals[first]?.id}")` });
    seen.set(fp, i);
  });
  if (seen.size > 0 && tls.caFile === null) warnings.push('terminals[].certSha256 is used only with http.tls.caFile set (the gateway asks for client certificates then): those terminals need their token meanwhile');
  if (!on || tls.certFile === null || tls.keyFile === null) return;
  const r = await loadTlsFiles({ certFile: tls.certFile, keyFile: tls.keyFile, caFile: tls.caFile }, now);
  details.push(...r.errors);
  warnings.push(...r.warnings);
}
