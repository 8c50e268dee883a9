/**
 * The head office's own config file (`storegate headoffice --config FILE`), apart from a shop's: the same
 * conventions (a TypeBox schema with every key's default and description, closed objects, every problem listed
 * with its JSON path in words, relative paths relative to the file). Secrets live in files named here (the
 * Management API key, the notification header secret, the signing key) and are returned beside the config,
 * never inside it, so no log line or status page can carry them by accident.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError, type ErrorDetail } from '../core/errors.js';
import { explainSchemaError } from '../config/explain.js';
import { jsonErrorOffset, lineColumn } from '../config/json-error.js';
import { ed25519PrivateKey } from '../trust/index.js';

const Retry = Type.Object(
  {
    attempts: Type.Integer({ minimum: 1, maximum: 50, default: 8, description: 'Tries per Management API request (first included) on 5xx, 429 and network errors before the pull step gives up until its next run.' }),
    baseMs: Type.Integer({ minimum: 1, maximum: 600_000, default: 500, description: 'Backoff base: the n-th retry waits a random time in [0, min(maxMs, baseMs·2^n)] (a 429 waits its Retry-After instead).' }),
    maxMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 30_000, description: 'Backoff cap.' }),
  },
  { additionalProperties: false, default: {} },
);

const Talon = Type.Object(
  {
    baseUrl: Type.String({ pattern: '^https?://[^\\s]+$', description: 'Talon.One deployment URL, e.g. https://acme.europe-west1.talon.one.' }),
    applicationId: Type.Integer({ minimum: 1, description: 'The Application whose campaigns, stores and coupons the shops get.' }),
    managementKeyFile: Type.String({ minLength: 1, description: 'File holding the Management API key (first line; read scopes suffice). Never logged or shown.' }),
    ratePerSec: Type.Number({ exclusiveMinimum: 0, maximum: 3, default: 3, description: "Requests per second per Management API endpoint (Talon.One's limit is 3)." }),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 60_000, description: 'Deadline of one Management API request (a CSV export of a large program takes a while).' }),
    pageSize: Type.Integer({ minimum: 1, maximum: 1000, default: 1000, description: 'Page size of list requests (Talon.One allows 1000).' }),
    retry: Retry,
  },
  { additionalProperties: false },
);

const Pull = Type.Object(
  {
    changesEverySec: Type.Integer({ minimum: 5, maximum: 86_400, default: 60, description: 'How often the audit log (`GET /v1/changes`) is read for edits to campaigns, rules, stores and filters.' }),
    couponsEveryMin: Type.Integer({ minimum: 1, maximum: 10_080, default: 15, description: "How often every coupon is read again, for its usage counter (redemptions are not in the audit log)." }),
    loyaltyEveryMin: Type.Integer({ minimum: 1, maximum: 10_080, default: 15, description: 'How often the loyalty balances are exported.' }),
    fullEveryMin: Type.Integer({ minimum: 5, maximum: 10_080, default: 360, description: 'How often everything is listed again as a safety net (rulesets are fetched only when a campaign names a new one).' }),
    collectionsEveryMin: Type.Integer({ minimum: 1, maximum: 10_080, default: 60, description: 'How often the collections are listed (two requests); the items of a collection are read again only when its `modified` moved. The audit log names edited collections sooner.' }),
    budgetsEveryMin: Type.Integer({ minimum: 5, maximum: 10_080, default: 15, description: "While a campaign has budgets: how often everything is listed again for the budget counters (each store's share is computed from them; counters move with sales, which are not edits)." }),
  },
  { additionalProperties: false, default: {} },
);

const Budgets = Type.Object(
  {
    offlineShare: Type.Number({ minimum: 0, maximum: 1, default: 1, description: "The part of a campaign-wide budget's remainder (limit − counter) the stores holding the campaign may spend offline, split among them; the rest stays for what Talon.One answers live." }),
    storeWeights: Type.Record(Type.String({ minLength: 1 }), Type.Number({ minimum: 0 }), { default: {}, description: 'Weight of a store (by integration id) in that split; a store not listed weighs 1, so by default the remainder is split equally.' }),
  },
  { additionalProperties: false, default: {} },
);

const Notifications = Type.Object(
  {
    header: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9-]+$', default: 'X-Storegate-Secret', description: 'The header that carries the secret (configure it on each notification in the Campaign Manager).' }),
    secretFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'File holding the header secret (first line, at least 16 characters); null = the notification endpoint refuses everything.' }),
    maxBytes: Type.Integer({ minimum: 1024, maximum: 256 * 1048576, default: 32 * 1048576, description: 'Largest notification body accepted.' }),
  },
  { additionalProperties: false, default: {} },
);

const Http = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Listen address of the notifications endpoint, /fleet and /metrics.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8090, description: 'Listen port, 0 = any free port.' }),
    adminToken: Type.Union([Type.String({ minLength: 16 }), Type.Null()], { default: null, description: 'Token for /fleet and /metrics (Bearer, or the password of HTTP Basic for a browser); null = open (only allowed on a loopback host). Never logged.' }),
  },
  { additionalProperties: false, default: {} },
);

const Reconnect = Type.Object(
  {
    minMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 500, description: 'Shortest wait before a reconnect attempt.' }),
    spreadMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 2000, description: 'The n-th attempt waits minMs + a random time in [0, min(maxMs, spreadMs·2^n)].' }),
    maxMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 30_000, description: 'Cap of the random part.' }),
  },
  { additionalProperties: false, default: {} },
);

const Mqtt = Type.Object(
  {
    url: Type.String({ pattern: '^(mqtt|mqtts|ws|wss)://[^\\s]+$', description: "The shops' broker (`mqtt://host:1883`, `mqtts://host:8883`)." }),
    username: Type.Union([Type.String(), Type.Null()], { default: null, description: 'Broker user name, if the broker needs one.' }),
    password: Type.Union([Type.String(), Type.Null()], { default: null, description: 'Never logged or shown.' }),
    caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'PEM file of the CA that signed the broker certificate.' }),
    certFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Client certificate (PEM) for mutual TLS.' }),
    keyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Private key (PEM) of certFile. Never logged.' }),
    clientId: Type.String({ minLength: 1, maxLength: 200, default: 'storegate-headoffice', description: 'MQTT client id (one head office per id).' }),
    topicPrefix: Type.String({ minLength: 1, maxLength: 200, pattern: '^[^#+*/]+(/[^#+*/]+)*$', default: 'storegate', description: "The shops' `mqtt.topicPrefix`." }),
    keepaliveSec: Type.Integer({ minimum: 5, maximum: 3600, default: 30, description: 'MQTT keep-alive.' }),
    sessionExpirySec: Type.Integer({ minimum: 60, maximum: 4_294_967, default: 604_800, description: "How long the broker keeps head office's session while it is away. A (re)connect that finds no session means the broker lost its state: everything is pushed again." }),
    maxMessageBytes: Type.Integer({ minimum: 65_536, maximum: 268_435_455, default: 8 * 1048576, description: "Largest message published (the broker's limit, e.g. mosquitto `message_size_limit`; and at most the shops' `mqtt.maxPushBytes`). Coupons and prices over it are split; rules and loyalty cannot be." }),
    publishConcurrency: Type.Integer({ minimum: 1, maximum: 1000, default: 64, description: 'Publishes awaiting the broker at once.' }),
    reconnect: Reconnect,
  },
  { additionalProperties: false },
);

const Fleet = Type.Object(
  {
    staleAfterSec: Type.Integer({ minimum: 10, maximum: 86_400, default: 180, description: 'A shop whose last status is older than this is shown as silent (it sends one every 60 s).' }),
    lagAfterSec: Type.Integer({ minimum: 1, maximum: 86_400, default: 120, description: 'A shop that has not applied the latest push of a kind this long after it was published is lagging.' }),
  },
  { additionalProperties: false, default: {} },
);

export const HeadOfficeSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    talon: Talon,
    pull: Pull,
    budgets: Budgets,
    notifications: Notifications,
    http: Http,
    mqtt: Mqtt,
    signing: Type.Object(
      {
        keyFile: Type.String({ minLength: 1, description: 'PKCS8 PEM Ed25519 private key pushes are signed with (`storegate keys signing`). Never logged.' }),
        threads: Type.Integer({ minimum: 0, maximum: 64, default: 2, description: 'Worker threads that sign pushes (a signature reads its whole push twice; 500 shops × 400 KB of rules per change); 0 = on the main thread.' }),
      },
      { additionalProperties: false },
    ),
    fleet: Fleet,
    dataDir: Type.String({ minLength: 1, default: './var-headoffice', description: 'Pull cache, notification inbox and push records live here.' }),
    log: Type.Object({ level: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino level.' }) }, { additionalProperties: false, default: {} }),
  },
  { additionalProperties: false },
);

export type HeadOfficeConfig = Static<typeof HeadOfficeSchema>;

/** The secrets, read from their files; kept apart from the config so nothing logs them with it. */
export interface HeadOfficeSecrets {
  managementKey: string;
  notificationSecret: string | null;
  signingKeyPem: string;
}

export interface LoadedHeadOffice {
  config: HeadOfficeConfig;
  secrets: HeadOfficeSecrets;
  source: string;
  warnings: string[];
}

/** Reads and validates the file; throws `ConfigError` (exit 2) listing every problem with its JSON path. */
export async function loadHeadOfficeConfig(file: string): Promise<LoadedHeadOffice> {
  const full = path.resolve(file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why = code === 'ENOENT' ? `head office config ${full} does not exist` : `cannot read head office config ${full}: ${code}`;
    throw new ConfigError(why, [{ path: '/', message: why }], err);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const { line, column } = lineColumn(text, Math.max(0, jsonErrorOffset(text)));
    throw new ConfigError(`head office config ${full} is not valid JSON at line ${line}, column ${column}`, [{ path: '/', message: `line ${line}, column ${column}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return validateHeadOfficeConfig(raw, path.dirname(full), full);
}

export async function validateHeadOfficeConfig(raw: unknown, baseDir: string, source: string): Promise<LoadedHeadOffice> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(source, [{ path: '/', message: 'the config must be a JSON object' }]);
  const details: ErrorDetail[] = [];
  let doc: Record<string, unknown>;
  try {
    doc = Value.Default(HeadOfficeSchema, structuredClone(raw)) as Record<string, unknown>;
  } catch {
    doc = structuredClone(raw) as Record<string, unknown>; // a wrong shape TypeBox cannot default: the errors below name it
  }
  for (const e of Value.Errors(HeadOfficeSchema, doc)) details.push(explainSchemaError(e, () => undefined));
  if (details.length > 0) throw invalid(source, details.slice(0, 50));
  const config = doc as HeadOfficeConfig;
  const warnings: string[] = [];
  const rel = (p: string) => path.resolve(baseDir, p);
  const managementKey = await secret(rel(config.talon.managementKeyFile), '/talon/managementKeyFile', 1, details, warnings);
  const notificationSecret = config.notifications.secretFile === null ? null : await secret(rel(config.notifications.secretFile), '/notifications/secretFile', 16, details, warnings);
  const signingKeyPem = await secret(rel(config.signing.keyFile), '/signing/keyFile', 1, details, warnings, true);
  if (signingKeyPem) {
    try {
      ed25519PrivateKey(signingKeyPem);
    } catch (err) {
      details.push({ path: '/signing/keyFile', message: (err as Error).message });
    }
  }
  if (config.http.adminToken === null && !isLoopback(config.http.host)) {
    details.push({ path: '/http/adminToken', message: `is required when http.host (${config.http.host}) is not a loopback address: /fleet and /metrics would be open to the network` });
  }
  if (details.length > 0) throw invalid(source, details);
  config.dataDir = rel(config.dataDir);
  for (const k of ['caFile', 'certFile', 'keyFile'] as const) {
    const f = config.mqtt[k];
    if (f) config.mqtt[k] = rel(f);
  }
  return { config, secrets: { managementKey: managementKey as string, notificationSecret, signingKeyPem: signingKeyPem as string }, source, warnings };
}

async function secret(file: string, at: string, minLength: number, details: ErrorDetail[], warnings: string[], whole = false): Promise<string | null> {
  try {
    const st = await stat(file);
    if ((st.mode & 0o004) !== 0) warnings.push(`${at.slice(1).replace('/', '.')} ${file} is world-readable; chmod 600 it`);
    const text = await readFile(file, 'utf8');
    const value = whole ? text : (text.split(/\r?\n/, 1)[0]?.trim() ?? '');
    if (value.trim().length < minLength) {
      details.push({ path: at, message: `${file} ${value.trim() ? `holds fewer than ${minLength} characters` : 'is empty'}` });
      return null;
    }
    return value;
  } catch (err) {
    details.push({ path: at, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'EIO'}` });
    return null;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function invalid(source: string, details: ErrorDetail[]): ConfigError {
  return new ConfigError(`invalid head office config (${source}):\n${details.map((d) => `  ${d.path}: ${d.message}`).join('\n')}`, details);
}
