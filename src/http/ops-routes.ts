import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../telemetry/metrics.js';
import { checkAdminToken } from './auth.js';
import { talonError } from './talon-errors.js';

/** What `/status` reports (README "Operations API"); sections appear as their capabilities exist. */
export type StatusDoc = Record<string, unknown> & { version: string; mode: string };

/** The admin token now (a pushed config can change it), or a fixed one. */
export type AdminTokenSource = string | null | (() => string | null);

export interface OpsRouteDeps {
  adminToken: AdminTokenSource;
  metrics: Metrics;
  status: () => StatusDoc;
  ready: () => { ready: boolean; reasons: string[] };
}

/** The admin guard for operations routes: `Authorization: Bearer <adminToken>`, else 401. */
export function requireAdmin(source: AdminTokenSource) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const adminToken = typeof source === 'function' ? source() : source;
    if (checkAdminToken(req.headers.authorization, adminToken)) return undefined;
    reply
      .header('x-storegate-source', 'gateway')
      .code(401)
      .send(
        talonError(
          401,
          'SG_ERR_UNAUTHORIZED',
          adminToken ? 'Unauthorized: send Authorization: Bearer <adminToken> (the adminToken of the config)' : 'Unauthorized: no adminToken is configured, so the operations routes are closed',
        ),
      );
    return reply;
  };
}

/** Operations routes (README "Operations API"): liveness, readiness, status, metrics. */
export async function opsRoutes(app: FastifyInstance, deps: OpsRouteDeps): Promise<void> {
  const admin = requireAdmin(deps.adminToken);
  app.addHook('onSend', async (_req, reply, payload) => {
    if (!reply.hasHeader('x-storegate-source')) reply.header('x-storegate-source', 'gateway');
    return payload;
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const r = deps.ready();
    return reply.code(r.ready ? 200 : 503).send({ ready: r.ready, reasons: r.reasons });
  });

  app.get('/status', { onRequest: admin }, async () => deps.status());

  app.get('/metrics', { onRequest: admin }, async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.header('content-type', deps.metrics.registry.contentType).send(text);
  });

  // The technicians' page `GET /` is public and lives in status-ui.ts, built from the public summary only.
}
