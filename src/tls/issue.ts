/**
 * X.509 certificates for a shop (`storegate keys tls`): a store CA, a server certificate for the mini-PC's LAN
 * names and addresses, and client certificates for terminals, all ECDSA P-256 / SHA-256 (every TLS 1.2+ client
 * of the last decade speaks it, and its handshakes are cheap). Node can parse certificates but not make them:
 * @peculiar/x509 builds them over WebCrypto. Loaded only by the `keys tls` command and tests.
 */
import './reflect-shim.js';
import type * as X509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { isIP } from 'node:net';
import { normalizeFingerprint } from './files.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

let loading: Promise<typeof X509> | null = null;

/**
 * The library, loaded on first use and only after the Reflect subset above is in place: a static import would
 * be hoisted above it wherever packages stay external to a bundle (the benchmarks'), and tsyringe checks for
 * Reflect metadata as it loads.
 */
function lib(): Promise<typeof X509> {
  loading ??= import('@peculiar/x509').then((m) => {
    const x509 = ((m as { cryptoProvider?: unknown }).cryptoProvider ? m : (m as unknown as { default: typeof X509 }).default) as typeof X509;
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  });
  return loading;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle;

export interface Issued {
  /** The certificate, PEM (a leaf alone; `withChain` adds the CA after it). */
  certPem: string;
  /** PKCS#8 PEM, unencrypted. */
  keyPem: string;
  sha256: string;
  notAfter: Date;
}

export interface StoreCa extends Issued {
  cert: X509.X509Certificate;
  key: CryptoKey;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

/** A positive, non-zero 128-bit serial (RFC 5280 §4.1.2.2: at most 20 octets, unpredictable is best). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x01;
  return b.toString('hex');
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function finish(cert: X509.X509Certificate, key: CryptoKey): Promise<Issued> {
  const certPem = cert.toString('pem').replace(/\r\n/g, '\n').trimEnd() + '\n';
  return {
    certPem,
    keyPem: pem('PRIVATE KEY', (await subtle.exportKey('pkcs8', key)) as ArrayBuffer),
    sha256: normalizeFingerprint(new NodeX509(certPem).fingerprint256),
    notAfter: cert.notAfter,
  };
}

/** A new store CA: signs the server certificate and terminals' client certificates, nothing else (pathlen 0). */
export async function createStoreCa(commonName: string, v: Validity): Promise<StoreCa> {
  const x509 = await lib();
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}, O=storegate`,
    notBefore: v.notBefore,
    notAfter: v.notAfter,
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { ...(await finish(cert, keys.privateKey)), cert, key: keys.privateKey };
}

/** An existing store CA (its certificate and key files), to sign a renewed server certificate or a client certificate. */
export async function loadStoreCa(certPem: string, keyPem: string): Promise<StoreCa> {
  const node = new NodeX509(certPem);
  if (!node.ca) throw new Error('the CA certificate is not a CA (basicConstraints CA:FALSE)');
  if (!node.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the CA key is not the private key of the CA certificate');
  const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  let key: CryptoKey;
  try {
    key = await subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  } catch {
    throw new Error('the CA key is not an ECDSA P-256 key (not one storegate keys tls made)');
  }
  const cert = new (await lib()).X509Certificate(certPem);
  return { certPem: certPem.trimEnd() + '\n', keyPem, sha256: normalizeFingerprint(node.fingerprint256), notAfter: cert.notAfter, cert, key };
}

/** A name of `--names`: a DNS name or an IP address, as it goes into the subject alternative names. */
export type AltName = { type: 'dns' | 'ip'; value: string };

const DNS_NAME = /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parses `--names a,b,c`. Loopback names are always added, so tools on the mini-PC itself (`storegate status`,
 * `doctor`, curl) verify the certificate like a terminal does.
 */
export function parseNames(list: string): AltName[] {
  const out: AltName[] = [];
  const seen = new Set<string>();
  const add = (n: AltName) => {
    const k = `${n.type}:${n.value.toLowerCase()}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(n);
    }
  };
  const given = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (given.length === 0) throw new Error('--names needs at least one DNS name or IP address of the mini-PC (e.g. storegate.local,192.168.1.10)');
  if (given.length > 100) throw new Error(`--names lists ${given.length} names; at most 100`);
  for (const n of given) {
    const ip = n.replace(/^\[(.*)\]$/, '$1');
    if (isIP(ip)) add({ type: 'ip', value: ip });
    else if (DNS_NAME.test(n)) add({ type: 'dns', value: n.toLowerCase() });
    else throw new Error(`"${n.slice(0, 80)}" is neither a DNS name nor an IP address (give names without scheme or port: storegate.local,192.168.1.10)`);
  }
  for (const n of [{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' }] as AltName[]) add(n);
  return out;
}

/** Validity of a certificate signed by `ca`, never past the CA's own end. */
function within(ca: StoreCa, v: Validity): Validity {
  return { notBefore: v.notBefore, notAfter: v.notAfter > ca.cert.notAfter ? ca.cert.notAfter : v.notAfter };
}

async function signed(ca: StoreCa, subject: string, v: Validity, extensions: X509.Extension[], publicKey: CryptoKey): Promise<X509.X509Certificate> {
  const x509 = await lib();
  const w = within(ca, v);
  return x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: ca.cert.subject,
    notBefore: w.notBefore,
    notAfter: w.notAfter,
    signingAlgorithm: ALG,
    publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      ...extensions,
    ],
  });
}

/**
 * The mini-PC's server certificate for these names. It may also serve as a client certificate (clientAuth), so the
 * CLI on the mini-PC can reach a daemon that requires one (`http.tls.requireClientCert`) with the daemon's own files.
 */
export async function issueServerCertificate(ca: StoreCa, names: readonly AltName[], v: Validity): Promise<Issued> {
  const x509 = await lib();
  const keys = await keyPair();
  const first = names.find((n) => n.type === 'dns' && n.value !== 'localhost') ?? names[0];
  const cert = await signed(
    ca,
    `CN=${first?.value ?? 'storegate'}, O=storegate`,
    v,
    [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension(names.map((n) => ({ type: n.type, value: n.value }))),
    ],
    keys.publicKey,
  );
  return finish(cert, keys.privateKey);
}

/** A terminal's client certificate (mutual TLS): CN is the terminal id; `terminals[].certSha256` pins it. */
export async function issueClientCertificate(ca: StoreCa, terminalId: string, v: Validity): Promise<Issued> {
  const x509 = await lib();
  const keys = await keyPair();
  const cert = await signed(
    ca,
    `CN=${terminalId}, O=storegate terminal`,
    v,
    [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `urn:storegate:terminal:${terminalId}` }]),
    ],
    keys.publicKey,
  );
  return finish(cert, keys.privateKey);
}
