import { Type, type Static } from '@sinclair/typebox';

/**
 * The config schema: the single source of the config's types, defaults and descriptions.
 * `config/schema.json` is generated from it (`npm run gen:schema`; a test fails when it is stale) and
 * `config/default.json` holds the defaults a run with no config file uses (README "Commands").
 * Every object is closed (`additionalProperties: false`) so a typo is an error, not a silent default.
 */

const Store = Type.Object(
  {
    integrationId: Type.String({
      minLength: 1,
      maxLength: 1000,
      default: 'store-042',
      description: "This store's Talon.One `storeIntegrationId`; injected into every session and event sent upstream.",
    }),
    attributes: Type.Record(Type.String(), Type.Unknown(), {
      default: {},
      description: 'Store attributes for `$Store` paths in local evaluation (they win over pushed Store objects). Never sent per request.',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** HTTPS for terminals (README "HTTPS on the shop's LAN"); src/tls/ does the work. */
const Tls = Type.Object(
  {
    certFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description:
        'Server certificate (PEM), followed by its chain (`storegate keys tls` writes server.pem with the store CA after it). Set with keyFile: the terminal API is then HTTPS only, and plain HTTP is refused.',
    }),
    keyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: "Private key (PEM, unencrypted) of certFile; readable by the service's user only. Never logged or shown.",
    }),
    caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description:
        'CA certificate(s) (PEM) that terminals\' client certificates must be signed by; set = the gateway asks for a client certificate, and one whose SHA-256 is a terminal\'s `certSha256` authenticates that terminal. null = no client certificates.',
    }),
    requireClientCert: Type.Boolean({
      default: false,
      description: 'Mutual TLS: a TLS handshake without a client certificate signed by caFile is refused. Needs caFile.',
    }),
    checkIntervalSec: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: 10,
      description:
        'The certificate, key and CA files are reloaded without a restart when they change: on a file event at once, and by comparing their content this often (events miss some replacements). Invalid new files are refused and the loaded ones kept.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const Http = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Listen address.' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'Listen port, 0 = any free port.' }),
    bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1048576, default: 1048576, description: 'Largest accepted request body; larger bodies get 413.' }),
    drainTimeoutMs: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 10_000,
      description:
        'At shutdown (SIGTERM/SIGINT) requests in flight get this long to finish; one still running then is cut: its connection closes unanswered, the terminal sees a network error and retries (README "Shutdown").',
    }),
    tls: Tls,
    plainPort: Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()], {
      default: null,
      description:
        'With http.tls: a plain-HTTP port on 127.0.0.1 that serves only /healthz and /readyz (for health checks that cannot speak TLS); every other request there is refused. null = none; 0 = any free port.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const Terminal = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 100, pattern: '^[A-Za-z0-9._-]+$', description: 'Terminal id (appears in logs and the journal).' }),
    tokenSha256: Type.Optional(
      Type.String({ pattern: '^[0-9a-f]{64}$', description: "Hex SHA-256 of the terminal's token (`storegate keys terminal ID` prints both). A terminal needs tokenSha256, certSha256 or both." }),
    ),
    certSha256: Type.Optional(
      Type.String({
        pattern: '^([0-9a-fA-F]{64}|([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2})$',
        description:
          "SHA-256 fingerprint of the terminal's client certificate (hex, colons allowed; `storegate keys tls --client ID` prints it). With http.tls.caFile, a terminal presenting it needs no token; with both, they must name the same terminal.",
      }),
    ),
  },
  { additionalProperties: false },
);

const Retry = Type.Object(
  {
    attempts: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'Tries per upstream call (first try included), within the call deadline.' }),
    baseMs: Type.Integer({ minimum: 1, maximum: 60_000, default: 100, description: 'Backoff base: the n-th retry waits a random time in [0, min(maxMs, baseMs·2^n)] (full jitter).' }),
    maxMs: Type.Integer({ minimum: 1, maximum: 600_000, default: 5000, description: 'Backoff cap.' }),
  },
  { additionalProperties: false, default: {} },
);

/** Lean payloads (README "Lean payloads"); src/trim/ does the work. */
const AttributeNames = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { default: [], maxItems: 1000, uniqueItems: true, description });

const TrimAttributes = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'Before a session update goes to Talon.One, drop the session and cart-item attributes that no campaign of this store reads (known from the pushed rules) and that are not kept below. Trimmed attributes never reach Talon.One (not stored, not in exports or webhooks), and the session it echoes lacks them.',
    }),
    keepSession: AttributeNames('Session attributes always sent (e.g. read by reporting, loyalty or webhooks rather than by campaigns).'),
    keepCartItem: AttributeNames('Cart-item attributes always sent.'),
  },
  { additionalProperties: false, default: {} },
);

/** Checked answers (README "Checked answers"); src/answers/ does the work. */
const CheckAnswers = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        "Check every 2xx answer of Talon.One to a terminal's call against the Integration API schema and sanity rules (known effect types, no discount above what it applies to, effects of known campaigns); a failing answer is logged with the session id, counted and alerted (`upstreamAnswerInvalid`).",
    }),
    replace: Type.Boolean({
      default: false,
      description: 'A failing answer is replaced by a local answer (journaled like any other; Talon.One keeps what it did, and reconciliation shows the difference).',
    }),
    unknownCampaigns: Type.Union([Type.Literal('count'), Type.Literal('fail')], {
      default: 'count',
      description:
        '`count`: an effect of a campaign the pushed rules do not know (it may be newer than this shop\'s rules) is only counted; `fail`: it fails the answer like the other rules.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const Upstream = Type.Object(
  {
    baseUrl: Type.Union([Type.String({ pattern: '^https?://[^\\s]+$' }), Type.Null()], {
      default: null,
      description: 'Talon.One deployment URL, e.g. https://acme.europe-west1.talon.one.',
    }),
    apiKey: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'Integration API key. Prefer apiKeyFile. Never logged or shown.',
    }),
    apiKeyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'File holding the API key (first line). Mode 0600 recommended; a world-readable file gives a warning.',
    }),
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 800, description: 'Deadline of one terminal call upstream, retries included.' }),
    connections: Type.Integer({ minimum: 1, maximum: 1024, default: 16, description: 'Keep-alive connections in the upstream pool.' }),
    retry: Retry,
    trimAttributes: TrimAttributes,
    checkAnswers: CheckAnswers,
  },
  { additionalProperties: false, default: {} },
);

/** Manual overrides, audited (README "Manual overrides"); src/overrides/ does the work. */
const Overrides = Type.Object(
  {
    eventType: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()], {
      default: 'manual_override',
      description:
        'Custom event type (`POST /v2/events` `type`) with which POS terminals report a manual override (a price or discount keyed in by hand); such events are counted per terminal and per day. null = not counted.',
    }),
    offlineDailyCap: Type.Integer({
      minimum: 0,
      maximum: 100_000,
      default: 10,
      description:
        'Overrides one terminal may report in one day (the Talon.One application\'s time zone) while answered locally; past it an `overrideCap` alert goes to `P/alerts` (once per terminal and day). Each one answered locally is listed in `GET /admin/reconciliation`.',
    }),
  },
  { additionalProperties: false, default: {} },
);

const MqttReconnect = Type.Object(
  {
    minMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 1000, description: 'Shortest wait before a reconnect attempt.' }),
    spreadMs: Type.Integer({
      minimum: 0,
      maximum: 600_000,
      default: 20_000,
      description:
        'The n-th reconnect attempt waits minMs + a random time in [0, min(maxMs, spreadMs·2^n)]: after a broker restart the shops of a fleet come back spread over this window, not in lock step.',
    }),
    maxMs: Type.Integer({ minimum: 1, maximum: 3_600_000, default: 120_000, description: 'Cap of the random part of the reconnect wait.' }),
  },
  { additionalProperties: false, default: {} },
);

const Mqtt = Type.Object(
  {
    url: Type.Union([Type.String({ pattern: '^(mqtts?|wss?|tcp|ssl)://[^\\s]+$' }), Type.Null()], {
      default: null,
      description: 'Broker URL (`mqtt://host:1883`, `mqtts://host:8883`); null = no MQTT.',
    }),
    username: Type.Union([Type.String(), Type.Null()], { default: null, description: 'Broker user name, if the broker needs one.' }),
    password: Type.Union([Type.String(), Type.Null()], { default: null, description: 'Never logged or shown.' }),
    caFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'PEM file of the CA that signed the broker certificate (mqtts://); null = the system CAs.',
    }),
    certFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Client certificate (PEM) for brokers that require mutual TLS.' }),
    keyFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Private key (PEM) of certFile. Never logged or shown.' }),
    clientId: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], {
      default: null,
      description: 'MQTT client id; null = `storegate-<store.integrationId>`.',
    }),
    topicPrefix: Type.String({ minLength: 1, pattern: '^[^#+\\s]+$', default: 'storegate', description: 'Topics are `<topicPrefix>/<store.integrationId>/…`.' }),
    keepaliveSec: Type.Integer({ minimum: 5, maximum: 3600, default: 30, description: 'MQTT keep-alive: a dead broker link is noticed within 1.5× this.' }),
    sessionExpirySec: Type.Integer({
      minimum: 0,
      maximum: 4_294_967_295,
      default: 3600,
      description: 'MQTT 5 session expiry: the broker keeps subscriptions (and queued QoS 1 messages) this long across a disconnect.',
    }),
    statusIntervalSec: Type.Integer({ minimum: 5, maximum: 3600, default: 60, description: 'Period of the retained `P/status` heartbeat (it is also sent on every change).' }),
    maxPushBytes: Type.Integer({
      minimum: 1024,
      maximum: 256 * 1048576,
      default: 64 * 1048576,
      description: 'Largest signed push accepted (MQTT or HTTP); larger ones are refused before any parsing.',
    }),
    queueLimit: Type.Integer({
      minimum: 1,
      maximum: 100_000,
      default: 1000,
      description: 'Alerts and scans kept while the broker is unreachable; past it the oldest are dropped (and counted).',
    }),
    reconnect: MqttReconnect,
  },
  { additionalProperties: false, default: {} },
);

const Trust = Type.Object(
  {
    publicKeys: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: "Head office's Ed25519 public keys (PEM or JWK) for signed pushes; none = no pushes accepted over MQTT.",
    }),
  },
  { additionalProperties: false, default: {} },
);

const Serial = Type.Object(
  {
    id: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$', description: 'Scanner id (topics, logs, /status).' }),
    path: Type.String({ minLength: 1, description: 'Device path; prefer /dev/serial/by-id/… so a replug keeps its name.' }),
    baudRate: Type.Integer({ minimum: 50, maximum: 4_000_000, default: 9600, description: 'Serial speed.' }),
    role: Type.Union([Type.Literal('terminal'), Type.Literal('priceCheck')], {
      description: '`terminal`: scans go to that terminal; `priceCheck`: scans are answered from the price book.',
    }),
    terminalId: Type.Optional(Type.String({ minLength: 1, description: 'With role `terminal`: the terminal the scans belong to.' })),
    suffix: Type.String({
      maxLength: 8,
      default: '\r\n',
      description: 'Line terminator the scanner sends. `\\r\\n`, `\\r` and `\\n` all accept any of CR, LF or CRLF; another string is matched exactly; `""` = no suffix: a code ends after `interByteTimeoutMs` of silence.',
    }),
    interByteTimeoutMs: Type.Integer({
      minimum: 5,
      maximum: 5000,
      default: 50,
      description: 'With `suffix: ""`: the silence that ends a code. With a suffix, bytes left without one for 1 s are dropped (`incomplete`).',
    }),
    maxLineBytes: Type.Integer({ minimum: 8, maximum: 4096, default: 512, description: 'Longest code accepted; a longer line is dropped (`too_long`), up to its terminator.' }),
    aim: Type.Boolean({ default: false, description: 'Strip the AIM symbology identifier (`]E0`, `]C1`, `]Q1`…) the scanner sends before each code.' }),
    stripPrefixes: Type.Array(Type.String({ minLength: 1, maxLength: 8 }), {
      default: [],
      maxItems: 32,
      description: "Literal prefixes removed from a code (the first that matches), e.g. a scanner's own symbology characters.",
    }),
    couponPattern: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], {
      default: null,
      description: 'Regular expression (RE2 syntax, anchor it with ^…$): a code matching it is a `coupon` even when the coupon cache does not hold it.',
    }),
    loyaltyCardPattern: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], {
      default: null,
      description: 'Regular expression (RE2 syntax): a code matching it is a `loyaltyCard` even when no cached balance names that card.',
    }),
    autoApplyCoupons: Type.Boolean({
      default: false,
      description: "With role `terminal`: a scanned coupon is added to `couponCodes` of that terminal's next session update, then forgotten.",
    }),
    priceTemplate: Type.String({
      minLength: 1,
      maxLength: 200,
      default: '{label}\n{finalPrice} {was}',
      description: 'With role `priceCheck`: the answer written back to the port; `\\n` starts the next display row. Placeholders: `{label}` (promotion label, else the SKU), `{sku}`, `{finalPrice}`, `{price}`, `{was}` (`(was <price>)` when discounted, else empty), `{validUntil}` (date).',
    }),
    noPriceTemplate: Type.String({ minLength: 1, maxLength: 200, default: '{code}\nno price', description: 'With role `priceCheck`: the answer for a code the price book does not hold (`{code}`).' }),
    displayColumns: Type.Integer({ minimum: 8, maximum: 80, default: 20, description: 'Characters per row of the price-check display; each row is cut or padded to this.' }),
    displayRows: Type.Integer({ minimum: 1, maximum: 8, default: 2, description: 'Rows of the price-check display; template rows past it are dropped.' }),
    goneAlertSec: Type.Integer({ minimum: 1, maximum: 86400, default: 60, description: 'A port closed (unplugged, failing to open) this long raises a `scannerGone` alert on `P/alerts`.' }),
  },
  { additionalProperties: false },
);

const Journal = Type.Object(
  {
    maxBytes: Type.Integer({ minimum: 1048576, default: 1073741824, description: 'Journal size cap; past it local answers get 503.' }),
    segmentBytes: Type.Integer({
      minimum: 65536,
      maximum: 1073741824,
      default: 67108864,
      description: 'Size of one journal segment file; space is freed a whole delivered segment at a time (smaller suits a small disk).',
    }),
    reserveBytes: Type.Integer({
      minimum: 0,
      default: 16777216,
      description: 'Disk space held back in `<dataDir>/disk-reserve` and released when the disk is full, so deliveries can still be recorded and delivered segments freed (0 = none).',
    }),
    flushConcurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'Sessions/profiles flushed upstream at once.' }),
    diskLowBytes: Type.Integer({
      minimum: 0,
      default: 268435456,
      description: 'Free space on the data dir filesystem below which a `diskLow` alert goes to `P/alerts` (checked every minute; 0 = never).',
    }),
  },
  { additionalProperties: false, default: {} },
);

/** Fallback promotions (README "Fallback promotions"); src/engine/fallback.ts says when they apply. */
const Fallback = Type.Object(
  {
    rules: Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()], {
      default: null,
      description:
        'The fallback promotions inline: `{application?, evaluationTree?, campaigns: [{campaign, ruleset, replaces?}]}` (Talon.One Campaign + RulesetV2; every campaign must be offline-capable). Their effects carry rule names starting with `[fallback] `. null = none (or see rulesFile).',
    }),
    rulesFile: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'The same as `rules`, in a JSON file (relative to the config file). Set rules or rulesFile, not both.',
    }),
    maxRulesAgeSec: Type.Union([Type.Integer({ minimum: 60 }), Type.Null()], {
      default: null,
      description:
        'Rules data older than this (since it was pushed or loaded) is not used offline: the fallback promotions are, instead of it, as when there are no rules at all. null = the rules never get too old.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Standard promotions given when the rules data is empty or older than maxRulesAgeSec (instead of it), and, for a fallback campaign listing `replaces: [ids]`, when one of those campaigns runs here but is not offline-capable (beside the rules). Off unless rules or rulesFile is set.',
  },
);

const Offline = Type.Object(
  {
    couponPolicy: Type.Literal('store-ledger', { default: 'store-ledger', description: 'Offline coupon use goes through one store-wide ledger.' }),
    maxOfflineLoyaltyDeduction: Type.Integer({ minimum: 0, default: 500, description: 'Most loyalty points one profile may spend offline before reconciliation.' }),
    fallback: Fallback,
  },
  { additionalProperties: false, default: {} },
);

const DataFiles = Type.Object(
  {
    rules: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Rules file (shape: README "Local data") loaded at start.' }),
    prices: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Strikethrough notification batch(es) loaded at start.' }),
    coupons: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Coupons file loaded at start.' }),
    loyalty: Type.Union([Type.String({ minLength: 1 }), Type.Null()], { default: null, description: 'Loyalty file loaded at start.' }),
    catalog: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'Cart item catalog file (`{version, full, items: [CatalogItem]}`) loaded at start: lines lacking attributes are completed from it.',
    }),
    collections: Type.Union([Type.String({ minLength: 1 }), Type.Null()], {
      default: null,
      description: 'Collections file (`{version, full, collections: [Collection]}`) loaded at start: the lists `inCollection` conditions read.',
    }),
  },
  {
    additionalProperties: false,
    default: {},
    description:
      'Local data files read at start (relative paths resolve against the config file folder). With no config file, a source checkout reads the sample data in its config/ folder; the single binary has none.',
  },
);

const Log = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'pino level.' },
    ),
  },
  { additionalProperties: false, default: {} },
);

export const ConfigSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Editor hint; ignored.' })),
    store: Store,
    mode: Type.Union([Type.Literal('connected'), Type.Literal('hybrid'), Type.Literal('offline')], {
      default: 'offline',
      description: 'connected: forward synchronously, local answer on failure; hybrid: answer locally, forward in background; offline: local only.',
    }),
    dataDir: Type.String({ minLength: 1, default: './var', description: 'Journal and snapshots live here.' }),
    http: Http,
    adminToken: Type.Union([Type.String({ minLength: 16 }), Type.Null()], {
      default: null,
      description: 'Bearer token for /status, /metrics and /admin/*; null = those routes are closed.',
    }),
    terminals: Type.Array(Terminal, { default: [], description: 'Terminals allowed on the terminal API.' }),
    upstream: Upstream,
    mqtt: Mqtt,
    trust: Trust,
    serial: Type.Array(Serial, { default: [], description: 'Barcode scanners and price-check stations on serial ports (README "Serial scanners").' }),
    journal: Journal,
    offline: Offline,
    overrides: Overrides,
    dataFiles: DataFiles,
    log: Log,
  },
  { additionalProperties: false, $id: 'https://storegate.local/config.schema.json', title: 'storegate config' },
);

export type Config = Static<typeof ConfigSchema>;
export type Mode = Config['mode'];
