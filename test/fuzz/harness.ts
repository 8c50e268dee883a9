/**
 * Runs fuzz inputs (inputs.ts) against real gateways and checks the properties of README "Tests" › "Fuzzing":
 * no 5xx but a documented 503, Talon.One's error shape on every 4xx, an answer within 1 s, no secret in any
 * answer, no `unexpected error` logged, no crash, and a refused request changes nothing (the journal's last seq
 * — and for pushes the data and config versions — are the same before and after).
 *
 * The world: four real gateways on loopback ports, each with its own data dir and config file —
 * `offline` (the sample data files), `connected` and `hybrid` (both forwarding to one Talon.One emulator, whose
 * faults an input may switch on for its duration), and `office` (offline, trusts head office's key: it takes the
 * plain pushes under the admin token and the signed ones, which may legitimately change its data and config) —
 * plus, when asked, a real mosquitto on a random port that `offline` and `office` connect to.
 *
 * Transports, and why: most inputs go through `app.inject` (fastify's light-my-request: the very routes, hooks,
 * parsers, validation and error handler, minus the TCP socket), which is what lets ≥ 10⁴ inputs run in about a
 * minute on the 2-core build machine. A few percent go over real sockets: the same kind of requests written by
 * hand onto a TCP connection (so Node's own HTTP parser sees them), and raw bytes no HTTP client would send
 * (invalid request lines, wrong Content-Length, chunking, huge headers, pipelining). MQTT RPC and pushes are
 * mostly handed to the handlers the MQTT bridge calls (RpcServer.handle, PushService.signed); a share goes
 * through the real broker.
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { connect } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { CompactSign } from 'jose';
import { APP_DIR } from '../../src/config/load.js';
import { injectInvoker } from '../../src/http/inject.js';
import { RpcServer, answerPayload, type RpcAnswer } from '../../src/mqtt/rpc.js';
import { Topics } from '../../src/mqtt/topics.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator, Faults } from '../../scripts/talon-emulator/types.js';
import { ADMIN_TOKEN, STORE_ID, TERMINAL_TOKENS, startGateway, type TestGateway } from '../helpers/gateway.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TestClient, type Received } from '../helpers/mqtt-client.js';
import { keyPair } from '../helpers/signing.js';
import { DEFAULT_MIX, NEXT_VERSION, inputArb, type FuzzInput, type Mix, type HttpInput, type JwsPlan, type PushInput, type RawInput, type RpcInput, type Target, type UpstreamFault } from './inputs.js';
import type { BodyText } from './values.js';

export const UPSTREAM_KEY = 'fuzz-upstream-api-key-0123456789abcdef';
export const SECRETS = [UPSTREAM_KEY, ADMIN_TOKEN, ...Object.values(TERMINAL_TOKENS)];
/** Every input must be answered (or its connection closed) within this. */
export const ANSWER_MS = 1000;
/**
 * 503s the README's "Error codes" table documents (answers that cannot be given now, and say so), read from the
 * table itself: a code is allowed to answer 503 exactly when the README says so.
 */
export const DOCUMENTED_503 = new Set(
  [...readFileSync(path.join(APP_DIR, 'README.md'), 'utf8').matchAll(/^\| `(SG_ERR_[A-Z_]+)` \| ([^|]+) \|/gm)].filter((m) => /\b503\b/.test(m[2] ?? '')).map((m) => m[1] as string),
);
const UPSTREAM_TIMEOUT_MS = 200;

const sample = (f: string) => path.join(APP_DIR, 'config', f);
const DATA_FILES = { rules: sample('sample-rules.json'), prices: sample('sample-prices.json'), coupons: sample('sample-coupons.json'), loyalty: sample('sample-loyalty.json') };

export interface World {
  emu: Emulator;
  broker: Mosquitto | null;
  gw: Record<Target, TestGateway>;
  rpc: Partial<Record<Target, { server: RpcServer; answers: { topic: string; correlation: Buffer | undefined; answer: RpcAnswer }[]; logs: string[] }>>;
  prefix: Record<Target, string>;
  head: { privatePem: string; publicPem: string };
  stranger: { privatePem: string; publicPem: string };
  hmacKey: Uint8Array;
  /** Baseline of the office's config, applied again after a push changed it (so later inputs still authenticate). */
  officeBaseline: Record<string, unknown>;
  pos: TestClient | null;
  headOffice: TestClient | null;
  nextVersion: () => number;
  crashes: string[];
  dispose: () => void;
}

export async function startWorld(opts: { broker?: boolean } = {}): Promise<World> {
  const crashes: string[] = [];
  const onCrash = (e: unknown) => crashes.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  const emu = await startEmulator({ apiKey: UPSTREAM_KEY, port: 0, record: false });
  const broker = opts.broker ? await new Mosquitto().start() : null;
  const head = keyPair();
  const stranger = keyPair();
  const prefix: Record<Target, string> = { offline: 'sg-offline', connected: 'sg-connected', hybrid: 'sg-hybrid', office: 'sg-office' };
  const upstream = { baseUrl: emu.url, apiKey: UPSTREAM_KEY, timeoutMs: UPSTREAM_TIMEOUT_MS, retry: { attempts: 2, baseMs: 5, maxMs: 20 } };
  const mqtt = (t: Target) => (broker ? { mqtt: { url: broker.url, topicPrefix: prefix[t], clientId: `fuzz-${t}`, reconnect: { minMs: 20, spreadMs: 100, maxMs: 300 } } } : {});
  // `warn`: the per-request info lines would be most of the run's CPU; errors (what the suite looks for) are kept.
  const common = { log: { level: 'warn' }, dataFiles: DATA_FILES };
  const officeBaseline = {
    adminToken: ADMIN_TOKEN,
    mode: 'offline',
    log: { level: 'warn' },
    trust: { publicKeys: [head.publicPem] },
    upstream: { timeoutMs: 800, retry: { attempts: 3, baseMs: 100, maxMs: 5000 } },
    offline: { couponPolicy: 'store-ledger', maxOfflineLoyaltyDeduction: 500 },
    journal: { diskLowBytes: 268435456 },
  };
  const [offline, connected, hybrid, office] = await Promise.all([
    startGateway({ ...common, mode: 'offline', ...mqtt('offline') }),
    startGateway({ ...common, mode: 'connected', upstream }, { probeIntervalMs: 50 }),
    startGateway({ ...common, mode: 'hybrid', upstream }, { probeIntervalMs: 50 }),
    startGateway({ ...common, mode: 'offline', trust: { publicKeys: [head.publicPem] }, ...mqtt('office') }),
  ]);
  const gw: Record<Target, TestGateway> = { offline: offline!, connected: connected!, hybrid: hybrid!, office: office! };

  // The RPC handler exactly as the MQTT bridge builds it, over the same in-process app; only `respond` differs.
  const rpc: World['rpc'] = {};
  for (const t of ['offline', 'connected', 'hybrid'] as const) {
    const app = gw[t].gateway.app;
    if (!app) throw new Error(`${t}: no app`);
    const answers: { topic: string; correlation: Buffer | undefined; answer: RpcAnswer }[] = [];
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n')) if (line) logs.push(line);
        cb();
      },
    });
    const server = new RpcServer({
      topics: new Topics(prefix[t], STORE_ID),
      invoke: injectInvoker(app),
      identify: (token) => (Object.entries(TERMINAL_TOKENS).find(([, v]) => v === token)?.[0] ?? null),
      respond: (topic, correlation, answer) => answers.push({ topic, correlation, answer }),
      log: createLogger('warn', sink),
    });
    rpc[t] = { server, answers, logs };
  }

  let pos: TestClient | null = null;
  let headOffice: TestClient | null = null;
  if (broker) {
    pos = await TestClient.connect(broker.url, 'fuzz-pos');
    await pos.subscribe('pos/T1/replies');
    await pos.subscribe(`${prefix.offline}/${STORE_ID}/status`);
    await pos.next(`${prefix.offline}/${STORE_ID}/status`, (r) => r.json().online === true);
    headOffice = await TestClient.connect(broker.url, 'fuzz-head-office');
    await headOffice.subscribe(`${prefix.office}/${STORE_ID}/+/ack`);
    await headOffice.subscribe(`${prefix.office}/${STORE_ID}/status`);
    await headOffice.next(`${prefix.office}/${STORE_ID}/status`, (r) => r.json().online === true);
  }

  let version = Date.now();
  return {
    emu,
    broker,
    gw,
    rpc,
    prefix,
    head,
    stranger,
    hmacKey: new TextEncoder().encode('shared-secret-0123456789abcdef0123'),
    officeBaseline,
    pos,
    headOffice,
    nextVersion: () => ++version,
    crashes,
    dispose: () => {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    },
  };
}

export async function stopWorld(w: World): Promise<void> {
  await w.pos?.close();
  await w.headOffice?.close();
  await Promise.all(Object.values(w.gw).map((g) => g.stop()));
  await w.emu.close();
  await w.broker?.stop();
  w.dispose();
}

// ------------------------------------------------------------------------------------------------- outcomes

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Answered to HEAD (no body to check). */
  head?: boolean;
}

export interface Outcome {
  /** HTTP responses (several for a pipelined raw input), or the RPC answer. */
  answers: Answer[];
  ms: number;
  /** The input was refused by the client side before reaching the gateway (e.g. inject's own URL checks). */
  clientRefused?: string;
  /** An answer was expected and none came (RPC with a response topic, HTTP over a socket that stayed open). */
  missing?: boolean;
  /** Nothing should be answered (no or forbidden response topic), and nothing was. */
  silent?: boolean;
  pushAck?: { ok: boolean; code?: string; version: number | null };
  /** State fingerprints of the target gateway before and after. */
  before: string;
  after: string;
  /** Log lines at error level (or `unexpected …`) written while the input ran. */
  errorLogs: string[];
}

function fingerprint(w: World, t: Target): string {
  const g = w.gw[t].gateway;
  const seq = g.journal?.stats().lastSeq ?? -1;
  if (t !== 'office') return `seq=${seq}`;
  const d = g.localData?.status();
  return `seq=${seq} config=${g.config.version} rules=${d?.rulesVersion} prices=${d?.pricesVersion} coupons=${d?.couponsVersion} loyalty=${d?.loyaltyVersion}`;
}

const logCursor = new WeakMap<string[], number>();
function newErrorLines(lines: string[]): string[] {
  const from = logCursor.get(lines) ?? 0;
  const out: string[] = [];
  for (let i = from; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l.includes('"level":"error"') || l.includes('"level":"fatal"') || l.includes('unexpected')) out.push(l.slice(0, 2000));
  }
  // Keep memory flat over 10⁵ inputs: only secrets are searched in older lines, and that is done as they come.
  for (let i = from; i < lines.length; i++) {
    const l = lines[i] as string;
    for (const s of SECRETS) if (l.includes(s)) out.push(`secret in a log line: ${l.slice(0, 500)}`);
  }
  lines.length = 0;
  logCursor.set(lines, 0);
  return out;
}

const FAULT_SET: Record<UpstreamFault, Faults> = {
  none: {},
  status500: { failNext: 4, errorStatus: 500 },
  status502: { failNext: 4, errorStatus: 502 },
  status429: { failNext: 4, errorStatus: 429 },
  status400: { failNext: 1, errorStatus: 400 },
  status404: { failNext: 1, errorStatus: 404 },
  status409: { failNext: 4, errorStatus: 409 },
  slow: { latencyMs: UPSTREAM_TIMEOUT_MS + 50 },
  refuse: { refuse: true },
};

export async function runInput(w: World, input: FuzzInput): Promise<Outcome> {
  const target = input.target;
  const fault = input.type === 'http' ? input.fault : 'none';
  if (fault !== 'none') await w.emu.setFaults(FAULT_SET[fault]);
  const before = fingerprint(w, target);
  let o: Omit<Outcome, 'before' | 'after' | 'errorLogs'>;
  try {
    if (input.type === 'http') o = input.transport === 'inject' && !overNodeHeadLimit(input) ? await viaInject(w, input) : await viaSocket(w, input);
    else if (input.type === 'raw') o = await viaRaw(w, input);
    else if (input.type === 'rpc') o = input.via === 'direct' ? await rpcDirect(w, input) : await rpcBroker(w, input);
    else o = input.via === 'direct' ? await pushDirect(w, input) : await pushBroker(w, input);
  } finally {
    if (fault !== 'none') await w.emu.setFaults({});
  }
  const after = fingerprint(w, target);
  const errorLogs = [...newErrorLines(w.gw[target].logs), ...(w.rpc[target] ? newErrorLines(w.rpc[target].logs) : [])];
  // A config push the office took may have closed its admin routes or dropped its terminals: put them back.
  const accepted = (input.type === 'push' && o.pushAck?.ok) || (input.type === 'http' && target === 'office' && input.url.startsWith('/admin/config') && o.answers.some((a) => a.status === 200));
  if (accepted) await w.gw.office.gateway.config.apply(w.officeBaseline, w.nextVersion());
  return { ...o, before, after, errorLogs };
}

/**
 * Node's HTTP server refuses a request head over 16 KiB (431) before any route sees it; inject has no such
 * limit, so a longer head sent in process would test a request no terminal can make. Those go over the socket.
 */
const NODE_MAX_HEAD_BYTES = 16 * 1024;
function overNodeHeadLimit(input: HttpInput): boolean {
  let n = input.method.length + input.url.length + 12;
  for (const [k, v] of input.headers) n += k.length + v.length + 4;
  return n > NODE_MAX_HEAD_BYTES - 200;
}

async function bodyOf(w: World, body: BodyText | undefined, jws: JwsPlan | undefined): Promise<BodyText | undefined> {
  if (jws) return buildJws(w, jws);
  if (typeof body === 'string' && body.includes(NEXT_VERSION)) return body.replaceAll(`"${NEXT_VERSION}"`, String(w.nextVersion()));
  return body;
}

export async function buildJws(w: World, plan: JwsPlan): Promise<string> {
  let payload = plan.payload;
  if (typeof payload === 'string') payload = payload.replaceAll(`"${NEXT_VERSION}"`, String(w.nextVersion()));
  const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  let jws: string;
  const header = { ...plan.header };
  if (plan.key === 'none') {
    jws = `${Buffer.from(JSON.stringify({ ...header, alg: 'none' })).toString('base64url')}.${bytes.toString('base64url')}.`;
  } else if (plan.key === 'hmac') {
    try {
      jws = await new CompactSign(bytes).setProtectedHeader({ ...header, alg: 'HS256' }).sign(w.hmacKey);
    } catch {
      // jose refuses some headers (e.g. `b64: false` with a payload that holds a '.'): sent unsigned instead.
      jws = `${Buffer.from(JSON.stringify({ ...header, alg: 'HS256' })).toString('base64url')}.${bytes.toString('base64url')}.${Buffer.alloc(32, 1).toString('base64url')}`;
    }
  } else {
    // The header as generated, signed for real (jose refuses to sign some headers: those are sent unsigned).
    const pem = plan.key === 'trusted' ? w.head.privatePem : w.stranger.privatePem;
    try {
      jws = await new CompactSign(bytes).setProtectedHeader({ ...header, alg: typeof header.alg === 'string' && header.alg !== 'EdDSA' ? header.alg : 'EdDSA' } as never).sign(createPrivateKey(pem));
    } catch {
      const h = Buffer.from(JSON.stringify(header)).toString('base64url');
      jws = `${h}.${bytes.toString('base64url')}.${Buffer.alloc(64, 1).toString('base64url')}`;
    }
  }
  const [h = '', p = '', s = ''] = jws.split('.');
  switch (plan.damage) {
    case 'flipSignature':
      return `${h}.${p}.${s.slice(0, 5)}${s[5] === 'A' ? 'B' : 'A'}${s.slice(6)}`;
    case 'dropSignature':
      return `${h}.${p}.`;
    case 'truncate':
      return jws.slice(0, Math.floor(jws.length / 2));
    case 'swapPayload':
      return `${h}.${Buffer.from('{"version":1,"storeIntegrationId":"*","config":{}}').toString('base64url')}.${s}`;
    case 'extraSegment':
      return `${jws}.x`;
    case 'padding':
      return `${h}==.${p}.${s}`;
    case 'whitespace':
      return `\n ${jws} \r\n`;
    default:
      return jws;
  }
}

async function viaInject(w: World, input: HttpInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const app = w.gw[input.target].gateway.app;
  if (!app) throw new Error('no app');
  const payload = await bodyOf(w, input.body, input.jws);
  const headers: Record<string, string> = {};
  for (const [k, v] of input.headers) headers[k] = v;
  const t0 = performance.now();
  let res;
  try {
    res = await app.inject({ method: input.method as 'GET', url: input.url, headers, ...(payload === undefined ? {} : { payload }) });
  } catch (err) {
    // light-my-request validates some inputs itself (e.g. a URL it cannot parse); those never reach the gateway.
    return { answers: [], ms: performance.now() - t0, clientRefused: (err as Error).message };
  }
  const ms = performance.now() - t0;
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) h[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { answers: [{ status: res.statusCode, headers: h, body: res.rawPayload, ...(input.method === 'HEAD' ? { head: true } : {}) }], ms };
}

/**
 * Writes `chunks` on a fresh TCP connection and collects what comes back until the server closes it.
 * The client half-closes only once the server has gone quiet (50 ms after its last byte, or 150 ms without
 * any): Node's HTTP server takes a FIN as the client giving up and drops requests still being answered, so an
 * early FIN would turn every slow answer into "no answer". A request left incomplete on purpose (cut off,
 * a Content-Length longer than the body) is answered, or its connection closed, after that FIN.
 * `ms` is the time to the last byte received (or, with none, to the close that followed the FIN, minus the wait).
 */
const FINAL_STATUS = /HTTP\/1\.[01] [2-5]\d\d /;

function exchange(url: string, chunks: Buffer[], finAfterMs = 150): Promise<{ data: Buffer; ms: number; timedOut: boolean }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const parts: Buffer[] = [];
    const s = connect(Number(u.port), u.hostname);
    s.setNoDelay(true);
    let timedOut = false;
    let lastByteAt = 0;
    let waited = 0;
    let quiet: NodeJS.Timeout | undefined;
    const hangUp = (after: number) => {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        waited += after;
        if (!s.destroyed) s.end();
      }, after);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      s.destroy();
    }, ANSWER_MS * 2);
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
      hangUp(finAfterMs);
    });
    s.on('data', (d) => {
      parts.push(d);
      lastByteAt = performance.now();
      // Only a final answer starts the short wait: after a `100 Continue` alone the request is still being answered.
      hangUp(FINAL_STATUS.test(Buffer.concat(parts).toString('latin1')) ? 50 : finAfterMs);
    });
    s.on('error', () => undefined); // a reset after the answer is still an answer
    s.on('close', () => {
      clearTimeout(timer);
      clearTimeout(quiet);
      const closedAt = performance.now();
      resolve({ data: Buffer.concat(parts), ms: parts.length > 0 ? lastByteAt - t0 : closedAt - t0 - waited, timedOut });
    });
  });
}

/** HTTP/1.1 responses in `data` (1xx interim responses skipped); `headFirst`: the first answers a HEAD. */
export function parseResponses(data: Buffer, headFirst = false): Answer[] | { garbage: string } {
  const out: Answer[] = [];
  let i = 0;
  while (i < data.length) {
    const end = data.indexOf('\r\n\r\n', i);
    if (end < 0) return { garbage: data.subarray(i, i + 200).toString('latin1') };
    const [line = '', ...lines] = data.subarray(i, end).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(line);
    if (!m) return { garbage: line.slice(0, 200) };
    const status = Number(m[1]);
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const c = l.indexOf(':');
      if (c > 0) {
        const k = l.slice(0, c).trim().toLowerCase();
        const v = l.slice(c + 1).trim();
        headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
      }
    }
    let j = end + 4;
    if (status >= 100 && status < 200) {
      i = j;
      continue;
    }
    let body: Buffer = Buffer.alloc(0);
    const head = headFirst && out.length === 0;
    if (head || status === 204 || status === 304) {
      // no body
    } else if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        const le = data.indexOf('\r\n', j);
        if (le < 0) return { garbage: 'truncated chunked body' };
        const size = parseInt(data.subarray(j, le).toString('latin1'), 16);
        j = le + 2;
        if (!Number.isFinite(size)) return { garbage: 'bad chunk size' };
        if (size === 0) {
          const te = data.indexOf('\r\n\r\n', j - 2);
          j = te < 0 ? data.length : te + 4;
          break;
        }
        parts.push(data.subarray(j, j + size));
        j += size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      body = data.subarray(j, j + n);
      j += n;
    } else {
      body = data.subarray(j);
      j = data.length;
    }
    // A HEAD refused by the HTTP parser itself (431, 400) is answered with a body after all.
    if (head && j < data.length && !data.subarray(j, j + 5).equals(Buffer.from('HTTP/')) && headers['content-length'] !== undefined) {
      body = data.subarray(j, j + Number(headers['content-length']));
      j += body.length;
      out.push({ status, headers, body });
      i = j;
      continue;
    }
    out.push({ status, headers, body, ...(head ? { head: true } : {}) });
    i = j;
  }
  return out;
}

async function viaSocket(w: World, input: HttpInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const payload = await bodyOf(w, input.body, input.jws);
  const body = payload === undefined ? undefined : typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const lines = [`${input.method} ${input.url} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...input.headers.map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  // A complete request: it gets its whole answer time before the client half-closes (an upstream that is slow
  // can hold a connected or hybrid answer for a few hundred ms).
  const r = await exchange(w.gw[input.target].url, body ? [head, body] : [head], ANSWER_MS);
  const parsed = parseResponses(r.data, input.method === 'HEAD');
  if ('garbage' in parsed) return { answers: [{ status: -1, headers: {}, body: Buffer.from(parsed.garbage) }], ms: r.ms };
  return { answers: parsed, ms: r.ms, ...(parsed.length === 0 ? { missing: true } : {}) };
}

async function viaRaw(w: World, input: RawInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const r = await exchange(w.gw[input.target].url, input.chunks);
  const parsed = parseResponses(r.data);
  // A raw input may legitimately get no answer (a request cut off before its end): the connection must close in time.
  if ('garbage' in parsed) return { answers: [{ status: -1, headers: {}, body: Buffer.from(parsed.garbage) }], ms: r.timedOut ? ANSWER_MS * 2 : r.ms };
  return { answers: parsed, ms: r.timedOut ? ANSWER_MS * 2 : r.ms };
}

function rpcAnswer(a: RpcAnswer): Answer {
  // What the terminal receives is the MQTT payload: it must be JSON whatever the body was.
  const text = answerPayload(a);
  const parsed = JSON.parse(text) as { status: number; headers: Record<string, string>; body: unknown };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.headers)) headers[k.toLowerCase()] = String(v);
  return { status: parsed.status, headers, body: Buffer.from(JSON.stringify(parsed.body ?? null)) };
}

async function rpcDirect(w: World, input: RpcInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const r = w.rpc[input.target];
  if (!r) throw new Error('no rpc server');
  r.answers.length = 0;
  const topic = `${w.prefix[input.target]}/${STORE_ID}/rpc/${input.method}`;
  const t0 = performance.now();
  await r.server.handle({ topic, payload: input.payload, retain: false, qos: 1, ...(input.responseTopic !== undefined ? { responseTopic: input.responseTopic } : {}), ...(input.correlationData ? { correlationData: input.correlationData } : {}) });
  const ms = performance.now() - t0;
  const forbidden = input.responseTopic === undefined || new Topics(w.prefix[input.target], STORE_ID).isForbiddenResponseTopic(input.responseTopic);
  if (forbidden) return { answers: r.answers.map((a) => rpcAnswer(a.answer)), ms, silent: r.answers.length === 0 };
  const answers = r.answers.map((a) => {
    const ans = rpcAnswer(a.answer);
    if (a.topic !== input.responseTopic || !(a.correlation ?? Buffer.alloc(0)).equals(input.correlationData ?? Buffer.alloc(0))) ans.status = -2; // not correlated
    return ans;
  });
  return { answers, ms, ...(answers.length === 0 ? { missing: true } : {}) };
}

let brokerCorrelation = 0;
async function rpcBroker(w: World, input: RpcInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const pos = w.pos;
  if (!pos) throw new Error('no broker');
  // A unique correlation per input, so the answer is ours (the generated bytes are kept as a prefix).
  const correlation = Buffer.concat([input.correlationData ?? Buffer.alloc(0), Buffer.from(`#${++brokerCorrelation}`)]);
  const reply = input.responseTopic ?? 'pos/T1/replies';
  const answerable = reply === 'pos/T1/replies';
  const t0 = performance.now();
  await pos.publish(`${w.prefix.offline}/${STORE_ID}/rpc/${input.method}`, input.payload, { responseTopic: reply, correlationData: correlation });
  if (!answerable) {
    // A forbidden response topic is answered nowhere: the next request must still be answered at once.
    return { answers: [], ms: performance.now() - t0, silent: true };
  }
  let got: Received;
  try {
    got = await pos.next('pos/T1/replies', (m) => m.correlationData?.equals(correlation) === true, ANSWER_MS * 2);
  } catch {
    return { answers: [], ms: performance.now() - t0, missing: true };
  }
  const ms = performance.now() - t0;
  pos.received.splice(pos.received.indexOf(got), 1);
  const parsed = got.json<{ status: number; headers: Record<string, string>; body: unknown }>();
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.headers ?? {})) headers[k.toLowerCase()] = String(v);
  return { answers: [{ status: parsed.status, headers, body: Buffer.from(JSON.stringify(parsed.body ?? null)) }], ms };
}

async function pushPayload(w: World, p: PushInput['payload']): Promise<BodyText> {
  if (typeof p === 'object' && !Buffer.isBuffer(p)) return buildJws(w, p);
  return p;
}

function ackAnswer(ack: { ok: boolean; code?: string; version: number | null; error?: string }): Answer {
  // A push ack is not an HTTP answer; give it the status the HTTP route would (see admin-routes statusOf).
  const status = ack.ok ? 200 : ack.code === 'SG_ERR_INTERNAL' || ack.code === 'SG_ERR_CONFIG_APPLY' ? 500 : 400;
  return { status, headers: { 'x-storegate-source': 'gateway' }, body: Buffer.from(JSON.stringify(ack.ok ? ack : { message: ack.error ?? '', errors: [{ title: ack.code, source: {} }] })) };
}

async function pushDirect(w: World, input: PushInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const pushes = w.gw.office.gateway.pushes;
  if (!pushes) throw new Error('no push service');
  const payload = await pushPayload(w, input.payload);
  const t0 = performance.now();
  const ack = await pushes.signed(input.kind as 'rules', typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload, 'mqtt');
  return { answers: [ackAnswer(ack)], ms: performance.now() - t0, pushAck: ack };
}

async function pushBroker(w: World, input: PushInput): Promise<Omit<Outcome, 'before' | 'after' | 'errorLogs'>> {
  const office = w.headOffice;
  if (!office) throw new Error('no broker');
  const payload = await pushPayload(w, input.payload);
  const ackTopic = `${w.prefix.office}/${STORE_ID}/${input.kind}/ack`;
  const seen = office.received.length;
  const t0 = performance.now();
  await office.publish(`${w.prefix.office}/${STORE_ID}/${input.kind}/set`, payload);
  let ack: Received;
  if (payload.length === 0) {
    // An empty retained publish is how head office clears a retained push (README "Head office and MQTT"):
    // it is not a push, and is not acknowledged. Any ack that comes anyway is checked like an answer.
    try {
      ack = await office.next(ackTopic, (m) => office.received.indexOf(m) >= seen && !m.retain, 300);
    } catch {
      return { answers: [], ms: performance.now() - t0, silent: true };
    }
    office.received.length = 0;
    return { answers: [ackAnswer(ack.json())], ms: performance.now() - t0, pushAck: ack.json() };
  }
  try {
    ack = await office.next(ackTopic, (m) => office.received.indexOf(m) >= seen && !m.retain, ANSWER_MS * 2);
  } catch {
    return { answers: [], ms: performance.now() - t0, missing: true };
  }
  const ms = performance.now() - t0;
  office.received.length = 0;
  const a = ack.json<{ ok: boolean; code?: string; version: number | null; error?: string }>();
  return { answers: [ackAnswer(a)], ms, pushAck: a };
}

// ----------------------------------------------------------------------------------------------- the checks

/** Talon.One's error body: `{message, errors: [{title, source, details?}]}` (src/http/talon-errors.ts). */
export function isTalonError(body: Buffer): boolean {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  if (typeof v !== 'object' || v === null) return false;
  const e = v as { message?: unknown; errors?: unknown };
  return typeof e.message === 'string' && Array.isArray(e.errors) && e.errors.every((x) => typeof x === 'object' && x !== null && typeof (x as { title?: unknown }).title === 'string' && typeof (x as { source?: unknown }).source === 'object');
}

function codeOf(body: Buffer): string | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { errors?: { title?: string }[] };
    return v.errors?.[0]?.title;
  } catch {
    return undefined;
  }
}

/** The properties; returns the violations (empty = the input passed). */
export function violations(input: FuzzInput, o: Outcome): string[] {
  const v: string[] = [];
  if (o.clientRefused) return v;
  const terminal = input.type === 'rpc' || ((input.type === 'http' || input.type === 'raw') && /^(PUT|POST|GET) \/v[12]\//.test(input.route));
  if (o.ms > ANSWER_MS) v.push(`answered in ${Math.round(o.ms)} ms (> ${ANSWER_MS} ms)`);
  if (o.missing) v.push('no answer');
  for (const a of o.answers) {
    if (a.status === -1) v.push(`not HTTP: ${a.body.toString('latin1').slice(0, 200)}`);
    if (a.status === -2) v.push('answer not correlated to its request');
    if (a.status >= 500 && !(a.status === 503 && DOCUMENTED_503.has(codeOf(a.body) ?? ''))) v.push(`status ${a.status}: ${a.body.toString('utf8').slice(0, 500)}`);
    if (a.status >= 400 && !a.head && !isTalonError(a.body)) v.push(`status ${a.status} without Talon.One's error shape: ${a.body.toString('utf8').slice(0, 300)}`);
    // README "Terminal API": every answer there carries X-Storegate-Source; elsewhere every refusal does.
    if (a.status > 0 && (terminal || a.status >= 400) && a.headers['x-storegate-source'] === undefined) v.push(`status ${a.status} without X-Storegate-Source`);
    const text = `${JSON.stringify(a.headers)}${a.body.toString('latin1')}`;
    for (const s of SECRETS) if (text.includes(s)) v.push(`a secret appears in the answer (${s.slice(0, 6)}…)`);
  }
  // An RPC with no response topic is fire and forget (README "Head office and MQTT"): done, not refused, when valid;
  // with no answer there is nothing to hold its state change against.
  const refused = o.answers.length > 0 ? o.answers.every((a) => a.status >= 400) : !o.silent;
  if (refused && o.before !== o.after) v.push(`refused, yet state changed: ${o.before} → ${o.after}`);
  for (const l of o.errorLogs) v.push(`logged: ${l}`);
  return v;
}

// ------------------------------------------------------------------------------------------------ the stats

export class Stats {
  inputs = 0;
  readonly byRoute = new Map<string, { n: number; maxMs: number; statuses: Map<number, number> }>();
  readonly byStatus = new Map<string, number>();
  readonly byFamily = new Map<string, number>();
  clientRefused = 0;
  maxMs = 0;
  maxMsInput = '';
  readonly latencies: number[] = [];
  startedAt = performance.now();

  record(input: FuzzInput, o: Outcome): void {
    this.inputs++;
    const family = input.type === 'http' ? `http ${input.transport === 'inject' && !overNodeHeadLimit(input) ? 'inject' : 'socket'}` : input.type === 'raw' ? 'raw socket' : `${input.type} ${input.via}`;
    this.byFamily.set(family, (this.byFamily.get(family) ?? 0) + 1);
    if (o.clientRefused) {
      this.clientRefused++;
      return;
    }
    const route = routeLabel(input);
    let r = this.byRoute.get(route);
    if (!r) this.byRoute.set(route, (r = { n: 0, maxMs: 0, statuses: new Map() }));
    r.n++;
    r.maxMs = Math.max(r.maxMs, o.ms);
    const statuses = o.answers.length > 0 ? o.answers.map((a) => a.status) : [o.silent ? 0 : -3];
    for (const s of statuses) {
      r.statuses.set(s, (r.statuses.get(s) ?? 0) + 1);
      const k = s === 0 ? 'no answer (by design)' : s === -3 ? 'connection closed, no answer' : String(s);
      this.byStatus.set(k, (this.byStatus.get(k) ?? 0) + 1);
    }
    this.latencies.push(o.ms);
    if (o.ms > this.maxMs) {
      this.maxMs = o.ms;
      this.maxMsInput = `${family} ${route}`;
    }
  }

  table(): string {
    const secs = (performance.now() - this.startedAt) / 1000;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const p = (q: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) : 0);
    const lines = [
      `inputs: ${this.inputs} in ${secs.toFixed(1)} s (${Math.round(this.inputs / secs)}/s); refused by the client library before sending: ${this.clientRefused}`,
      `latency: p50 ${p(0.5).toFixed(2)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${this.maxMs.toFixed(1)} ms (${this.maxMsInput})`,
      '',
      '| family | inputs |',
      '| --- | ---: |',
      ...[...this.byFamily].sort((a, b) => b[1] - a[1]).map(([k, n]) => `| ${k} | ${n} |`),
      '',
      '| status | answers |',
      '| --- | ---: |',
      ...[...this.byStatus].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]) => `| ${k} | ${n} |`),
      '',
      '| target and route | inputs | max ms | statuses |',
      '| --- | ---: | ---: | --- |',
      ...[...this.byRoute]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([k, r]) => `| ${k} | ${r.n} | ${r.maxMs.toFixed(1)} | ${[...r.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s <= 0 ? (s === 0 ? 'silent' : 'closed') : s}×${n}`).join(' ')} |`),
    ];
    return lines.join('\n');
  }
}

function routeLabel(input: FuzzInput): string {
  if (input.type === 'http' || input.type === 'raw') return `${input.target} ${input.route}`;
  if (input.type === 'rpc') return `${input.target} rpc ${input.method.length > 40 ? `${input.method.slice(0, 20)}…` : input.method || '(empty)'}`;
  return `office push ${input.kind}`;
}

/** A short, bounded description of an input for failure messages (huge strings shown by length). */
export function describe(input: FuzzInput): string {
  const cut = (s: string) => (s.length > 300 ? `${JSON.stringify(s.slice(0, 300))}… (${s.length} chars)` : JSON.stringify(s));
  const text = (b: BodyText | undefined) => (b === undefined ? 'none' : typeof b === 'string' ? cut(b) : `bytes ${cut(b.toString('latin1'))}`);
  switch (input.type) {
    case 'http':
      return `${input.target} ${input.transport} ${input.method} ${cut(input.url)} headers=${cut(JSON.stringify(input.headers))} body=${input.jws ? `JWS ${cut(JSON.stringify({ ...input.jws, payload: text(input.jws.payload) }))}` : text(input.body)} fault=${input.fault}`;
    case 'raw':
      return `${input.target} raw ${input.route}: ${cut(Buffer.concat(input.chunks).toString('latin1'))}`;
    case 'rpc':
      return `${input.target} rpc ${input.via} ${cut(input.method)} responseTopic=${cut(String(input.responseTopic))} correlation=${input.correlationData?.toString('hex').slice(0, 40)} payload=${text(input.payload)}`;
    case 'push':
      return `office push ${input.via} ${input.kind}: ${typeof input.payload === 'object' && !Buffer.isBuffer(input.payload) ? `JWS ${cut(JSON.stringify({ ...input.payload, payload: text(input.payload.payload) }))}` : text(input.payload as BodyText)}`;
  }
}

// --------------------------------------------------------------------------------------------- after the run

const CART = [
  { sku: 'SKU-1', name: 'Pan', quantity: 2, price: 20, category: 'Kitchen' },
  { sku: 'SKU-2', name: 'Shirt', quantity: 1, price: 25.5, category: 'Apparel' },
];
const EMU_CART = Array.from({ length: 6 }, (_, i) => ({ sku: `SKU-${i}`, name: `Item ${i}`, quantity: 1, price: 10, category: i % 2 ? 'shoes' : 'food' }));

/** After the run: a normal session update on each terminal gateway, over real HTTP, is answered with effects. */
export async function normalSessionUpdate(w: World, t: 'offline' | 'connected' | 'hybrid'): Promise<{ status: number; effects: number; source: string | null }> {
  const res = await fetch(`${w.gw[t].url}/v2/customer_sessions/after-fuzz-${t}-${Date.now()}`, {
    method: 'PUT',
    headers: { authorization: `ApiKey-v1 ${TERMINAL_TOKENS.T1}`, 'content-type': 'application/json' },
    body: JSON.stringify({ customerSession: { profileId: 'cust-001', cartItems: t === 'connected' ? EMU_CART : CART }, responseContent: ['customerSession'] }),
  });
  const json = (await res.json()) as { effects?: unknown[] };
  return { status: res.status, effects: json.effects?.length ?? 0, source: res.headers.get('x-storegate-source') };
}

// ------------------------------------------------------------------------------------------------ the runner

export interface FuzzOptions {
  numRuns: number;
  seed?: number;
  mix?: Mix;
  /** Inputs run before the generated ones (regressions of bugs the fuzzer found). */
  examples?: FuzzInput[];
  stats: Stats;
  /** Called every `every` inputs (progress for long runs). */
  progress?: { every: number; report: (s: Stats) => void };
  /** Record violations here and go on instead of stopping (and shrinking) at the first one. */
  keepGoing?: { input: string; problems: string[] }[];
}

/** The property over generated inputs; throws fast-check's report (seed, path, shrunk input) on the first violation. */
export async function fuzz(w: World, opts: FuzzOptions): Promise<void> {
  const labelled = (i: FuzzInput): FuzzInput => Object.defineProperty(i, fc.toStringMethod, { value: () => describe(i), enumerable: false });
  const arb = inputArb(opts.mix ?? DEFAULT_MIX, (t) => w.prefix[t]).map(labelled);
  const property = fc.asyncProperty(arb, async (input) => {
    const o = await runInput(w, input);
    opts.stats.record(input, o);
    if (opts.progress && opts.stats.inputs % opts.progress.every === 0) opts.progress.report(opts.stats);
    const v = violations(input, o);
    if (w.crashes.length > 0) v.push(...w.crashes.splice(0).map((c) => `process-level error: ${c.slice(0, 1000)}`));
    if (v.length === 0) return;
    if (opts.keepGoing) opts.keepGoing.push({ input: describe(input), problems: v });
    else throw new Error(v.join('\n'));
  });
  await fc.assert(property, {
    numRuns: opts.numRuns,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.examples ? { examples: opts.examples.map((e) => [labelled(e)] as [FuzzInput]) } : {}),
    // Shrinking replays inputs against gateways whose state has moved on; a bounded budget keeps a failure readable.
    endOnFailure: false,
  });
}
