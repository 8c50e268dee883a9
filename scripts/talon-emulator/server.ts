/**
 * The emulator's HTTP server (plain node:http, keep-alive) and its programmatic API.
 *
 * Request path for API routes: stall fault → hang fault → API key → per-session/profile queue (409 past three in
 * flight) → latency fault → injected errors → Idempotency-Key replay → handler → store idempotent
 * answer → record. `/_emulator/*` goes to admin.ts and skips all of that.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { handleAdmin, isLoopback, type AdminOps } from './admin.js';
import { loadConfigFile, parseConfig, type EmulatorConfig } from './campaigns.js';
import { ApiError, invalid, notFound, problem, tooManyProfile, tooManySession, unauthorized } from './errors.js';
import { corruptAnswer, FaultController } from './faults.js';
import { createManagement } from './management-http.js';
import { matchManagement } from './management-routes.js';
import { balances, inventory, trackEvent, updateProfile } from './profiles.js';
import { KeyedQueue } from './queue.js';
import { getSession, reopenSession, returnItems, sessionJson, updateSession, type Reply } from './sessions.js';
import { couponJson, profileJson, State } from './state.js';
import type { Emulator, Faults, JsonObject, RecordedRequest, StartOptions } from './types.js';

export type { Emulator, Faults, RecordedRequest, StartOptions } from './types.js';

/** Compiled in by the bundler (bundle.ts), whose output lives away from campaigns.json; undeclared under tsx. */
declare const __TALON_EMULATOR_CAMPAIGNS_FILE__: string | undefined;
export const DEFAULT_CAMPAIGNS_FILE = typeof __TALON_EMULATOR_CAMPAIGNS_FILE__ === 'string'
  ? __TALON_EMULATOR_CAMPAIGNS_FILE__
  : fileURLToPath(new URL('./campaigns.json', import.meta.url));
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const EMPTY_QUERY = new URLSearchParams();

interface Route {
  method: string;
  re: RegExp;
  /** Queue key (one request runs per session/profile); undefined = not serialised. */
  key?: (m: string[], body: unknown) => string | undefined;
  mutating: boolean;
  /** 400s without `StatusCode` (`ErrorResponse`), as upstream's updateCustomerSessionV2. */
  plain400?: boolean;
  run: (st: State, m: string[], q: URLSearchParams, body: unknown) => Reply;
}

const sessionKey = (m: string[]): string => `s:${m[0]}`;

/** The per-session/profile key of an API request for the in-flight instrumentation (GETs of a session count too). */
function inFlightKey(method: string, pathname: string, body: unknown): string | undefined {
  const s = /^\/v2\/customer_sessions\/([^/]+)/.exec(pathname);
  if (s) return `s:${safeDecode(s[1]!)}`;
  const p = /^\/v2\/customer_profiles\/([^/]+)$/.exec(pathname);
  if (p) return `p:${safeDecode(p[1]!)}`;
  if (method === 'POST' && pathname === '/v2/events' && typeof body === 'object' && body !== null) {
    const pid = (body as { profileId?: unknown }).profileId;
    if (typeof pid === 'string') return `p:${pid}`;
  }
  return undefined;
}

function safeDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}
const ROUTES: Route[] = [
  { method: 'PUT', re: /^\/v2\/customer_sessions\/([^/]+)$/, key: sessionKey, mutating: true, plain400: true, run: (st, m, q, b) => updateSession(st, m[0]!, q, b) },
  { method: 'GET', re: /^\/v2\/customer_sessions\/([^/]+)$/, mutating: false, run: (st, m) => getSession(st, m[0]!) },
  { method: 'POST', re: /^\/v2\/customer_sessions\/([^/]+)\/returns$/, key: sessionKey, mutating: true, run: (st, m, q, b) => returnItems(st, m[0]!, q, b) },
  { method: 'PUT', re: /^\/v2\/customer_sessions\/([^/]+)\/reopen$/, key: sessionKey, mutating: true, run: (st, m) => reopenSession(st, m[0]!) },
  {
    method: 'POST', re: /^\/v2\/events$/, mutating: true, run: (st, _m, q, b) => trackEvent(st, q, b),
    key: (_m, b) => {
      const pid = typeof b === 'object' && b !== null ? (b as { profileId?: unknown }).profileId : undefined;
      return typeof pid === 'string' ? `p:${pid}` : undefined;
    },
  },
  { method: 'PUT', re: /^\/v2\/customer_profiles\/([^/]+)$/, key: (m) => `p:${m[0]}`, mutating: true, run: (st, m, q, b) => updateProfile(st, m[0]!, q, b) },
  { method: 'GET', re: /^\/v1\/customer_profiles\/([^/]+)\/inventory$/, mutating: false, run: (st, m, q) => inventory(st, m[0]!, q) },
  { method: 'GET', re: /^\/v1\/loyalty_programs\/([^/]+)\/profile\/([^/]+)\/balances$/, mutating: false, run: (st, m, q) => balances(st, m[0]!, m[1]!, q) },
];

interface Recorded { method: string; path: string; headers: Record<string, string>; raw: string; status: number; at: number; stalledMs: number }

function toRecorded(r: Recorded): RecordedRequest {
  let body: unknown;
  if (r.raw.length > 0) {
    try { body = JSON.parse(r.raw); } catch { body = r.raw; }
  }
  return { method: r.method, path: r.path, headers: r.headers, body, status: r.status, at: r.at, ...(r.stalledMs > 0 ? { stalledMs: r.stalledMs } : {}) };
}

interface Answer { status: number; payload: string | undefined; replay?: boolean }

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) { reject(new ApiError(413, 'Request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, a: Answer): void {
  if (res.destroyed) return;
  if (a.payload === undefined) {
    res.writeHead(a.status);
    res.end();
    return;
  }
  const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(a.payload) };
  if (a.replay) headers['x-emulator-idempotent-replay'] = 'true';
  res.writeHead(a.status, headers);
  res.end(a.payload);
}

const errorAnswer = (e: unknown): Answer => {
  if (e instanceof ApiError) return { status: e.status, payload: JSON.stringify(e.body()) };
  return { status: 500, payload: JSON.stringify({ message: `emulator bug: ${String(e)}`, errors: [], StatusCode: 500 }) };
};

export async function startEmulator(opts: StartOptions): Promise<Emulator> {
  const now = opts.now ?? Date.now;
  const host = opts.host ?? '127.0.0.1';
  const loadCfg = (): EmulatorConfig => (opts.campaigns !== undefined ? parseConfig(opts.campaigns) : loadConfigFile(opts.campaignsFile ?? DEFAULT_CAMPAIGNS_FILE));
  let st = new State(loadCfg(), now);
  const faults = new FaultController();
  const queue = new KeyedQueue(3);
  // The Management API (head office's pulls): its own key, data and per-endpoint rate limit (management-http.ts).
  const management = createManagement({ key: opts.managementKey, perSecond: opts.managementRatePerSec ?? 3, now, ...(opts.management ? { seed: opts.management } : {}) });
  const maxRecorded = Math.max(1, opts.maxRecorded ?? 100_000);
  let recording = opts.record ?? true;
  // Bodies are kept as the raw text (flat strings are cheap for the GC) and parsed when read.
  let recorded: Recorded[] = [];
  const hung = new Set<ServerResponse>();
  const sleeps = new Set<NodeJS.Timeout>();
  const authHeader = `ApiKey-v1 ${opts.apiKey}`;
  let closed = false;
  let listening = false;
  let port = opts.port ?? 0;
  let refuseTimer: NodeJS.Timeout | undefined;

  // Instrumentation (while recording): requests in flight per session/profile, from arrival to the response
  // being sent or the connection closing (hung requests included), and each key's high-water mark.
  const inFlight = new Map<string, number>();
  let highWater = new Map<string, number>();
  const trackInFlight = (method: string, pathname: string, body: unknown, res: ServerResponse): void => {
    const k = inFlightKey(method, pathname, body);
    if (k === undefined) return;
    const n = (inFlight.get(k) ?? 0) + 1;
    inFlight.set(k, n);
    if (n > (highWater.get(k) ?? 0)) highWater.set(k, n);
    res.once('close', () => {
      const m = (inFlight.get(k) ?? 1) - 1;
      if (m <= 0) inFlight.delete(k);
      else inFlight.set(k, m);
    });
  };

  const record = (req: IncomingMessage, raw: string, status: number, stalledMs = 0): void => {
    if (!recording) return;
    const headers: Record<string, string> = {};
    for (const k in req.headers) {
      const v = req.headers[k];
      headers[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
    }
    recorded.push({ method: req.method ?? '', path: req.url ?? '', headers, raw, status, at: now(), stalledMs });
    if (recorded.length >= maxRecorded + Math.ceil(maxRecorded / 10)) recorded.splice(0, recorded.length - maxRecorded);
  };

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(() => { sleeps.delete(t); resolve(); }, ms);
      sleeps.add(t);
    });

  /** The answer to an API request; a promise only while the latency fault delays it. */
  function processRequest(route: Route | undefined, m: string[], req: IncomingMessage, pathname: string, q: URLSearchParams, body: unknown, badJson: boolean): Answer | Promise<Answer> {
    const delay = faults.active ? faults.delayMs(pathname) : 0;
    if (delay > 0) return sleep(delay).then(() => answer(route, m, req, pathname, q, body, badJson));
    return answer(route, m, req, pathname, q, body, badJson);
  }

  function answer(route: Route | undefined, m: string[], req: IncomingMessage, pathname: string, q: URLSearchParams, body: unknown, badJson: boolean): Answer {
    const inj = faults.active ? faults.injected(pathname) : undefined;
    if (inj) return { status: inj.status, payload: JSON.stringify(inj.body) };
    if (!route) return errorAnswer(notFound(`route ${req.method} ${pathname}`));
    const idem = route.mutating ? req.headers['idempotency-key'] : undefined;
    const key = typeof idem === 'string' && idem !== '' ? idem : undefined;
    if (key) {
      const stored = st.replay(key);
      if (stored) return { status: stored.status, payload: stored.body, replay: true };
    }
    let a: Answer;
    if (badJson) {
      a = errorAnswer(invalid([problem('/', 'Invalid JSON', 'the request body is not valid JSON')], !route.plain400));
    } else {
      try {
        const r = route.run(st, m, q, body);
        a = { status: r.status, payload: r.body === undefined ? undefined : JSON.stringify(r.body) };
      } catch (e) {
        a = errorAnswer(e);
      }
    }
    if (key && a.status < 500 && a.status !== 409 && a.status !== 429) st.remember(key, a.status, a.payload);
    const spoil = faults.active && a.status < 300 ? faults.corruption(pathname) : undefined;
    if (spoil) return { ...a, payload: corruptAnswer(spoil, a.payload) };
    return a;
  }

  async function api(req: IncomingMessage, res: ServerResponse, pathname: string, q: URLSearchParams): Promise<void> {
    let raw: string;
    try {
      raw = await readBody(req);
    } catch (e) {
      send(res, errorAnswer(e));
      return;
    }
    let body: unknown;
    let badJson = false;
    if (raw.length > 0) {
      try { body = JSON.parse(raw); } catch { body = raw; badJson = true; }
    }
    if (recording) trackInFlight(req.method ?? '', pathname, body, res);
    // A stalled request goes on even when its client has gone meanwhile (send() skips a destroyed response).
    const stalled = faults.active ? faults.stallMs(pathname) : 0;
    if (stalled > 0) await sleep(stalled);
    const finish = (a: Answer): void => { send(res, a); record(req, raw, a.status, stalled); };
    if (faults.active && faults.hang(pathname)) {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      record(req, raw, 0, stalled);
      return;
    }
    if (matchManagement(req.method ?? '', pathname)) {
      const delay = faults.active ? faults.delayMs(pathname) : 0;
      if (delay > 0) await sleep(delay);
      const inj = faults.active ? faults.injected(pathname) : undefined;
      if (inj) return finish({ status: inj.status, payload: JSON.stringify(inj.body) });
      management.handle(req, res, pathname, q, (status) => record(req, raw, status, stalled));
      return;
    }
    if (req.headers.authorization !== authHeader) return finish(errorAnswer(unauthorized()));
    let route: Route | undefined;
    let m: string[] = [];
    for (const r of ROUTES) {
      if (r.method !== req.method) continue;
      const hit = r.re.exec(pathname);
      if (!hit) continue;
      try {
        m = hit.slice(1).map((s) => decodeURIComponent(s));
      } catch {
        return finish(errorAnswer(invalid([problem(pathname, 'Invalid path', 'malformed percent-encoding in the path')])));
      }
      route = r;
      break;
    }
    const key = route?.key && !badJson ? route.key(m, body) : undefined;
    if (key === undefined) {
      const a = processRequest(route, m, req, pathname, q, body, badJson);
      return finish(a instanceof Promise ? await a : a);
    }
    const p = queue.run(key, () => processRequest(route, m, req, pathname, q, body, badJson));
    if (!p) return finish(errorAnswer(key.startsWith('s:') ? tooManySession() : tooManyProfile()));
    finish(await p);
  }

  const ops: AdminOps = {
    requests: () => recorded.map(toRecorded),
    clearRequests: () => { recorded = []; highWater = new Map(); },
    reset: () => { st = new State(loadCfg(), now); recorded = []; highWater = new Map(); queue.clear(); management.reset(); void setFaults({}); },
    inFlightHighWater: () => Object.fromEntries(highWater),
    getFaults: () => faults.get(),
    setFaults: (f) => setFaults(f),
    setRecording: (on) => { recording = on; },
    getSession: (id) => {
      const s = st.sessions.get(id);
      return s ? { customerSession: sessionJson(st, s, true), effects: s.effects as unknown as JsonObject[], redeemedCoupons: s.redeemed.map((r) => r.def.value) } : undefined;
    },
    getCoupon: (code) => { const c = st.coupon(code); return c ? couponJson(c) : undefined; },
    getProfile: (id) => { const p = st.profile(id, false); return p ? profileJson(p, st.cfg.accountId) : undefined; },
  };

  async function admin(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    let body: unknown;
    try {
      const raw = await readBody(req);
      if (raw.length) {
        try { body = JSON.parse(raw); } catch { throw invalid([problem('/', 'Invalid JSON', 'the request body is not valid JSON')]); }
      }
      const [head = '', ...tail] = pathname.slice('/_emulator/'.length).split('/');
      const mg = isLoopback(req) ? management.admin(req.method ?? 'GET', head, tail.map((t) => decodeURIComponent(t)), body) : undefined;
      if (mg) {
        const r = await mg;
        send(res, { status: r.status, payload: r.body === undefined ? undefined : JSON.stringify(r.body) });
        return;
      }
      const r = handleAdmin(ops, req, pathname, body);
      send(res, { status: r.status, payload: r.body === undefined ? undefined : JSON.stringify(r.body) });
      if (r.after) res.on('finish', () => void r.after!());
    } catch (e) {
      send(res, errorAnswer(e));
    }
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const pathname = qi < 0 ? url : url.slice(0, qi);
    const q = qi < 0 ? EMPTY_QUERY : new URLSearchParams(url.slice(qi + 1));
    const work = pathname.startsWith('/_emulator/') ? admin(req, res, pathname) : api(req, res, pathname, q);
    work.catch((e: unknown) => { if (!res.headersSent) send(res, errorAnswer(e)); });
  };

  const server = createServer(handler);
  server.keepAliveTimeout = 10_000;
  server.headersTimeout = 15_000;

  const listen = (srv: Server, p: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const onErr = (e: Error): void => reject(e);
      srv.once('error', onErr);
      srv.listen(p, host, () => {
        srv.off('error', onErr);
        resolve((srv.address() as AddressInfo).port);
      });
    });
  const stop = (srv: Server): Promise<void> =>
    new Promise((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });

  async function syncListening(): Promise<void> {
    const want = !closed && faults.get().refuse !== true;
    if (want && !listening) {
      await listen(server, port);
      listening = true;
    } else if (!want && listening) {
      listening = false;
      for (const r of hung) r.destroy();
      await stop(server);
      // Give in-process clients a turn of the event loop to see their pooled sockets close, so their
      // next request opens a new connection and gets ECONNREFUSED rather than a socket error.
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async function setFaults(f: Faults): Promise<void> {
    faults.set(f);
    if (refuseTimer) { clearTimeout(refuseTimer); refuseTimer = undefined; }
    if (f.refuse && f.refuseForMs && f.refuseForMs > 0) {
      refuseTimer = setTimeout(() => {
        refuseTimer = undefined;
        const { refuse: _r, refuseForMs: _m, ...restF } = faults.get();
        void setFaults(restF);
      }, f.refuseForMs);
    }
    await syncListening();
  }

  port = await listen(server, port);
  listening = true;
  let adminServer: Server | undefined;
  let adminPort: number | undefined;
  if (opts.adminPort !== undefined) {
    adminServer = createServer((req, res) => {
      const url = req.url ?? '/';
      const qi = url.indexOf('?');
      const pathname = qi < 0 ? url : url.slice(0, qi);
      if (!pathname.startsWith('/_emulator/')) { send(res, errorAnswer(notFound('route (the admin port serves /_emulator/* only)'))); return; }
      admin(req, res, pathname).catch(() => undefined);
    });
    adminPort = await listen(adminServer, opts.adminPort);
  }

  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    adminUrl: adminPort === undefined ? undefined : `http://${host.includes(':') ? `[${host}]` : host}:${adminPort}`,
    get requests() { return recorded.map(toRecorded); },
    clearRequests: ops.clearRequests,
    inFlightHighWater: ops.inFlightHighWater,
    setRecording: ops.setRecording,
    setFaults,
    getFaults: ops.getFaults,
    reset: ops.reset,
    getSession: ops.getSession,
    getCoupon: ops.getCoupon,
    getProfile: ops.getProfile,
    management: management.api,
    getBalance: (programId, profileId) => {
      const b = st.balance(programId, profileId, false);
      return b ? { ...b } : undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (refuseTimer) clearTimeout(refuseTimer);
      for (const t of sleeps) clearTimeout(t);
      sleeps.clear();
      for (const r of hung) r.destroy();
      hung.clear();
      if (listening) { listening = false; await stop(server); }
      if (adminServer) await stop(adminServer);
    },
  };
}
