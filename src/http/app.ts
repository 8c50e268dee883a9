import { STATUS_CODES } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { StoregateError, isStoregateError, type ErrorCode } from '../core/errors.js';
import { PUSH_MAX_DEPTH, TERMINAL_MAX_DEPTH, jsonDepthExcess } from '../core/json-budget.js';
import { talonError, validationErrors } from './talon-errors.js';
import talonSchemas from './talon-request-schemas.json' with { type: 'json' };
import { lazyValidators } from './lazy-validators.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Which terminal called (set by the terminal auth hook). */
    terminalId: string | null;
    /** Where the answer came from, for the log line, the metrics and `X-Storegate-Source`. */
    answerSource: 'upstream' | 'local' | 'gateway';
    /** Set by handlers that want their 400s in Talon.One's plain `ErrorResponse` shape. */
    plainErrorShape: boolean;
  }
}

export interface AppDeps {
  bodyLimitBytes: number;
  log: Logger;
  metrics: Metrics;
  /** HTTPS server options (src/tls/server.ts); absent = plain HTTP. */
  https?: HttpsServerOptions | undefined;
}

export const TALON_SCHEMA_ID = 'talon';
const WARM_VALIDATORS_AFTER_MS = 1000;

/**
 * fastify's Ajv options. Terminals' bodies are forwarded upstream: validation must never rewrite them (no
 * coercion, no defaults). `validateSchema: false`: Ajv no longer checks each schema against the JSON Schema
 * meta-schema at every start — the schemas are fixed in the build, and test/unit/route-schemas.test.ts checks
 * them so, once. That check compiled the meta-schema's own validator in every daemon: ~5 MiB of the single binary's
 * idle RSS (README "Benchmarks", **startup**). Ajv's strict mode still refuses an unknown keyword as it compiles.
 */
export const AJV_OPTIONS = { customOptions: { removeAdditional: false, useDefaults: false, coerceTypes: false, allErrors: false, validateSchema: false } } as const;

/**
 * The fastify app factory (listening is the caller's business, so tests can `inject()` or `listen(0)`).
 * Errors of every kind leave in Talon.One's error shape, with `X-Storegate-Source`.
 */
export function buildApp(deps: AppDeps): FastifyInstance {
  // Route validators compile on first use (src/http/lazy-validators.ts), not before the server listens.
  const validators = lazyValidators();
  // With `https` fastify builds an https.Server; the app's types stay those of the plain one (same request API).
  const app = Fastify({
    ...(deps.https ? { https: deps.https } : {}),
    logger: false,
    bodyLimit: deps.bodyLimitBytes,
    return503OnClosing: true,
    ajv: AJV_OPTIONS,
    schemaController: { compilersFactory: { buildValidator: validators.buildValidator } },
    // What fastify answers by itself before any route runs leaves in Talon.One's shape too (it otherwise sends its
    // own `{error, code, statusCode}` body, which a Talon.One SDK cannot read): a URL whose percent-encoding does
    // not decode, a path parameter over find-my-way's 100 characters, and HTTP that Node's parser refuses.
    frameworkErrors: (err, _req, reply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      const what = status === 414 ? 'a path parameter is longer than 100 characters' : 'the URL does not decode (malformed percent-encoding)';
      const r = reply as FastifyReply;
      r.header('x-storegate-source', 'gateway')
        .code(status)
        .send(talonError(status, 'SG_ERR_BAD_URL', `Bad Request: ${what}`, [{ title: 'SG_ERR_BAD_URL', details: what, source: { parameter: 'path' } }]));
    },
    clientErrorHandler: answerClientError,
    // fastify's default joins every validation message into the error's text; with `allErrors` a body of 100,000
    // bad items made a multi-megabyte string per request. The list itself is on `err.validation` (capped when
    // answered, see validationErrors).
    schemaErrorFormatter: (errors, dataVar) => new Error(`${dataVar} failed ${errors.length} schema check(s)`),
  });
  app.decorateRequest('terminalId', null);
  app.decorateRequest('answerSource', 'gateway');
  app.decorateRequest('plainErrorShape', false);
  app.addSchema({ $id: TALON_SCHEMA_ID, definitions: talonSchemas.definitions });
  // The validators a start no longer compiles are compiled a second after the server listens, one per event-loop
  // turn, so /readyz and READY=1 do not wait for them and a shop's first sale does not pay for them either.
  app.addHook('onListen', (done) => {
    const warm = () => validators.warm().catch((err: unknown) => deps.log.error({ mod: 'http', err }, 'a route validator does not compile: its requests answer 500'));
    setTimeout(warm, WARM_VALIDATORS_AFTER_MS).unref();
    done();
  });

  // An empty body on a route that takes none (reopen) is not malformed JSON; fastify's own parser (which
  // also strips `__proto__` and `constructor.prototype` poisoning) handles the rest.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    // A depth budget before anything recursive sees the value (see src/core/json-budget.ts).
    // Head office's data and config (admin routes) nest deeper than a terminal's session.
    const max = req.url.startsWith('/admin/') ? PUSH_MAX_DEPTH : TERMINAL_MAX_DEPTH;
    const deep = jsonDepthExcess(body as string, max);
    if (deep) {
      const err = new StoregateError('SG_ERR_BAD_REQUEST', `request body nests deeper than ${max} levels`, {
        statusCode: 400,
        details: [{ path: '/', message: `arrays and objects nest deeper than ${max} levels (at character ${deep.at})` }],
      });
      return done(err, undefined);
    }
    jsonParser(req, body as string, done);
  });

  const httpLog = deps.log.child({ mod: 'http' });
  // The per-request line is built here from fields we pick (ids, route, status, timing), never from headers or
  // bodies, so it skips the redaction pass every other line gets (which cost as much as writing the line).
  const requestLog = httpLog.child({}, { redact: [] });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = String(reply.statusCode);
    const seconds = reply.elapsedTime / 1000;
    deps.metrics.httpRequests.inc({ route, source: req.answerSource, status });
    deps.metrics.httpDuration.observe({ route, source: req.answerSource, status }, seconds);
    if (req.terminalId !== null || route.startsWith('/v')) {
      const params = req.params as Record<string, string> | undefined;
      requestLog.info(
        {
          terminal: req.terminalId,
          session: params?.customerSessionId,
          profile: params?.integrationId,
          method: req.method,
          route,
          status: reply.statusCode,
          source: req.answerSource,
          ms: Math.round(reply.elapsedTime * 100) / 100,
        },
        'terminal request',
      );
    }
    done();
  });

  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, req, reply, httpLog));
  app.setNotFoundHandler((req, reply) => {
    const what = `no route ${req.method} ${req.url.split('?')[0]}: storegate serves Talon.One's Integration API routes and its own (README "Terminal API", "Operations API")`;
    reply.header('x-storegate-source', 'gateway').code(404).send(talonError(404, 'SG_ERR_NO_ROUTE', what));
  });
  return app;
}

/**
 * Node's HTTP parser refused the bytes (malformed request line or headers, a head over 16 KiB, conflicting
 * lengths, bad chunking) or the client was too slow: one Talon.One-shaped answer, then the connection is closed
 * (nothing after the bad bytes can be trusted to start a request). The parser's own message is not echoed.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const what = status === 431 ? 'the request line and headers are larger than 16 KiB' : status === 408 ? 'the request did not arrive in time' : 'the request is not valid HTTP/1.1';
  const body = JSON.stringify(talonError(status, 'SG_ERR_BAD_HTTP', `${STATUS_CODES[status] ?? 'Bad Request'}: ${what}`, [{ title: 'SG_ERR_BAD_HTTP', details: `${what} (${err.code ?? 'error'})`, source: { pointer: '/' } }]));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Storegate-Source: gateway\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

function sendError(err: FastifyError, req: FastifyRequest, reply: FastifyReply, log: Logger): void {
  reply.header('x-storegate-source', isStoregateError(err) ? err.source : 'gateway');
  const shape = (status: number, code: ErrorCode, message: string, errors?: Parameters<typeof talonError>[3]) => {
    const body = talonError(status, code, message, errors);
    if (req.plainErrorShape && status === 400) delete body.StatusCode;
    reply.code(status).send(body);
  };
  if (err.validation) {
    return shape(400, 'SG_ERR_VALIDATION', 'The submitted data was invalid', validationErrors(err.validation as Parameters<typeof validationErrors>[0]));
  }
  if (isStoregateError(err)) {
    req.answerSource = err.source;
    if (err.statusCode >= 500) log.warn({ code: err.code, err: err.message, route: req.routeOptions.url }, 'request failed');
    // At least one entry, so the code is in the body even when the error lists no details (README "Error codes").
    const details = err.details.length > 0 ? err.details : [{ path: '/', message: err.message }];
    return shape(
      err.statusCode,
      err.code,
      err.message,
      details.map((d) => ({ title: err.code, details: d.message, source: { pointer: d.path ?? '/' } })),
    );
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return shape(413, 'SG_ERR_BODY_TOO_LARGE', `request body is larger than ${reply.server.initialConfig.bodyLimit ?? 0} bytes (http.bodyLimitBytes)`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return shape(415, 'SG_ERR_MEDIA_TYPE', `request body must be sent as application/json, not ${String(req.headers['content-type'] ?? 'without a Content-Type')}`);
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return shape(400, 'SG_ERR_BAD_HTTP', 'the Content-Length header does not match the body');
    default:
      break;
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // Malformed JSON (FST_ERR_CTP_INVALID_JSON_BODY / SyntaxError) and poisoned prototypes land here.
    return shape(400, 'SG_ERR_MALFORMED_JSON', 'The submitted data was invalid', [
      { title: 'SG_ERR_MALFORMED_JSON', details: `the body is not valid JSON: ${err.message}`, source: { pointer: '/' } },
    ]);
  }
  log.error({ err }, 'unexpected error');
  shape(500, 'SG_ERR_INTERNAL', 'internal error in storegate (logged with its stack)');
}
