import type { FastifyInstance } from 'fastify';
import type { DataKind, LocalData } from '../engine/index.js';
import type { Journal } from '../journal/index.js';
import { StoregateError } from '../core/errors.js';
import { requireAdmin } from './ops-routes.js';

export interface AdminRouteDeps {
  adminToken: string | null;
  localData: LocalData;
  journal: Journal;
  /** Flushes the journal now (the operator's `storegate journal flush`); resolves with what happened. */
  flush: () => Promise<Record<string, unknown>>;
  reconciliation: () => unknown[];
  /** Largest data push accepted (100,000 strikethrough prices are tens of MB). */
  dataBodyLimitBytes?: number;
}

const KINDS = new Set<DataKind>(['rules', 'prices', 'coupons', 'loyalty']);

/** Admin routes (CONTRACT §4), all behind `Authorization: Bearer <adminToken>`. */
export async function adminRoutes(app: FastifyInstance, deps: AdminRouteDeps): Promise<void> {
  app.addHook('onRequest', requireAdmin(deps.adminToken));

  // Plain JSON pushes of CONTRACT §7 data (signed JWS pushes arrive with the MQTT issue).
  app.put<{ Params: { kind: string } }>(
    '/admin/data/:kind',
    { bodyLimit: deps.dataBodyLimitBytes ?? 256 * 1048576 },
    async (req) => {
      const kind = req.params.kind as DataKind;
      if (!KINDS.has(kind)) {
        throw new StoregateError('SG_ERR_NOT_FOUND', `unknown data kind "${req.params.kind}"; use rules, prices, coupons or loyalty`, { statusCode: 404 });
      }
      if (req.body === undefined) throw new StoregateError('SG_ERR_BAD_REQUEST', 'a JSON body is required', { statusCode: 400 });
      const result = await deps.localData.ingest(kind, req.body);
      return { ok: true, ...result };
    },
  );

  app.get('/admin/journal/stats', async () => deps.journal.stats());

  app.get<{ Querystring: { limit?: string } }>('/admin/journal/list', async (req) => {
    const limit = Math.min(10_000, Math.max(1, Number(req.query.limit ?? 100) || 100));
    return deps.journal
      .undelivered()
      .slice(0, limit)
      .map((e) => ({ seq: e.seq, id: e.id, key: e.key, kind: e.kind, at: new Date(e.at).toISOString() }));
  });

  app.post('/admin/journal/flush', async () => deps.flush());

  app.get('/admin/journal/dead', async () =>
    deps.journal.listDead().map((d) => ({
      seq: d.entry.seq,
      id: d.entry.id,
      key: d.entry.key,
      kind: d.entry.kind,
      at: new Date(d.entry.at).toISOString(),
      failedAt: new Date(d.info.at).toISOString(),
      status: d.info.status,
      upstreamBody: d.info.body,
    })),
  );

  app.post<{ Body: { seqs?: number[] } | undefined }>('/admin/journal/dead/retry', async (req) => {
    const seqs = req.body?.seqs;
    if (seqs !== undefined && (!Array.isArray(seqs) || !seqs.every((s) => Number.isInteger(s)))) {
      throw new StoregateError('SG_ERR_BAD_REQUEST', 'seqs must be a list of journal sequence numbers', { statusCode: 400 });
    }
    const retried = await deps.journal.retryDead(seqs);
    const flushed = await deps.flush();
    return { retried, flush: flushed };
  });

  app.get('/admin/reconciliation', async () => deps.reconciliation());
}
