/**
 * Head office's HTTP side (fastify): `POST /notifications` for Talon.One's outbound notifications (header
 * secret, `X-UUID`, persisted before the answer), `GET /fleet` (JSON, or a page for a browser), `GET /metrics`
 * (Prometheus), `GET /healthz`. Errors are `{"error": {"code": "SG_ERR_…", "message", "details"?}}`; a secret
 * never appears in an answer or a log line.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { StoregateError, isStoregateError, type ErrorCode } from '../core/errors.js';
import { parseScheme, secretEquals } from '../http/auth.js';
import type { Logger } from '../telemetry/logger.js';
import { renderFleetPage } from './fleet-page.js';
import type { FleetDoc } from './service.js';
import type { NotificationKind } from './inbox.js';

export interface HeadOfficeHttpDeps {
  log: Logger;
  bodyLimit: number;
  notificationHeader: string;
  notificationSecret: string | null;
  adminToken: string | null;
  receive: (uuid: string, body: unknown) => Promise<{ duplicate: boolean; kind: NotificationKind }>;
  onNotification?: (kind: string, outcome: 'accepted' | 'duplicate' | 'refused') => void;
  fleet: () => FleetDoc;
  metrics: () => Promise<string>;
  now: () => number;
}

const UUID = /^[A-Za-z0-9._:-]{1,200}$/;

function fail(code: ErrorCode, statusCode: number, message: string, details?: { path: string; message: string }[]): StoregateError {
  return new StoregateError(code, message, { statusCode, ...(details ? { details } : {}) });
}

export function buildHeadOfficeApp(d: HeadOfficeHttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: d.bodyLimit, return503OnClosing: true, onProtoPoisoning: 'error', onConstructorPoisoning: 'error' });
  const header = d.notificationHeader.toLowerCase();

  // The notification secret is checked before the body is read: an unauthenticated sender cannot make us parse 32 MB.
  app.addHook('onRequest', async (req) => {
    if (req.method !== 'POST' || !req.url.startsWith('/notifications')) return;
    const given = req.headers[header];
    if (d.notificationSecret === null) throw fail('SG_ERR_UNAUTHORIZED', 401, 'notifications are not configured (notifications.secretFile is null)');
    if (typeof given !== 'string' || !secretEquals(given, d.notificationSecret)) throw fail('SG_ERR_UNAUTHORIZED', 401, `missing or wrong ${d.notificationHeader} header`);
  });

  const notify = async (req: FastifyRequest, reply: FastifyReply) => {
    const uuid = req.headers['x-uuid'];
    if (typeof uuid !== 'string' || !UUID.test(uuid)) {
      d.onNotification?.('unknown', 'refused');
      throw fail('SG_ERR_VALIDATION', 400, 'X-UUID header missing or malformed (Talon.One sends one with every notification)', [{ path: 'X-UUID', message: 'required: 1 to 200 letters, digits, ".", "_", ":" or "-"' }]);
    }
    try {
      const r = await d.receive(uuid, req.body);
      d.onNotification?.(r.kind, r.duplicate ? 'duplicate' : 'accepted');
      return reply.code(r.duplicate ? 200 : 202).send({ accepted: true, duplicate: r.duplicate, kind: r.kind });
    } catch (err) {
      d.onNotification?.('unknown', 'refused');
      throw err;
    }
  };
  app.post('/notifications', notify);
  app.post('/notifications/:name', notify);

  const admin = async (req: FastifyRequest, reply: FastifyReply) => {
    if (d.adminToken === null) return;
    const a = req.headers.authorization;
    const basic = parseScheme(a, 'Basic');
    const token = parseScheme(a, 'Bearer') ?? (basic === null ? '' : Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':'));
    if (token && secretEquals(token, d.adminToken)) return;
    reply.header('www-authenticate', 'Basic realm="storegate head office", charset="UTF-8"');
    throw fail('SG_ERR_UNAUTHORIZED', 401, 'Authorization: Bearer <http.adminToken> (or HTTP Basic with it as the password) required');
  };

  app.get('/fleet', { preHandler: admin }, async (req, reply) => {
    const doc = d.fleet();
    const q = req.query as { format?: string };
    const html = q.format !== 'json' && (q.format === 'html' || /text\/html/.test(req.headers.accept ?? ''));
    if (html) return reply.type('text/html; charset=utf-8').send(renderFleetPage(doc, d.now()));
    return reply.send(doc);
  });
  app.get('/metrics', { preHandler: admin }, async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await d.metrics()));
  app.get('/healthz', async () => ({ ok: true }));

  app.setNotFoundHandler((req) => {
    throw fail('SG_ERR_NO_ROUTE', 404, `no route ${req.method} ${req.url.split('?')[0]}`);
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const e = toError(err);
    if (e.statusCode >= 500) d.log.error({ err, url: req.url }, 'head office: request failed');
    else d.log.debug({ code: e.code, url: req.url.split('?')[0] }, 'head office: request refused');
    void reply.code(e.statusCode).send({ error: { code: e.code, message: e.message, ...(e.details.length > 0 ? { details: e.details.slice(0, 20) } : {}) } });
  });
  return app;
}

function toError(err: FastifyError): StoregateError {
  if (isStoregateError(err)) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return fail('SG_ERR_BODY_TOO_LARGE', 413, 'the body is larger than notifications.maxBytes');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return fail('SG_ERR_MEDIA_TYPE', 415, 'send Content-Type: application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return fail('SG_ERR_MALFORMED_JSON', 400, 'the body is empty');
  }
  if (err.statusCode === 400 || err instanceof SyntaxError) return fail('SG_ERR_MALFORMED_JSON', 400, 'the body is not valid JSON (or sets __proto__ / constructor)');
  if (typeof err.statusCode === 'number' && err.statusCode < 500) return fail('SG_ERR_BAD_REQUEST', err.statusCode, err.message);
  return fail('SG_ERR_INTERNAL', 500, 'internal error (logged)');
}
