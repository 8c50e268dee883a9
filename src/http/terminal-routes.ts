import type { FastifyInstance } from 'fastify';
import { OPERATIONS } from '../checkout/operations.js';
import type { Checkout } from '../checkout/checkout.js';
import { TerminalAuth } from './auth.js';
import { talonError } from './talon-errors.js';
import { TALON_SCHEMA_ID } from './app.js';
import talonSchemas from './talon-request-schemas.json' with { type: 'json' };

export interface TerminalRouteDeps {
  auth: TerminalAuth;
  checkout: Checkout;
}

/**
 * The Talon.One-compatible terminal API (README "Terminal API (Talon.One-compatible)"): same paths, methods,
 * bodies and answers as the Integration API, so a POS built on a Talon.One SDK only changes its base URL.
 * Bodies are checked against Talon.One's own request schemas before anything else happens.
 */
export async function terminalRoutes(app: FastifyInstance, deps: TerminalRouteDeps): Promise<void> {
  for (const spec of OPERATIONS) {
    const bodyRef = spec.bodySchema ? `${TALON_SCHEMA_ID}${talonSchemas.roots[spec.bodySchema]}` : undefined;
    app.route({
      method: spec.method,
      url: spec.url,
      ...(bodyRef ? { schema: { body: { $ref: bodyRef } } } : {}),
      // Authentication first: an unknown caller's body is never parsed. Callback style: no promise per request.
      onRequest: (req, reply, done) => {
        req.plainErrorShape = spec.plainErrorShape === true;
        // The token, the connection's client certificate, or both (src/http/auth.ts `identify`).
        const who = deps.auth.identify(req.headers.authorization, req.raw.socket);
        if (who.id === undefined) {
          // Answering from the hook ends the request here; `done` is deliberately not called.
          reply.header('x-storegate-source', 'gateway').code(401).send(unauthorized(who.refused));
          return;
        }
        req.terminalId = who.id;
        done();
      },
      handler: async (req, reply) => {
        const url = req.url;
        const q = url.indexOf('?');
        const idem = req.headers['idempotency-key'];
        const answer = await deps.checkout.handle({
          spec,
          terminalId: req.terminalId as string,
          params: req.params as Record<string, string>,
          query: q >= 0 ? url.slice(q + 1) : '',
          body: spec.method === 'GET' ? undefined : req.body,
          idempotencyKey: typeof idem === 'string' && idem.length > 0 && idem.length <= 255 ? idem : undefined,
        });
        req.answerSource = answer.source;
        reply.code(answer.status).header('x-storegate-source', answer.source);
        if (answer.journalSeq !== undefined) reply.header('x-storegate-journal-seq', String(answer.journalSeq));
        if (answer.body === undefined || (Buffer.isBuffer(answer.body) && answer.body.length === 0)) return reply.send();
        if (Buffer.isBuffer(answer.body)) reply.header('content-type', answer.contentType ?? 'application/json');
        return reply.send(answer.body);
      },
    });
  }
}

/** A terminal route's 401, in Talon.One's shape, with why in `details`. */
export function unauthorized(why: string) {
  return talonError(401, 'SG_ERR_UNAUTHORIZED', 'Unauthorized: missing or unknown terminal token or client certificate', [
    { title: 'SG_ERR_UNAUTHORIZED', details: why, source: { parameter: 'Authorization' } },
  ]);
}
