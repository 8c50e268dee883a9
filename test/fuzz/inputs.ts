/**
 * The fuzz suite's inputs: one generated request each, for every terminal, admin and ops route (README
 * "Terminal API", "Operations API"), for MQTT RPC (README "Terminal RPC") and for the push gate, plus
 * malformed HTTP that only a raw socket can send. Inputs are plain data; `harness.ts` runs them.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN, STORE_ID, TERMINAL_TOKENS } from '../helpers/gateway.js';
import { RPC_METHODS } from '../../src/mqtt/topics.js';
import { bodyFromSchema, type BodySchemaName } from './schema-arb.js';
import { type BodyText, damageText, depthAroundBudget, hostileNumber, hostileString, hostileValue, nestedText, objectOf, oddText, pct, raw, toText } from './values.js';

/** offline, connected and hybrid take terminal and read-only admin traffic; `office` takes head office's pushes. */
export type Target = 'offline' | 'connected' | 'hybrid' | 'office';
export const TERMINAL_TARGETS: readonly Target[] = ['offline', 'connected', 'hybrid'];

/** What an upstream call meets during this input (connected and hybrid only): the emulator's faults. */
export type UpstreamFault = 'none' | 'status500' | 'status502' | 'status429' | 'status400' | 'status404' | 'status409' | 'slow' | 'refuse';

export interface HttpInput {
  type: 'http';
  target: Target;
  /** `inject` for the bulk (in process, same routes and hooks); `socket` sends the same request over TCP. */
  transport: 'inject' | 'socket';
  route: string;
  method: string;
  /** Path and query as sent (already percent-encoded or deliberately not). */
  url: string;
  headers: [string, string][];
  body?: BodyText;
  fault: UpstreamFault;
  /** Head office's signed push, built when run (it needs a fresh version): replaces `body`. */
  jws?: JwsPlan;
}

/** Bytes only a raw socket can send: invalid HTTP, smuggling shapes, huge headers, wrong lengths, chunking. */
export interface RawInput {
  type: 'raw';
  target: Target;
  route: string;
  /** Written one `socket.write` each, then the socket is half-closed. */
  chunks: Buffer[];
}

export interface RpcInput {
  type: 'rpc';
  target: Target;
  /** `direct`: the RpcServer handler called with the message; `broker`: published on a real mosquitto. */
  via: 'direct' | 'broker';
  method: string;
  payload: Buffer;
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface PushInput {
  type: 'push';
  target: 'office';
  via: 'direct' | 'broker';
  kind: string;
  /** A ready payload (garbage, unsigned) or a JWS to sign when run. */
  payload: BodyText | JwsPlan;
}

export type FuzzInput = HttpInput | RawInput | RpcInput | PushInput;

/** A JWS to build at run time: which key signs, which protected header, which payload, which damage. */
export interface JwsPlan {
  jws: true;
  key: 'trusted' | 'stranger' | 'hmac' | 'none';
  header: Record<string, unknown>;
  /** JSON text with the `NEXT_VERSION` placeholder, or raw bytes. */
  payload: BodyText;
  damage: 'none' | 'flipSignature' | 'dropSignature' | 'truncate' | 'swapPayload' | 'extraSegment' | 'padding' | 'whitespace';
}

/** Replaced, when run, by a version higher than any used before (so a valid push can pass the rollback gate). */
export const NEXT_VERSION = '@@NEXTVERSION@@';

// ---------------------------------------------------------------------------------------------- ids, queries

export const SESSION_POOL = Array.from({ length: 12 }, (_, i) => `FZ-${i}`);
export const PROFILE_POOL = ['cust-001', 'cust-002', 'cust-9', 'FZ-P1', 'FZ-P2'];

/** Path segments as sent: encoded hostile strings, and deliberately broken encodings. */
const rawSegment = fc.constantFrom(
  '%2F', 'a%2Fb', '..', '.', '%2e%2e', '%2E', '%00', 'a%00b', '%', '%Z', '%ZZ', '%E0%A4%A', '%C0%AF', '%ED%A0%80', '%FF', '%F0%9F%98%80',
  'a;b=c', ';', '~', "!$&'()*+,=:@", 'a%20b', '%u0041', '%%', '%25', 'x'.repeat(100), 'x'.repeat(101), 'x'.repeat(1000), 'x'.repeat(5000),
  'é', 'CON', 'nul', '-', '_', '0', '-1', '1e3', 'null', 'undefined', '__proto__', 'constructor', 'prototype', '%5F%5Fproto%5F%5F',
);

function idArb(pool: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...pool) },
    { weight: 2, arbitrary: hostileString.map((s) => pct(s.slice(0, 2000))) },
    { weight: 2, arbitrary: rawSegment },
  );
}

const queryValue = fc.oneof(
  fc.constantFrom('true', 'false', 'TRUE', '1', '0', '', 'yes', 'no', 'null', '2026-05-01T10:00:00Z', '2026-05-01T10:00:00', 'tomorrow', '-1', '1e400', '%', '%ZZ', '%00'),
  hostileString.map((s) => pct(s.slice(0, 500))),
  hostileNumber.map((n) => pct(String(n))),
);

/** A query string for a route whose own keys are `keys`: duplicates, arrays, bracket keys, unknown keys, huge. */
function queryArb(keys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...keys, ...keys.map((k) => `${k}[]`), ...keys.map((k) => `${k}[a]`)) }, { weight: 1, arbitrary: hostileString.map((s) => pct(s.slice(0, 100))) });
  const pair = fc.oneof(
    { weight: 6, arbitrary: fc.tuple(key, queryValue).map(([k, v]) => `${k}=${v}`) },
    { weight: 1, arbitrary: key }, // no `=`
    { weight: 1, arbitrary: fc.constantFrom('', '=', '&', '==', '=x', '&&&', '%26=%3D') },
  );
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant('') },
    { weight: 8, arbitrary: fc.array(pair, { minLength: 1, maxLength: 6 }).map((ps) => `?${ps.join('&')}`) },
    { weight: 1, arbitrary: fc.constantFrom(...keys).map((k) => `?${`${k}=true&`.repeat(2000)}`) },
    { weight: 1, arbitrary: fc.constantFrom('?', '??', '?#', '?&', `?${'a'.repeat(6000)}=1`, '?dry=true&dry=false', '?dry=true#frag') },
  );
}

// -------------------------------------------------------------------------------------------------- headers

const T1 = TERMINAL_TOKENS.T1;
/** Authorization headers that must not authenticate a terminal. */
const badTerminalAuth = fc.constantFrom(
  '', 'ApiKey-v1', 'ApiKey-v1 ', 'ApiKey-v1  ', `ApiKey-v1 ${T1}x`, `ApiKey-v1 ${T1.slice(0, -1)}`, `Bearer ${ADMIN_TOKEN}`, `ApiKey-v1 ${ADMIN_TOKEN}`,
  `Bearer ${T1}`, 'Basic dXNlcjpwYXNz', `ApiKey-v1\t${T1}`, `ApiKey-v2 ${T1}`, `ApiKey-v1${T1}`, `ApiKey-v1 ${'x'.repeat(10_000)}`, 'ApiKey-v1 null',
  'ApiKey-v1 undefined', 'ApiKey-v1 [object Object]', 'ApiKey-v1 ' + 'é'.repeat(10), '\u00ff\u00fe',
);
/** Authorization headers a terminal is still recognised by (the scheme is case-insensitive, the token trimmed). */
const goodTerminalAuth = fc.constantFrom(`ApiKey-v1 ${T1}`, `ApiKey-v1 ${TERMINAL_TOKENS.T2}`, `apikey-v1 ${T1}`, `APIKEY-V1 ${T1}`, `ApiKey-v1 ${T1} `);
const badAdminAuth = fc.constantFrom(
  '', 'Bearer', 'Bearer ', `Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(1)}`, `Bearer ${ADMIN_TOKEN.toUpperCase()}`, `ApiKey-v1 ${ADMIN_TOKEN}`,
  `ApiKey-v1 ${T1}`, `Bearer ${T1}`, `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`, `Bearer ${'x'.repeat(10_000)}`, 'Bearer null', `Bearer\t${ADMIN_TOKEN}`,
);
const goodAdminAuth = fc.constantFrom(`Bearer ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN} `);

const contentType = fc.oneof(
  { weight: 14, arbitrary: fc.constant('application/json') },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset=latin1', 'application/json; charset=utf-16',
      'application/json; charset="utf-8"', 'application/json;', 'application/json; boundary=x', 'APPLICATION/JSON', 'Application/Json',
      'application/json, text/plain', ' application/json ', 'application/jsonx', 'application/vnd.api+json', 'application/problem+json', 'text/json',
      'text/plain', 'text/plain; charset=utf-8', 'text/html', 'multipart/form-data; boundary=----x', 'multipart/form-data',
      'application/x-www-form-urlencoded', 'application/octet-stream', 'application/jose', 'application/jose+json', 'application/xml', '*/*', 'json',
      '', ';', 'application/', '/json', `application/json; ${'p=1;'.repeat(500)}`,
    ),
  },
  { weight: 2, arbitrary: fc.constant(null) }, // no Content-Type at all
);

const idempotencyKey = fc.oneof(
  { weight: 10, arbitrary: fc.constant(null) },
  { weight: 4, arbitrary: fc.constantFrom('idem-0', 'idem-1', 'idem-2', 'idem-3') }, // reused: replays and 409 conflicts
  { weight: 2, arbitrary: fc.uuid() },
  { weight: 2, arbitrary: fc.constantFrom('', ' ', 'k'.repeat(255), 'k'.repeat(256), 'k'.repeat(10_000), 'é', '\u00ff', '__proto__', 'null', '0', 'a,b', '"quoted"', 'mqtt-T1-00') },
);

/** Other headers a LAN may carry (values a real HTTP parser accepts: printable Latin-1). */
const extraHeaders = fc.oneof(
  { weight: 10, arbitrary: fc.constant<[string, string][]>([]) },
  {
    weight: 3,
    arbitrary: fc.subarray<[string, string]>([
      ['content-encoding', 'gzip'],
      ['accept', 'application/xml'],
      ['accept-encoding', 'br, gzip, deflate'],
      ['x-forwarded-for', '1.2.3.4, ::1'],
      ['x-storegate-source', 'upstream'],
      ['x-storegate-journal-seq', '999999'],
      ['expect', '100-continue'],
      ['connection', 'close'],
      ['origin', 'http://evil.example'],
      ['cookie', 'a=b; __proto__=1'],
      ['x-http-method-override', 'DELETE'],
      ['if-none-match', '*'],
      ['range', 'bytes=0-1'],
      ['user-agent', 'x'.repeat(4000)],
    ]),
  },
);

// ----------------------------------------------------------------------------------------------------- bodies

function bodyArb(schema: BodySchemaName | null): fc.Arbitrary<BodyText | undefined> {
  const value = schema ? bodyFromSchema(schema) : hostileValue;
  return fc.oneof(
    { weight: 12, arbitrary: value.map(toText) },
    { weight: 2, arbitrary: value.map(toText).chain(damageText) },
    { weight: 2, arbitrary: oddText },
    { weight: 1, arbitrary: hostileValue.map(toText) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: depthAroundBudget.map((d) => `{"customerSession":{"attributes":{"x":${nestedText(d)}}}}`) },
  );
}

// ------------------------------------------------------------------------------------------------------ routes

interface RouteSpec {
  route: string;
  method: 'GET' | 'PUT' | 'POST';
  url: fc.Arbitrary<string>;
  auth: 'terminal' | 'admin' | 'none';
  body: fc.Arbitrary<BodyText | undefined> | null;
  targets: readonly Target[];
}

const sid = idArb(SESSION_POOL);
const pid = idArb(PROFILE_POOL);
const programId = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('1', '2', '3') }, { weight: 1, arbitrary: idArb(['0', '-1', '1.5', '99999999999999999999']) });

const TERMINAL_ROUTES: RouteSpec[] = [
  { route: 'PUT /v2/customer_sessions/:id', method: 'PUT', url: fc.tuple(sid, queryArb(['dry', 'now'])).map(([i, q]) => `/v2/customer_sessions/${i}${q}`), auth: 'terminal', body: bodyArb('updateCustomerSession'), targets: TERMINAL_TARGETS },
  { route: 'POST /v2/customer_sessions/:id/returns', method: 'POST', url: fc.tuple(sid, queryArb(['dry'])).map(([i, q]) => `/v2/customer_sessions/${i}/returns${q}`), auth: 'terminal', body: bodyArb('returnCartItems'), targets: TERMINAL_TARGETS },
  { route: 'PUT /v2/customer_sessions/:id/reopen', method: 'PUT', url: fc.tuple(sid, queryArb(['dry'])).map(([i, q]) => `/v2/customer_sessions/${i}/reopen${q}`), auth: 'terminal', body: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: bodyArb(null) }), targets: TERMINAL_TARGETS },
  { route: 'POST /v2/events', method: 'POST', url: queryArb(['silent', 'dry']).map((q) => `/v2/events${q}`), auth: 'terminal', body: bodyArb('trackEvent'), targets: TERMINAL_TARGETS },
  { route: 'PUT /v2/customer_profiles/:id', method: 'PUT', url: fc.tuple(pid, queryArb(['runRuleEngine', 'dry'])).map(([i, q]) => `/v2/customer_profiles/${i}${q}`), auth: 'terminal', body: bodyArb('updateCustomerProfile'), targets: TERMINAL_TARGETS },
  { route: 'GET /v1/customer_profiles/:id/inventory', method: 'GET', url: fc.tuple(pid, queryArb(['profile', 'referrals', 'coupons', 'loyalty', 'giveaways', 'achievements'])).map(([i, q]) => `/v1/customer_profiles/${i}/inventory${q}`), auth: 'terminal', body: null, targets: TERMINAL_TARGETS },
  { route: 'GET /v1/loyalty_programs/:pid/profile/:id/balances', method: 'GET', url: fc.tuple(programId, pid, queryArb(['endDate', 'subledgerId'])).map(([p, i, q]) => `/v1/loyalty_programs/${p}/profile/${i}/balances${q}`), auth: 'terminal', body: null, targets: TERMINAL_TARGETS },
];

const ALL: readonly Target[] = ['offline', 'connected', 'hybrid', 'office'];
const none = fc.constant('');
const OPS_ROUTES: RouteSpec[] = [
  { route: 'GET /healthz', method: 'GET', url: queryArb(['x']).map((q) => `/healthz${q}`), auth: 'none', body: null, targets: ALL },
  { route: 'GET /readyz', method: 'GET', url: queryArb(['x']).map((q) => `/readyz${q}`), auth: 'none', body: null, targets: ALL },
  { route: 'GET /', method: 'GET', url: queryArb(['x']).map((q) => `/${q}`), auth: 'none', body: null, targets: ALL },
  { route: 'GET /status', method: 'GET', url: none.map(() => '/status'), auth: 'admin', body: null, targets: ALL },
  { route: 'GET /metrics', method: 'GET', url: none.map(() => '/metrics'), auth: 'admin', body: null, targets: ALL },
  { route: 'GET /admin/journal/stats', method: 'GET', url: none.map(() => '/admin/journal/stats'), auth: 'admin', body: null, targets: ALL },
  { route: 'GET /admin/journal/list', method: 'GET', url: queryArb(['limit']).map((q) => `/admin/journal/list${q}`), auth: 'admin', body: null, targets: ALL },
  { route: 'POST /admin/journal/flush', method: 'POST', url: none.map(() => '/admin/journal/flush'), auth: 'admin', body: fc.option(bodyArb(null), { nil: undefined }), targets: ALL },
  { route: 'GET /admin/journal/dead', method: 'GET', url: none.map(() => '/admin/journal/dead'), auth: 'admin', body: null, targets: ALL },
  {
    route: 'POST /admin/journal/dead/retry',
    method: 'POST',
    url: none.map(() => '/admin/journal/dead/retry'),
    auth: 'admin',
    body: fc.oneof(fc.constant(undefined), hostileValue.map((seqs) => toText({ seqs })), fc.array(fc.integer(), { maxLength: 5 }).map((seqs) => toText({ seqs })), bodyArb(null)),
    targets: ALL,
  },
  { route: 'GET /admin/reconciliation', method: 'GET', url: none.map(() => '/admin/reconciliation'), auth: 'admin', body: null, targets: ALL },
];

/** Paths no route serves, some of them one character away from one. */
const unknownUrl = fc.oneof(
  fc.constantFrom(
    '/v2/customer_sessions', '/v2/customer_sessions/', '/v2/customer_sessions//', '/v2/customer_sessions/a/b', '/V2/customer_sessions/a', '/v2/events/', '/v2/events/x',
    '//v2/events', '/v3/events', '/admin', '/admin/', '/admin/data/', '/admin/data/rules/x', '/ADMIN/CONFIG', '/admin/config/', '/%2e%2e/admin/config', '/v2/../admin/config',
    '/v2/customer_sessions/%2e%2e/%2e%2e/admin/config', '/v1/customer_profiles//inventory', '/v1/loyalty_programs/1/profile//balances', '/healthz/', '/status/', '/metrics?x',
    '/favicon.ico', '/robots.txt', '/.env', '/%00', '/%', '/%ZZ', `/${'a'.repeat(5000)}`, '/*', '/v2/customer_sessions/*', '/v2/customer_sessions/:customerSessionId',
  ),
  hostileString.map((s) => `/${pct(s.slice(0, 300))}`),
);

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'SEARCH', 'LOCK', 'MKCOL', 'COPY', 'MOVE'] as const;

function methodFor(own: string): fc.Arbitrary<string> {
  return fc.oneof({ weight: 17, arbitrary: fc.constant(own) }, { weight: 2, arbitrary: fc.constantFrom(...METHODS) });
}

function headersFor(auth: RouteSpec['auth'], opts: { hasBody: boolean; putAdmin?: boolean; target: Target }): fc.Arbitrary<[string, string][]> {
  let authArb: fc.Arbitrary<string | null>;
  if (auth === 'terminal') authArb = fc.oneof({ weight: 10, arbitrary: goodTerminalAuth }, { weight: 2, arbitrary: badTerminalAuth }, { weight: 1, arbitrary: fc.constant(null) });
  else if (auth === 'admin' && !opts.putAdmin) authArb = fc.oneof({ weight: 6, arbitrary: goodAdminAuth }, { weight: 2, arbitrary: badAdminAuth }, { weight: 1, arbitrary: fc.constant(null) });
  // Head office's plain pushes under the admin token go to the `office` gateway only: a valid config push there
  // may legitimately close the admin routes or drop the terminals, which would end every other property.
  else if (auth === 'admin') authArb = opts.target === 'office' ? fc.oneof({ weight: 6, arbitrary: goodAdminAuth }, { weight: 2, arbitrary: badAdminAuth }, { weight: 1, arbitrary: fc.constant(null) }) : fc.oneof(badAdminAuth, fc.constant(null));
  else authArb = fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.oneof(badAdminAuth, goodAdminAuth, goodTerminalAuth) });
  return fc
    .tuple(authArb, opts.hasBody ? contentType : fc.option(contentType, { freq: 6 }), auth === 'terminal' ? idempotencyKey : fc.constant(null), extraHeaders)
    .map(([a, ct, idem, extra]) => {
      const h: [string, string][] = [];
      if (a !== null) h.push(['authorization', a]);
      if (ct !== null && ct !== undefined) h.push(['content-type', ct]);
      if (idem !== null) h.push(['idempotency-key', idem]);
      return [...h, ...extra];
    });
}

const FAULTS: fc.Arbitrary<UpstreamFault> = fc.oneof(
  { weight: 40, arbitrary: fc.constant<UpstreamFault>('none') },
  { weight: 1, arbitrary: fc.constantFrom<UpstreamFault>('status500', 'status502', 'status429', 'status400', 'status404', 'status409', 'refuse') },
  { weight: 1, arbitrary: fc.constant<UpstreamFault>('slow') },
);

function httpFromSpec(spec: RouteSpec, target: Target, transport: HttpInput['transport']): fc.Arbitrary<HttpInput> {
  const putAdmin = spec.route.startsWith('PUT /admin/');
  return fc
    .record({
      method: methodFor(spec.method),
      url: spec.url,
      headers: headersFor(spec.auth, { hasBody: spec.body !== null, putAdmin, target }),
      body: spec.body ?? fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: bodyArb(null) }),
      fault: target === 'connected' || target === 'hybrid' ? FAULTS : fc.constant<UpstreamFault>('none'),
    })
    .map((r) => ({ type: 'http' as const, target, transport, route: spec.route, method: r.method, url: r.url, headers: r.headers, fault: r.fault, ...(r.body === undefined ? {} : { body: r.body }) }));
}

// ------------------------------------------------------------------------------------- head office's pushes

const APP = path.join(import.meta.dirname, '..', '..');
const SAMPLES: Record<string, unknown> = {
  rules: JSON.parse(readFileSync(path.join(APP, 'config', 'sample-rules.json'), 'utf8')),
  prices: JSON.parse(readFileSync(path.join(APP, 'config', 'sample-prices.json'), 'utf8')),
  coupons: JSON.parse(readFileSync(path.join(APP, 'config', 'sample-coupons.json'), 'utf8')),
  loyalty: JSON.parse(readFileSync(path.join(APP, 'config', 'sample-loyalty.json'), 'utf8')),
};

/** Every JSON path (as key lists) in a value, for picking a mutation point. */
function pathsOf(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...prefix, k], out);
  return out;
}
const SAMPLE_PATHS: Record<string, (string | number)[][]> = Object.fromEntries(Object.entries(SAMPLES).map(([k, v]) => [k, pathsOf(v)]));

type Mutation = { at: number; op: 'replace' | 'delete' | 'addKey' | 'wrap' | 'duplicate'; value: unknown; key: string };

function applyMutation(root: unknown, paths: (string | number)[][], m: Mutation): unknown {
  const p = paths[m.at % paths.length] ?? [];
  if (p.length === 0) return m.op === 'replace' ? m.value : root;
  if (root === null || typeof root !== 'object') return root;
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const k of p.slice(0, -1)) {
    // An earlier mutation may have changed the shape under this path: then this one does nothing.
    const next = parent[k];
    if (next === null || typeof next !== 'object') return copy;
    parent = next as Record<string | number, unknown>;
  }
  const last = p[p.length - 1] as string | number;
  switch (m.op) {
    case 'replace':
      parent[last] = m.value;
      break;
    case 'delete':
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
      break;
    case 'addKey': {
      const target = parent[last];
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true });
      else parent[last] = m.value;
      break;
    }
    case 'wrap':
      parent[last] = [parent[last]];
      break;
    case 'duplicate':
      if (Array.isArray(parent)) parent.push(structuredClone(parent[Number(last)]));
      break;
  }
  return copy;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'addKey', 'wrap', 'duplicate'),
  value: hostileValue,
  key: fc.oneof(fc.constantFrom('__proto__', 'constructor', 'unknown', 'version'), hostileString),
});

/**
 * A push version that is wrong (not a positive safe integer, or not above the floor). A valid *huge* version is
 * left out on purpose: it is a legitimate push after which the rollback gate refuses every later one.
 */
const hostileVersion = fc.constantFrom<unknown>(0, -1, 1, 2, 1.5, '7', null, true, [], {}, 1e21, raw('1e400'), raw('9007199254740993'), Number.NaN, '');

/** A data set for `kind`: the sample with 0–3 mutations, its version usually the next one. */
function dataSet(kind: 'rules' | 'prices' | 'coupons' | 'loyalty'): fc.Arbitrary<unknown> {
  const sample = SAMPLES[kind];
  const paths = SAMPLE_PATHS[kind] ?? [];
  return fc
    .tuple(fc.array(mutation, { maxLength: 3 }), fc.oneof({ weight: 6, arbitrary: fc.constant<unknown>(NEXT_VERSION) }, { weight: 1, arbitrary: hostileVersion }))
    .map(([ms, version]) => {
      let v: unknown = ms.reduce((acc, m) => applyMutation(acc, paths, m), sample);
      if (kind !== 'prices' && v !== null && typeof v === 'object' && !Array.isArray(v) && 'version' in v) v = { ...(v as object), version };
      return v;
    });
}

/** A partial config: keys of the config schema with typed or hostile values. */
const configPart: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.tuple(fc.constant('upstream'), fc.record({ timeoutMs: fc.oneof(fc.integer({ min: -1, max: 5000 }), hostileValue), retry: fc.oneof(fc.record({ attempts: fc.integer({ min: -1, max: 10 }), baseMs: hostileNumber }, { requiredKeys: [] }), hostileValue) }, { requiredKeys: [] })),
          fc.tuple(fc.constant('offline'), fc.record({ maxOfflineLoyaltyDeduction: fc.oneof(fc.integer({ min: -5, max: 10_000 }), hostileValue), couponPolicy: fc.oneof(fc.constant('store-ledger'), hostileString) }, { requiredKeys: [] })),
          fc.tuple(fc.constant('journal'), fc.record({ diskLowBytes: hostileNumber, flushConcurrency: fc.integer({ min: -1, max: 64 }), maxBytes: hostileNumber }, { requiredKeys: [] })),
          fc.tuple(fc.constant('log'), fc.oneof(fc.record({ level: fc.constantFrom('info', 'warn', 'loud', '', 'silent ') }), hostileValue)),
          fc.tuple(fc.constant('http'), fc.oneof(fc.record({ port: hostileNumber, bodyLimitBytes: hostileNumber, host: hostileString }, { requiredKeys: [] }), hostileValue)),
          fc.tuple(fc.constant('mqtt'), fc.oneof(fc.record({ url: fc.oneof(fc.constant('mqtt://127.0.0.1:1'), hostileString), topicPrefix: hostileString, keepaliveSec: hostileNumber }, { requiredKeys: [] }), hostileValue)),
          fc.tuple(fc.constantFrom('terminals', 'adminToken', 'trust', 'mode', 'dataDir', 'store', 'serial', 'dataFiles', 'unknownKey', '__proto__', 'constructor'), hostileValue),
          fc.tuple(fc.constant('terminals'), fc.array(fc.record({ id: fc.oneof(fc.constant('T9'), hostileString), tokenSha256: fc.oneof(fc.constant('ab'.repeat(32)), hostileString) }, { requiredKeys: [] }), { maxLength: 2 })),
          fc.tuple(fc.constant('mode'), fc.constantFrom('offline', 'connected', 'hybrid', 'sometimes')),
        ),
        { maxLength: 4 },
      )
      .map(objectOf),
  },
  { weight: 1, arbitrary: hostileValue },
);

const configPush = fc.tuple(fc.oneof({ weight: 6, arbitrary: fc.constant<unknown>(NEXT_VERSION) }, { weight: 1, arbitrary: hostileVersion }), configPart);
const storeField = fc.oneof({ weight: 8, arbitrary: fc.constant<unknown>(STORE_ID) }, { weight: 1, arbitrary: fc.constant<unknown>('*') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom<unknown>('store-777', '', 'STORE-042', 'store-042 ', null, 42), hostileValue) });
const PUSH_KIND_NAMES = ['config', 'rules', 'prices', 'coupons', 'loyalty'] as const;
type PushKindName = (typeof PUSH_KIND_NAMES)[number];

/** The envelope a JWS carries: `{kind?, version, storeIntegrationId, config | data}`, with damage. */
function envelope(kind: PushKindName): fc.Arbitrary<BodyText> {
  const content = kind === 'config' ? configPush.map(([version, config]) => ({ version, config })) : dataSet(kind).map((data) => ({ version: NEXT_VERSION, data }));
  return fc
    .tuple(content, storeField, fc.oneof({ weight: 6, arbitrary: fc.constant<unknown>(undefined) }, { weight: 2, arbitrary: fc.constant<unknown>(kind) }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom<unknown>(...PUSH_KIND_NAMES), hostileValue) }), fc.option(fc.tuple(fc.constantFrom('version', 'config', 'data', 'storeIntegrationId', 'extra', '__proto__'), hostileValue), { freq: 8 }))
    .map(([c, store, k, extra]) => {
      const e: [string, unknown][] = [['version', c.version], ['storeIntegrationId', store]];
      if (k !== undefined) e.push(['kind', k]);
      if ('config' in c) e.push(['config', c.config]);
      else e.push(['data', c.data]);
      if (extra) e.push(extra);
      return toText(objectOf(extra ? [...e, extra] : e)); // an extra key named like a field replaces it
    })
    .chain((text) => fc.oneof({ weight: 12, arbitrary: fc.constant<BodyText>(text) }, { weight: 1, arbitrary: damageText(text) }));
}

const jwsHeader = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Record<string, unknown>>({ alg: 'EdDSA', typ: 'storegate-push+jws' }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<Record<string, unknown>>(
      { alg: 'EdDSA' }, { alg: 'none' }, { alg: 'HS256' }, { alg: 'RS256' }, { alg: 'ES256' }, { alg: 'eddsa' }, { alg: 'EdDSA', crit: ['exp'] }, { alg: 'EdDSA', b64: false, crit: ['b64'] },
      { alg: 'EdDSA', kid: 'unknown-kid' }, { alg: 'EdDSA', kid: '' }, { alg: 'EdDSA', kid: 42 }, { alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } }, { alg: 'EdDSA', typ: 'JWT' }, { alg: ['EdDSA'] }, {},
    ),
  },
  { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom('alg', 'kid', 'typ', 'crit', 'b64', 'zip', '__proto__', 'x5u', 'jku'), hostileValue), { maxLength: 4 }).map(objectOf) },
);

function jwsPlan(kind: PushKindName): fc.Arbitrary<JwsPlan> {
  return fc.record({
    jws: fc.constant(true as const),
    key: fc.oneof({ weight: 12, arbitrary: fc.constant('trusted' as const) }, { weight: 1, arbitrary: fc.constantFrom('stranger' as const, 'hmac' as const, 'none' as const) }),
    header: jwsHeader,
    payload: fc.oneof({ weight: 10, arbitrary: envelope(kind) }, { weight: 1, arbitrary: oddText }),
    damage: fc.oneof({ weight: 14, arbitrary: fc.constant('none' as const) }, { weight: 2, arbitrary: fc.constantFrom('flipSignature' as const, 'dropSignature' as const, 'truncate' as const, 'swapPayload' as const, 'extraSegment' as const, 'padding' as const, 'whitespace' as const) }),
  });
}

/** Not a JWS at all, or a broken one (no signing needed). */
const garbagePush: fc.Arbitrary<BodyText> = fc.oneof(
  oddText,
  hostileString,
  fc.constantFrom('a.b.c', '..', '...', 'a.b', 'eyJhbGciOiJFZERTQSJ9..', 'eyJhbGciOiJub25lIn0.e30.', `eyJ${'A'.repeat(70_000_000 / 1000)}.x.y`, '=.=.=', ' . . '),
  fc.tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 })).map(([a, b, c]) => `${a}.${b}.${c}`),
);

// The bridge hands the gate only the five kinds its topics name (src/mqtt/topics.ts pushKindOf).
const pushKindTopic = fc.constantFrom<string>(...PUSH_KIND_NAMES);

function officeHttp(): fc.Arbitrary<HttpInput> {
  const dataKind = fc.oneof({ weight: 10, arbitrary: fc.constantFrom('rules', 'prices', 'coupons', 'loyalty') }, { weight: 1, arbitrary: fc.constantFrom('config', 'RULES', '%72ules', 'rules%00', '__proto__', 'constructor', '', 'x'.repeat(500)) });
  const plainData = dataKind.chain((kind) =>
    fc.tuple(fc.constant(kind), (kind === 'rules' || kind === 'prices' || kind === 'coupons' || kind === 'loyalty' ? dataSet(kind) : hostileValue).map(toText).chain((t) => fc.oneof({ weight: 10, arbitrary: fc.constant<BodyText>(t) }, { weight: 1, arbitrary: damageText(t) }))),
  );
  const plain = fc.oneof(
    plainData.map(([kind, body]) => ({ route: 'PUT /admin/data/:kind', url: `/admin/data/${kind}`, body, jws: undefined as JwsPlan | undefined })),
    configPush.map(([version, config]) => ({ route: 'PUT /admin/config', url: '/admin/config', body: toText({ version, config }) as BodyText, jws: undefined as JwsPlan | undefined })),
  );
  const signed = fc.constantFrom<PushKindName>(...PUSH_KIND_NAMES).chain((kind) =>
    jwsPlan(kind).map((plan) => ({ route: kind === 'config' ? 'PUT /admin/config' : 'PUT /admin/data/:kind', url: kind === 'config' ? '/admin/config' : `/admin/data/${kind}`, body: '' as BodyText, jws: plan as JwsPlan | undefined })),
  );
  const garbage = fc.tuple(fc.constantFrom('/admin/config', '/admin/data/rules', '/admin/data/prices'), garbagePush).map(([url, body]) => ({ route: url === '/admin/config' ? 'PUT /admin/config' : 'PUT /admin/data/:kind', url, body, jws: undefined as JwsPlan | undefined }));
  return fc
    .tuple(fc.oneof({ weight: 3, arbitrary: plain }, { weight: 3, arbitrary: signed }, { weight: 1, arbitrary: garbage }), methodFor('PUT'), headersFor('admin', { hasBody: true, putAdmin: true, target: 'office' }), fc.constantFrom('application/jose', 'text/plain', 'application/jose; charset=utf-8', 'APPLICATION/JOSE'))
    .map(([p, method, headers, jwsType]) => {
      const isJws = p.jws !== undefined || (typeof p.body === 'string' && !p.body.trimStart().startsWith('{'));
      const h = isJws ? [...headers.filter(([k]) => k !== 'content-type'), ['content-type', jwsType] as [string, string]] : headers;
      return { type: 'http' as const, target: 'office' as const, transport: 'inject' as const, route: p.route, method, url: p.url, headers: h, fault: 'none' as const, body: p.body, ...(p.jws ? { jws: p.jws } : {}) };
    });
}

/** PUT admin routes on the terminal gateways: no valid admin token (a JWS needs none, and none is trusted there). */
function putAdminWithoutToken(target: Target): fc.Arbitrary<HttpInput> {
  return fc
    .tuple(fc.constantFrom('/admin/config', '/admin/data/rules', '/admin/data/coupons', '/admin/data/nope'), fc.oneof(garbagePush, bodyArb(null).map((b) => b ?? '')), headersFor('admin', { hasBody: true, putAdmin: true, target }), methodFor('PUT'))
    .map(([url, body, headers, method]) => ({ type: 'http' as const, target, transport: 'inject' as const, route: url === '/admin/config' ? 'PUT /admin/config' : 'PUT /admin/data/:kind', method, url, headers, body, fault: 'none' as const }));
}

// ------------------------------------------------------------------------------------------- terminal RPC

const RPC_NAMES = Object.keys(RPC_METHODS) as (keyof typeof RPC_METHODS)[];
const RPC_SCHEMA: Record<string, BodySchemaName | null> = {
  updateCustomerSession: 'updateCustomerSession',
  returnCartItems: 'returnCartItems',
  reopenCustomerSession: null,
  trackEvent: 'trackEvent',
  updateCustomerProfile: 'updateCustomerProfile',
  getCustomerInventory: null,
  getLoyaltyBalances: null,
};

function rpcValue(pool: readonly string[]): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...pool) }, { weight: 1, arbitrary: hostileString }, { weight: 1, arbitrary: hostileValue });
}

function rpcRequest(method: string): fc.Arbitrary<BodyText> {
  const schema = RPC_SCHEMA[method];
  const body = schema ? bodyFromSchema(schema) : fc.oneof(fc.constant(undefined), hostileValue);
  const request = fc
    .record(
      {
        terminalToken: fc.oneof({ weight: 10, arbitrary: fc.constantFrom<unknown>(TERMINAL_TOKENS.T1, TERMINAL_TOKENS.T2) }, { weight: 1, arbitrary: fc.constantFrom<unknown>('', `${TERMINAL_TOKENS.T1} `, ADMIN_TOKEN, 'nope', null, 1, [TERMINAL_TOKENS.T1]) }, { weight: 1, arbitrary: hostileValue }),
        customerSessionId: rpcValue(SESSION_POOL),
        integrationId: rpcValue(PROFILE_POOL),
        loyaltyProgramId: rpcValue(['1', '2', '3']),
        body,
        query: fc.oneof(fc.constant(undefined), fc.constantFrom<unknown>('dry=true', '?dry=true', 'dry=false', '', '?', 'profile=true&loyalty=true', '%ZZ', 'a=1&'.repeat(1000)), fc.dictionary(fc.oneof(fc.constantFrom('dry', 'now', 'silent', 'profile'), hostileString), hostileValue, { maxKeys: 3 }), hostileValue),
        idempotencyKey: fc.oneof({ weight: 6, arbitrary: fc.constant<unknown>(undefined) }, { weight: 2, arbitrary: fc.constantFrom<unknown>('idem-0', 'idem-1', 'idem-r') }, { weight: 1, arbitrary: hostileValue }),
        extra: fc.option(fc.tuple(fc.constantFrom('__proto__', 'constructor', 'headers', 'method', 'url', 'responseTopic'), hostileValue), { freq: 10 }),
      },
      { requiredKeys: ['terminalToken', 'body'] },
    )
    .map(({ extra, ...r }) => toText(objectOf([...Object.entries(r), ...(extra ? [extra] : [])])));
  return fc.oneof({ weight: 12, arbitrary: request }, { weight: 1, arbitrary: request.chain(damageText) }, { weight: 1, arbitrary: oddText });
}

const responseTopic = (prefix: string) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant<string | undefined>('pos/T1/replies') },
    { weight: 1, arbitrary: fc.constant<string | undefined>(undefined) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<string | undefined>(
        `${prefix}/${STORE_ID}/status`, `${prefix}/${STORE_ID}/rules/set`, `${prefix}/*/config/set`, `${prefix}/${STORE_ID}/config/ack`, `${prefix}/${STORE_ID}/alerts`,
        `${prefix}/${STORE_ID}/rpc/updateCustomerSession`, `${prefix}/store-777/status`, `${prefix}/x`, `${prefix.toUpperCase()}/${STORE_ID}/status`, 'pos/+/replies', '#', 'pos/#', '', '/', 'pos/T1/replies\u0000x', 'x'.repeat(70_000),
      ),
    },
  );

function rpcInput(target: Target, via: RpcInput['via'], prefix: string): fc.Arbitrary<RpcInput> {
  // Over the broker the method is one topic level (the gateway subscribes to `P/rpc/+`; `/`, `+`, `#` never reach it).
  const odd = ['', 'UpdateCustomerSession', 'updateCustomerSession/x', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'getLoyaltyBalances ', 'x'.repeat(1000)].filter((m) => via === 'direct' || (m !== '' && !/[/+#]/.test(m)));
  const method = fc.oneof({ weight: 14, arbitrary: fc.constantFrom<string>(...RPC_NAMES) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });
  return method.chain((m) =>
    fc.record({
      payload: rpcRequest(RPC_NAMES.includes(m as never) ? m : 'updateCustomerSession').map((t) => (typeof t === 'string' ? Buffer.from(t, 'utf8') : t)),
      responseTopic: via === 'broker' ? fc.oneof({ weight: 8, arbitrary: fc.constant<string | undefined>('pos/T1/replies') }, { weight: 1, arbitrary: fc.constantFrom<string | undefined>(`${prefix}/${STORE_ID}/status`, undefined) }) : responseTopic(prefix),
      correlationData: fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((a) => Buffer.from(a)) }, { weight: 1, arbitrary: fc.constantFrom<Buffer | undefined>(undefined, Buffer.alloc(0), Buffer.alloc(5000, 7)) }),
    }).map((r) => ({ type: 'rpc' as const, target, via, method: m, payload: r.payload, ...(r.responseTopic !== undefined ? { responseTopic: r.responseTopic } : {}), ...(r.correlationData !== undefined ? { correlationData: r.correlationData } : {}) })),
  );
}

function pushInput(via: PushInput['via']): fc.Arbitrary<PushInput> {
  if (via === 'broker') {
    // Over the broker only pushes that are certainly refused (and so certainly acknowledged): unsigned, or signed by a stranger.
    return fc
      .tuple(fc.constantFrom<PushKindName>(...PUSH_KIND_NAMES), fc.oneof(garbagePush, fc.constantFrom<PushKindName>(...PUSH_KIND_NAMES).chain((k) => jwsPlan(k).map((p): JwsPlan => ({ ...p, key: 'stranger' })))))
      .map(([kind, payload]) => ({ type: 'push' as const, target: 'office' as const, via, kind, payload }));
  }
  return fc
    .tuple(pushKindTopic, fc.oneof({ weight: 1, arbitrary: garbagePush }, { weight: 5, arbitrary: fc.constantFrom<PushKindName>(...PUSH_KIND_NAMES).chain(jwsPlan) }))
    .map(([kind, payload]) => ({ type: 'push' as const, target: 'office' as const, via, kind, payload }));
}

// --------------------------------------------------------------------------------------------- raw HTTP bytes

const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;
const goodHead = (method: string, url: string, extra: string[] = []) => [`${method} ${url} HTTP/1.1`, 'Host: gw', `Authorization: ApiKey-v1 ${T1}`, 'Content-Type: application/json', ...extra];
const SESSION_BODY = '{"customerSession":{"cartItems":[{"sku":"SKU-1","quantity":1,"price":10}]}}';

function rawInput(target: Target): fc.Arbitrary<RawInput> {
  const url = fc.constantFrom('/v2/customer_sessions/RAW-1', '/v2/events', '/v2/customer_profiles/cust-001', '/admin/journal/stats', '/healthz');
  const body = fc.constantFrom(SESSION_BODY, '{"type":"visit"}', '{}', '{"customerSession":', '');
  const cases: fc.Arbitrary<{ route: string; chunks: (string | Buffer)[] }>[] = [
    // Wrong Content-Length: shorter (the rest is read as a second, garbage request), longer (then the client ends).
    fc.tuple(url, body, fc.integer({ min: -5, max: 200 })).map(([u, b, delta]) => ({ route: 'raw: wrong Content-Length', chunks: [crlf(goodHead('PUT', u, [`Content-Length: ${Buffer.byteLength(b) + delta}`])) + b] })),
    fc.tuple(url, fc.constantFrom('abc', '-1', '1, 2', '1e3', '0x10', ' 5', '99999999999999999999', '')).map(([u, cl]) => ({ route: 'raw: bad Content-Length', chunks: [crlf(goodHead('PUT', u, [`Content-Length: ${cl}`])) + SESSION_BODY] })),
    url.map((u) => ({ route: 'raw: two Content-Lengths', chunks: [crlf(goodHead('PUT', u, ['Content-Length: 10', `Content-Length: ${SESSION_BODY.length}`])) + SESSION_BODY] })),
    // Chunked bodies: split at random points, over several writes; broken chunk sizes; no final chunk.
    fc.tuple(url, body, fc.array(fc.nat({ max: 80 }), { maxLength: 6 }), fc.constantFrom('ok', 'badSize', 'noEnd', 'ext', 'trailer', 'alsoCL')).map(([u, b, cuts, how]) => {
      const pieces: string[] = [];
      let rest: string = b;
      for (const c of cuts) {
        if (rest.length === 0) break;
        const n = Math.max(1, Math.min(rest.length, c));
        pieces.push(rest.slice(0, n));
        rest = rest.slice(n);
      }
      if (rest) pieces.push(rest);
      const extra = ['Transfer-Encoding: chunked', ...(how === 'alsoCL' ? ['Content-Length: 5'] : [])];
      const chunks: string[] = [crlf(goodHead('PUT', u, extra))];
      for (const p of pieces) chunks.push(`${how === 'badSize' ? 'zz' : Buffer.byteLength(p).toString(16)}${how === 'ext' ? ';a=b' : ''}\r\n${p}\r\n`);
      if (how !== 'noEnd') chunks.push(how === 'trailer' ? '0\r\nX-T: 1\r\n\r\n' : '0\r\n\r\n');
      return { route: 'raw: chunked', chunks };
    }),
    // Header blocks over Node's 16 KiB limit, many headers, and duplicates of the ones that matter.
    fc.constantFrom(20_000, 70_000).map((n) => ({ route: 'raw: huge header', chunks: [crlf(goodHead('GET', '/healthz', [`X-Big: ${'a'.repeat(n)}`]))] })),
    fc.constantFrom(200, 2000).map((n) => ({ route: 'raw: many headers', chunks: [crlf(goodHead('GET', '/healthz', Array.from({ length: n }, (_, i) => `X-H${i}: v`)))] })),
    fc.constantFrom(
      ['Authorization: ApiKey-v1 nope', `Authorization: ApiKey-v1 ${T1}`],
      [`Authorization: ApiKey-v1 ${T1}`, 'Authorization: ApiKey-v1 nope'],
      ['Content-Type: text/plain', 'Content-Type: application/json'],
      ['Content-Type: application/json', 'Content-Type: application/jose'],
      ['Idempotency-Key: a', 'Idempotency-Key: b'],
      ['Host: a', 'Host: b'],
      ['Transfer-Encoding: chunked', 'Transfer-Encoding: identity'],
    ).map((dup) => ({ route: 'raw: duplicate headers', chunks: [crlf(['PUT /v2/customer_sessions/RAW-2 HTTP/1.1', 'Host: gw', 'Authorization: ApiKey-v1 ' + T1, 'Content-Type: application/json', ...dup, `Content-Length: ${SESSION_BODY.length}`]) + SESSION_BODY] })),
    // Request lines and header syntax Node's parser refuses, or that only look odd.
    fc.constantFrom(
      'G@T /healthz HTTP/1.1', 'get /healthz HTTP/1.1', 'GET /healthz HTTP/2.0', 'GET /healthz HTTP/0.9', 'GET /healthz HTTP/1.1x', 'GET  /healthz HTTP/1.1', 'GET /healthz', 'GET http://evil/healthz HTTP/1.1',
      'GET * HTTP/1.1', 'OPTIONS * HTTP/1.1', 'GET healthz HTTP/1.1', 'GET /heal thz HTTP/1.1', 'GET /v2/customer_sessions/\u00e9 HTTP/1.1', 'CONNECT gw:443 HTTP/1.1', 'PRI * HTTP/2.0', `${'A'.repeat(5000)} / HTTP/1.1`, `GET /${'a'.repeat(20_000)} HTTP/1.1`,
    ).map((line) => ({ route: 'raw: request line', chunks: [crlf([line, 'Host: gw', `Authorization: ApiKey-v1 ${T1}`])] })),
    fc.constantFrom('NoColon', 'Bad Name: x', 'X-A : x', ' X-Fold: continued', 'X-Nul: a\u0000b', 'X-Cr: a\rb', 'X-Utf8: \u00e9\u00ff', ':empty', 'X-Long:' + 'v'.repeat(15_000)).map((h) => ({ route: 'raw: header syntax', chunks: [crlf(['GET /admin/journal/stats HTTP/1.1', 'Host: gw', h, `Authorization: Bearer ${ADMIN_TOKEN}`])] })),
    // Pipelining and Expect: 100-continue.
    fc.tuple(url, fc.integer({ min: 2, max: 5 })).map(([u, n]) => ({ route: 'raw: pipelined', chunks: [Array.from({ length: n }, () => crlf(goodHead('PUT', u, [`Content-Length: ${SESSION_BODY.length}`])) + SESSION_BODY).join('')] })),
    url.map((u) => ({ route: 'raw: expect 100-continue', chunks: [crlf(goodHead('PUT', u, ['Expect: 100-continue', `Content-Length: ${SESSION_BODY.length}`])), SESSION_BODY] })),
    // Plain garbage bytes, and a request cut off in the middle.
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => ({ route: 'raw: garbage bytes', chunks: [Buffer.from(a)] })),
    fc.tuple(url, fc.nat({ max: 200 })).map(([u, n]) => {
      const whole = crlf(goodHead('PUT', u, [`Content-Length: ${SESSION_BODY.length}`])) + SESSION_BODY;
      return { route: 'raw: cut off', chunks: [whole.slice(0, Math.min(n, whole.length - 1))] };
    }),
    // Invalid UTF-8 and NUL in the body of a well-formed request.
    fc.tuple(url, fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x00])).map(([u, bytes]) => {
      const b = Buffer.concat([Buffer.from('{"customerSession":{"profileId":"'), Buffer.from(bytes), Buffer.from('"}}')]);
      return { route: 'raw: invalid UTF-8 body', chunks: [Buffer.concat([Buffer.from(crlf(goodHead('PUT', u, [`Content-Length: ${b.length}`]))), b])] };
    }),
  ];
  return fc.oneof(...cases).map((c) => ({ type: 'raw' as const, target, route: c.route, chunks: c.chunks.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : x)) }));
}

// ------------------------------------------------------------------------------------------------- the mix

export interface Mix {
  /** Relative weights of the input families. */
  terminal: number;
  ops: number;
  unknown: number;
  office: number;
  putAdmin: number;
  socket: number;
  raw: number;
  rpc: number;
  push: number;
  broker: number;
}

/** The CI mix: in-process for the bulk, a few percent over real sockets and a real broker. */
export const DEFAULT_MIX: Mix = { terminal: 56, ops: 8, unknown: 3, office: 9, putAdmin: 2, socket: 4, raw: 3, rpc: 10, push: 4, broker: 1 };

export function inputArb(mix: Mix, topicPrefixOf: (t: Target) => string): fc.Arbitrary<FuzzInput> {
  const terminalTarget = fc.constantFrom<Target>(...TERMINAL_TARGETS);
  const terminal = fc.tuple(fc.constantFrom(...TERMINAL_ROUTES), terminalTarget).chain(([spec, t]) => httpFromSpec(spec, t, 'inject'));
  const ops = fc.tuple(fc.constantFrom(...OPS_ROUTES), fc.constantFrom<Target>(...ALL)).chain(([spec, t]) => httpFromSpec(spec, t, 'inject'));
  const unknown = fc.tuple(unknownUrl, terminalTarget).chain(([u, t]) => httpFromSpec({ route: 'unknown route', method: 'GET', url: fc.constant(u), auth: 'terminal', body: fc.option(bodyArb(null), { nil: undefined }), targets: TERMINAL_TARGETS }, t, 'inject'));
  const socket = fc
    .tuple(fc.constantFrom(...TERMINAL_ROUTES, ...OPS_ROUTES), terminalTarget)
    .chain(([spec, t]) => httpFromSpec(spec, t, 'socket'))
    // Over a real socket a header value must be Latin-1 without CR/LF/NUL (the client side refuses others), and a
    // URL needs no raw spaces; the raw family sends the rest.
    .filter((i) => i.headers.every(([, v]) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v)) && /^[\x21-\x7e\x80-\xff]*$/.test(i.url));
  const rpc = fc.constantFrom<Target>(...TERMINAL_TARGETS).chain((t) => rpcInput(t, 'direct', topicPrefixOf(t)));
  const broker = fc.oneof(rpcInput('offline', 'broker', topicPrefixOf('offline')), pushInput('broker'));
  return fc.oneof(
    { weight: mix.terminal, arbitrary: terminal },
    { weight: mix.ops, arbitrary: ops },
    { weight: mix.unknown, arbitrary: unknown },
    { weight: mix.office, arbitrary: officeHttp() },
    { weight: mix.putAdmin, arbitrary: terminalTarget.chain(putAdminWithoutToken) },
    { weight: mix.socket, arbitrary: socket },
    { weight: mix.raw, arbitrary: terminalTarget.chain(rawInput) },
    { weight: mix.rpc, arbitrary: rpc },
    { weight: mix.push, arbitrary: pushInput('direct') },
    { weight: mix.broker, arbitrary: broker },
  );
}
