import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DataKind } from '../engine/index.js';
import type { Journal } from '../journal/index.js';
import type { DeadLetters } from '../delivery/dead-letters.js';
import type { PushAck, PushService } from '../pushes/service.js';
import { StoregateError } from '../core/errors.js';
import { requireAdmin, type AdminTokenSource } from './ops-routes.js';

export interface AdminRouteDeps {
  adminToken: AdminTokenSource;
  pushes: PushService;
  journal: Journal;
  deadLetters: DeadLetters;
  /**
   * Flushes the journal now (the operator's `storegate journal flush`); resolves with what happened once everything
   * is delivered or dead, or after `waitMs` (the flush goes on in the background, `timedOut: true`).
   */
  flush: (waitMs: number) => Promise<Record<string, unknown>>;
  reconciliation: () => Promise<unknown[]>;
  /** Largest data push accepted (100,000 strikethrough prices are tens of MB). */
  dataBodyLimitBytes?: number;
}

/**
 * How long `POST /admin/journal/flush` and `…/dead/retry` wait for deliveries (README "Operations API"): `?wait=SEC`,
 * 0 to 120. By default half a second, so an admin call answers within a second even with Talon.One slow; the CLI asks
 * for longer.
 */
export const FLUSH_WAIT_DEFAULT_MS = 500;
export const FLUSH_WAIT_MAX_SEC = 120;

function flushWaitMs(wait: unknown): number {
  if (wait === undefined) return FLUSH_WAIT_DEFAULT_MS;
  const sec = typeof wait === 'string' && wait.trim() !== '' ? Number(wait) : NaN;
  if (!(sec >= 0 && sec <= FLUSH_WAIT_MAX_SEC)) {
    throw new StoregateError('SG_ERR_BAD_REQUEST', `wait must be a number of seconds from 0 to ${FLUSH_WAIT_MAX_SEC}`, { statusCode: 400, details: [{ path: '/wait', message: `0 to ${FLUSH_WAIT_MAX_SEC}` }] });
  }
  return Math.round(sec * 1000);
}

const KINDS = new Set<DataKind>(['rules', 'prices', 'coupons', 'loyalty', 'catalog', 'collections']);

/** JWS compact media type (RFC 7515 §9.2.1); `text/plain` is accepted too, for curl. */
const JWS_TYPES = ['application/jose', 'text/plain'];

function isJwsRequest(req: FastifyRequest): boolean {
  const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return JWS_TYPES.includes(ct);
}

/**
 * Admin routes (README "Operations API"), behind `Authorization: Bearer <adminToken>` — except a signed push (a JWS body,
 * `Content-Type: application/jose`) on `PUT /admin/data/:kind` and `PUT /admin/config`: its signature is its
 * authority, exactly as on MQTT, so head office needs no shop's admin token.
 */
export async function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  const admin = requireAdmin(deps.adminToken);
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'PUT' && (req.url.startsWith('/admin/data/') || req.url.split('?')[0] === '/admin/config') && isJwsRequest(req)) return undefined;
    return admin(req, reply);
  });
  app.addContentTypeParser(JWS_TYPES, { parseAs: 'string' }, (_req, body, done) => done(null, body));
  const limit = deps.dataBodyLimitBytes ?? 256 * 1048576;

  // A refusal leaves in Talon.One's error shape, with the push's own code as the title.
  const answer = (kind: string, ack: PushAck) => {
    if (!ack.ok) {
      throw new StoregateError((ack.code ?? 'SG_ERR_INTERNAL') as StoregateError['code'], ack.error ?? 'push refused', {
        statusCode: statusOf(ack),
        details: ack.details ?? [{ path: '/', message: ack.error ?? 'push refused' }],
      });
    }
    return { kind, ...ack };
  };

  // Local data (README "Local data"): a signed JWS as on MQTT, or (admin token) the plain JSON payload.
  app.put<{ Params: { kind: string } }>('/admin/data/:kind', { bodyLimit: limit }, async (req) => {
    const kind = req.params.kind as DataKind;
    if (!KINDS.has(kind)) {
      throw new StoregateError('SG_ERR_NOT_FOUND', `unknown data kind "${req.params.kind}"; use rules, prices, coupons, loyalty, catalog or collections`, { statusCode: 404 });
    }
    if (req.body === undefined) throw new StoregateError('SG_ERR_BAD_REQUEST', 'a JSON body (or a signed JWS) is required', { statusCode: 400 });
    const ack = typeof req.body === 'string' ? await deps.pushes.signed(kind, req.body, 'http') : await deps.pushes.plain(kind, req.body);
    return answer(kind, ack);
  });

  // A partial config: a signed JWS (`{version, storeIntegrationId, config}`) or, under the admin token, `{version, config}`.
  app.put('/admin/config', { bodyLimit: limit }, async (req) => {
    if (req.body === undefined) throw new StoregateError('SG_ERR_BAD_REQUEST', 'a JSON body (or a signed JWS) is required', { statusCode: 400 });
    const ack = typeof req.body === 'string' ? await deps.pushes.signed('config', req.body, 'http') : await deps.pushes.plain('config', req.body);
    return answer('config', ack);
  });

  app.get('/admin/journal/stats', async () => ({ ...deps.journal.stats(), dead: deps.deadLetters.count }));

  app.get<{ Querystring: { limit?: string } }>('/admin/journal/list', async (req) => {
    const limit = Math.min(10_000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    return deps.journal
      .undeliveredAfter(0, limit)
      .map((e) => ({ seq: e.seq, id: e.id, key: e.key, kind: e.kind, at: new Date(e.at).toISOString() }));
  });

  app.post<{ Querystring: { wait?: unknown } }>('/admin/journal/flush', async (req) => deps.flush(flushWaitMs(req.query.wait)));

  // Dead letters (README "Dead letters"): their own store, not the journal.
  app.get('/admin/journal/dead', async () => deps.deadLetters.list());

  app.get('/admin/journal/dead/discarded', async () => deps.deadLetters.discarded());

  app.post<{ Body: { seqs?: unknown; force?: unknown; by?: unknown } | undefined; Querystring: { wait?: unknown } }>('/admin/journal/dead/retry', async (req) => {
    const waitMs = flushWaitMs(req.query.wait);
    const seqs = req.body?.seqs;
    if (seqs !== undefined && (!Array.isArray(seqs) || !seqs.every((s) => Number.isSafeInteger(s)))) {
      throw new StoregateError('SG_ERR_BAD_REQUEST', 'seqs must be a list of journal sequence numbers', { statusCode: 400, details: [{ path: '/seqs', message: 'a list of integers' }] });
    }
    const force = req.body?.force;
    if (force !== undefined && typeof force !== 'boolean') {
      throw new StoregateError('SG_ERR_BAD_REQUEST', 'force must be true or false', { statusCode: 400, details: [{ path: '/force', message: 'a boolean' }] });
    }
    const by = typeof req.body?.by === 'string' ? req.body.by : undefined;
    const r = await deps.deadLetters.retry(seqs as number[] | undefined, { force: force === true, ...(by ? { by } : {}) });
    const flushed = r.retried.length > 0 ? await deps.flush(waitMs) : null;
    return { retried: r.retried.length, seqs: r.retried, skipped: r.skipped, notFound: r.notFound, flush: flushed };
  });

  app.post<{ Params: { seq: string }; Body: { reason?: unknown; by?: unknown } | undefined }>('/admin/journal/dead/:seq/discard', async (req) => {
    const seq = Number(req.params.seq);
    if (!Number.isSafeInteger(seq) || seq <= 0) {
      throw new StoregateError('SG_ERR_BAD_REQUEST', `"${req.params.seq}" is not a journal sequence number`, { statusCode: 400 });
    }
    const rec = await deps.deadLetters.discard(seq, { reason: req.body?.reason, by: req.body?.by ?? `admin API from ${req.ip}` });
    return { discarded: { ...rec, at: new Date(rec.at).toISOString() } };
  });

  app.get('/admin/reconciliation', async () => deps.reconciliation());
}

/** HTTP status of a refused push, from its code (the ack itself carries the reason). */
function statusOf(ack: PushAck): number {
  switch (ack.code) {
    case 'SG_ERR_PUSH_TOO_LARGE':
      return 413;
    case 'SG_ERR_PUSH_SIGNATURE':
    case 'SG_ERR_PUSH_UNTRUSTED_KEY':
      return 403;
    case 'SG_ERR_PUSH_STALE':
    case 'SG_ERR_DATA_STALE':
      return 409;
    case 'SG_ERR_CONFIG_APPLY':
    case 'SG_ERR_INTERNAL':
      return 500;
    default:
      return 400;
  }
}
