/**
 * Admin routes under `/_emulator/` (no API key; loopback clients only; never faulted or recorded):
 *   GET    /_emulator/health            → {ok: true}
 *   GET    /_emulator/requests          → RecordedRequest[] (oldest first)
 *   DELETE /_emulator/requests          → 204 (also clears the in-flight high-water marks)
 *   GET    /_emulator/inflight          → {"s:<session>"|"p:<profile>": highest number of requests in flight at once}
 *   POST   /_emulator/reset             → 204 (state, idempotency keys, recordings, faults)
 *   GET    /_emulator/faults            → current Faults
 *   PUT    /_emulator/faults            → body Faults (replaces the set; {} clears) → 200 {faults}
 *   PUT    /_emulator/recording         → body {enabled: boolean} → 204
 *   GET    /_emulator/sessions/:id      → {customerSession, effects, redeemedCoupons} or 404
 *   GET    /_emulator/coupons/:code     → Coupon or 404
 *   GET    /_emulator/profiles/:id      → CustomerProfile or 404
 * The Management API's admin routes (`/_emulator/management/*`, `/_emulator/notifications`, `/_emulator/notify`,
 * `/_emulator/ratelimit`) are in management-http.ts.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, invalid, notFound, problem } from './errors.js';
import { parseFaults } from './faults.js';
import type { Faults, JsonObject, RecordedRequest } from './types.js';

export interface AdminOps {
  requests(): RecordedRequest[];
  clearRequests(): void;
  inFlightHighWater(): Record<string, number>;
  reset(): void;
  getFaults(): Faults;
  setFaults(f: Faults): Promise<void>;
  setRecording(on: boolean): void;
  getSession(id: string): JsonObject | undefined;
  getCoupon(code: string): JsonObject | undefined;
  getProfile(id: string): JsonObject | undefined;
}

export interface AdminReply { status: number; body?: unknown; after?: () => Promise<void> }

export function isLoopback(req: IncomingMessage): boolean {
  const a = req.socket.remoteAddress ?? '';
  return a === '::1' || a.startsWith('127.') || a.startsWith('::ffff:127.');
}

function found<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw notFound(what);
  return v;
}

export function handleAdmin(ops: AdminOps, req: IncomingMessage, pathname: string, body: unknown): AdminReply {
  if (!isLoopback(req)) throw new ApiError(403, 'The emulator admin routes are for loopback clients only');
  const m = req.method ?? 'GET';
  const rest = pathname.slice('/_emulator/'.length);
  const [head, ...tail] = rest.split('/');
  const arg = tail.length ? decodeURIComponent(tail.join('/')) : undefined;
  switch (`${m} ${head}${arg !== undefined ? '/:x' : ''}`) {
    case 'GET health': return { status: 200, body: { ok: true } };
    case 'GET requests': return { status: 200, body: ops.requests() };
    case 'DELETE requests': ops.clearRequests(); return { status: 204 };
    case 'GET inflight': return { status: 200, body: ops.inFlightHighWater() };
    case 'POST reset': ops.reset(); return { status: 204 };
    case 'GET faults': return { status: 200, body: ops.getFaults() };
    case 'PUT faults': {
      const f = parseFaults(body);
      // Applied after the answer is sent: `refuse` closes every connection, this one included.
      return { status: 200, body: { faults: f }, after: () => ops.setFaults(f) };
    }
    case 'PUT recording': {
      const on = typeof body === 'object' && body !== null ? (body as { enabled?: unknown }).enabled : undefined;
      if (typeof on !== 'boolean') throw invalid([problem('/enabled', 'required', 'enabled must be a boolean')]);
      ops.setRecording(on);
      return { status: 204 };
    }
    case 'GET sessions/:x': return { status: 200, body: found(ops.getSession(arg!), `customer session "${arg}"`) };
    case 'GET coupons/:x': return { status: 200, body: found(ops.getCoupon(arg!), `coupon "${arg}"`) };
    case 'GET profiles/:x': return { status: 200, body: found(ops.getProfile(arg!), `customer profile "${arg}"`) };
    default: throw notFound(`emulator admin route ${m} ${pathname}`);
  }
}
