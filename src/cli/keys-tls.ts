/**
 * `storegate keys tls --names NAME,… [--client ID] [--out DIR] [--days N] [--json]`: the files a technician needs
 * for HTTPS on the shop's LAN (README "HTTPS on the shop's LAN"): a store CA (made once, its key kept private), a
 * server certificate for the mini-PC's names and addresses, and client certificates for terminals (mutual TLS).
 * Running it again reuses the store CA, so a renewed server certificate needs nothing new on the terminals, and
 * the running daemon picks the new files up without a restart.
 */
import { closeSync, existsSync, fchmodSync, fchownSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface KeysTlsOptions {
  names: string | undefined;
  client: string | undefined;
  out: string | undefined;
  days: string | undefined;
  json: boolean;
  now?: Date;
  /** Where the group `storegate` is looked up (tests). */
  groupFile?: string;
}

export const TLS_FILES = {
  caCert: 'store-ca.pem',
  caKey: 'store-ca.key',
  serverCert: 'server.pem',
  serverKey: 'server.key',
  clientCert: (id: string) => `client-${id}.pem`,
  clientKey: (id: string) => `client-${id}.key`,
} as const;

const DAY_MS = 86_400_000;
/** Apple's platforms refuse TLS server certificates valid longer than 825 days, even under a private CA. */
const DEFAULT_DAYS = 825;
const CA_DAYS = 3650;
const USAGE = 'usage: storegate keys tls --names NAME,ADDRESS,… [--client TERMINAL_ID] [--out DIR] [--days N] [--json]';

/** Usage errors (exit 2) apart from failures (exit 1). */
export class UsageError extends Error {}

/** The gid of group `storegate` when it exists here (the service's group reads the server key), else null. */
function storegateGid(groupFile: string): number | null {
  try {
    const line = readFileSync(groupFile, 'utf8')
      .split('\n')
      .find((l) => l.split(':')[0] === 'storegate');
    return line ? Number(line.split(':')[2]) : null;
  } catch {
    return null;
  }
}

/** temp → fsync → rename → fsync dir: the daemon's watcher never sees half a file, a power cut never leaves one. */
function writeAtomic(file: string, text: string, mode: number, gid: number | null = null): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    fchmodSync(fd, mode); // the umask could only narrow the mode; make it exactly this
    if (gid !== null) fchownSync(fd, 0, gid);
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** The CA key is created once and never replaced: 'wx' fails if it exists. */
function writeNew(file: string, text: string, mode: number): void {
  const fd = openSync(file, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function keysTlsCommand(o: KeysTlsOptions, print: (text: string) => void): Promise<number> {
  const now = o.now ?? new Date();
  if (!o.names && !o.client) throw new UsageError(`${USAGE}\n(--names makes the server certificate, --client a terminal's)`);
  const days = o.days === undefined ? DEFAULT_DAYS : Number(o.days);
  if (!Number.isInteger(days) || days < 1 || days > CA_DAYS) throw new UsageError(`--days must be a whole number of days from 1 to ${CA_DAYS}, not "${o.days}"`);
  if (o.client !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(o.client)) throw new UsageError(`terminal id "${o.client.slice(0, 100)}" must match [A-Za-z0-9._-]{1,100} (as terminals[].id)`);
  // The certificate library is loaded only here: the daemon never makes certificates.
  const issue = await import('../tls/issue.js');
  let names: ReturnType<typeof issue.parseNames> | null = null;
  try {
    names = o.names ? issue.parseNames(o.names) : null;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }

  const dir = path.resolve(o.out ?? 'storegate-tls');
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const f = (name: string) => path.join(dir, name);
  const validity = { notBefore: new Date(now.getTime() - 3600_000), notAfter: new Date(now.getTime() + days * DAY_MS) };

  // The store CA: reused when present, so terminals keep trusting what they already installed.
  const caCertFile = f(TLS_FILES.caCert);
  const caKeyFile = f(TLS_FILES.caKey);
  const haveCert = existsSync(caCertFile);
  const haveKey = existsSync(caKeyFile);
  if (haveCert !== haveKey) {
    throw new Error(`${haveCert ? caKeyFile : caCertFile} is missing while ${haveCert ? caCertFile : caKeyFile} exists: restore it, or move both away to make a new store CA (terminals then need the new ${TLS_FILES.caCert})`);
  }
  let ca: Awaited<ReturnType<typeof issue.loadStoreCa>>;
  let caNew = false;
  if (haveCert) {
    try {
      ca = await issue.loadStoreCa(readFileSync(caCertFile, 'utf8'), readFileSync(caKeyFile, 'utf8'));
    } catch (err) {
      throw new Error(`${caCertFile} / ${caKeyFile}: ${(err as Error).message}`);
    }
    if (ca.notAfter.getTime() <= now.getTime()) throw new Error(`the store CA in ${caCertFile} expired on ${ca.notAfter.toISOString()}: move ${TLS_FILES.caCert} and ${TLS_FILES.caKey} away to make a new one`);
  } else {
    const id = randomBytes(3).toString('hex');
    ca = await issue.createStoreCa(`storegate store CA ${now.toISOString().slice(0, 10)} ${id}`, { notBefore: validity.notBefore, notAfter: new Date(now.getTime() + CA_DAYS * DAY_MS) });
    writeNew(caKeyFile, ca.keyPem, 0o600);
    writeAtomic(caCertFile, ca.certPem, 0o644);
    caNew = true;
  }

  const gid = process.getuid?.() === 0 ? storegateGid(o.groupFile ?? '/etc/group') : null;
  const report: Record<string, unknown> = { dir, ca: { cert: caCertFile, key: caKeyFile, new: caNew, sha256: ca.sha256, notAfter: ca.notAfter.toISOString() } };
  const lines: string[] = [
    `store CA: ${caCertFile} (${caNew ? 'new' : 'existing'}; valid until ${ca.notAfter.toISOString().slice(0, 10)})`,
    `  install ${TLS_FILES.caCert} on every terminal as a trusted CA certificate (it holds no secret)`,
    `  its private key ${caKeyFile} (0600) signs the next certificates: keep it, never copy it to a terminal`,
  ];

  if (names) {
    const server = await issue.issueServerCertificate(ca, names, validity);
    // The key before the certificate: the daemon's reloader waits for the pair to match.
    writeAtomic(f(TLS_FILES.serverKey), server.keyPem, gid !== null ? 0o640 : 0o600, gid);
    writeAtomic(f(TLS_FILES.serverCert), server.certPem + ca.certPem, 0o644);
    const shown = names.map((n) => n.value);
    report.server = { cert: f(TLS_FILES.serverCert), key: f(TLS_FILES.serverKey), names: shown, sha256: server.sha256, notAfter: server.notAfter.toISOString() };
    report.config = { http: { tls: { certFile: f(TLS_FILES.serverCert), keyFile: f(TLS_FILES.serverKey) } } };
    const lan = shown.filter((n) => n !== 'localhost' && n !== '127.0.0.1' && n !== '::1');
    lines.push(
      `server certificate: ${f(TLS_FILES.serverCert)} (with the CA after it), key ${f(TLS_FILES.serverKey)} (${gid !== null ? '0640, group storegate' : '0600'})`,
      `  names: ${shown.join(', ')}; valid until ${server.notAfter.toISOString().slice(0, 10)}; sha256 ${server.sha256}`,
      '  config ("http" in config.json), then restart storegate once; later renewals are picked up without a restart:',
      `  "tls": ${JSON.stringify({ certFile: f(TLS_FILES.serverCert), keyFile: f(TLS_FILES.serverKey) })}`,
      `  terminals then use https://${lan[0]?.includes(':') ? `[${lan[0]}]` : (lan[0] ?? 'localhost')}:<http.port> (any of the names above)`,
    );
  }

  if (o.client !== undefined) {
    const id = o.client;
    const client = await issue.issueClientCertificate(ca, id, validity);
    writeAtomic(f(TLS_FILES.clientKey(id)), client.keyPem, 0o600);
    writeAtomic(f(TLS_FILES.clientCert(id)), client.certPem + ca.certPem, 0o644);
    report.client = { id, cert: f(TLS_FILES.clientCert(id)), key: f(TLS_FILES.clientKey(id)), sha256: client.sha256, notAfter: client.notAfter.toISOString(), terminal: { id, certSha256: client.sha256 } };
    lines.push(
      `client certificate of terminal ${id}: ${f(TLS_FILES.clientCert(id))}, key ${f(TLS_FILES.clientKey(id))} (0600): install both on terminal ${id} only`,
      `  (a PKCS#12 file for Android/Java: openssl pkcs12 -export -in ${TLS_FILES.clientCert(id)} -inkey ${TLS_FILES.clientKey(id)} -out client-${id}.p12)`,
      `  config: "certSha256": "${client.sha256}" in terminal ${id}'s line of "terminals" (beside its tokenSha256, or instead of it),`,
      `  and "caFile": ${JSON.stringify(caCertFile)} in "http.tls" so the gateway asks terminals for their certificate`,
    );
  }
  print(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${lines.join('\n')}\n`);
  return 0;
}
