import type { FastifyInstance } from 'fastify';
import { StoregateError } from '../core/errors.js';
import { parseRfc3339 } from '../core/rfc3339.js';
import type { SessionExplanation } from '../checkout/explain-session.js';
import { requireAdmin, type AdminTokenSource } from './ops-routes.js';

export interface ExplainRouteDeps {
  adminToken: AdminTokenSource;
  /** The explanation of a session's last evaluation (at `at` ms instead, when given); throws `SG_ERR_NOT_FOUND`. */
  explain: (sessionId: string, at?: number) => SessionExplanation;
}

/**
 * `GET /admin/explain/:id[?now=RFC3339]` (README "Why not?"), behind the admin token: which campaigns ran for the
 * session's last evaluation, which did not, and why.
 */
export async function explainRoutes(app: FastifyInstance, deps: ExplainRouteDeps): Promise<void> {
  app.addHook('onRequest', requireAdmin(deps.adminToken));
  app.get<{ Params: { id: string }; Querystring: { now?: string } }>('/admin/explain/:id', async (req) => {
    const id = req.params.id;
    if (id.length === 0 || id.length > 1000) {
      throw new StoregateError('SG_ERR_BAD_REQUEST', 'the session id must have 1 to 1,000 characters', { statusCode: 400, details: [{ path: '/id', message: 'a customerSessionId' }] });
    }
    const now = req.query.now;
    let at: number | undefined;
    if (now !== undefined) {
      at = typeof now === 'string' ? parseRfc3339(now) : undefined;
      if (at === undefined) {
        throw new StoregateError('SG_ERR_BAD_REQUEST', 'now must be an RFC 3339 date-time with an offset (e.g. 2026-05-01T10:00:00Z)', { statusCode: 400, details: [{ path: '/now', message: 'an RFC 3339 date-time with an offset' }] });
      }
    }
    return deps.explain(id, at);
  });
}
