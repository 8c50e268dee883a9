import type { FastifyInstance } from 'fastify';
import type { ScanHub, ScanSubscriber } from '../serial/scan-hub.js';
import type { TerminalAuth } from './auth.js';
import { talonError } from './talon-errors.js';
import { unauthorized } from './terminal-routes.js';

export interface ScanRouteDeps {
  auth: TerminalAuth;
  scans: ScanHub;
}

/** Bytes a slow client may leave unread before its stream is closed (it reconnects and replays by `Last-Event-ID`). */
const MAX_BUFFERED = 256 * 1024;

/**
 * `GET /v1/terminals/:terminalId/scans`: the scans of that terminal's serial scanners as server-sent events
 * (the WHATWG HTML "Server-sent events" format: `id`, `event: scan`, `data: <JSON>`), for a POS that would
 * rather hold an HTTP stream than an MQTT subscription. Only that terminal's own token opens it: no token or an
 * unknown one gets 401, another terminal's token 403, both in Talon.One's error shape.
 */
export async function scanRoutes(app: FastifyInstance, deps: ScanRouteDeps): Promise<void> {
  // Open streams never end by themselves: close them when the server closes, or it would wait for them.
  app.addHook('preClose', (done) => {
    deps.scans.closeAll();
    done();
  });

  app.get('/v1/terminals/:terminalId/scans', {
    onRequest: (req, reply, done) => {
      const wanted = (req.params as { terminalId: string }).terminalId;
      const who = deps.auth.identify(req.headers.authorization, req.raw.socket);
      if (who.id === wanted) {
        req.terminalId = who.id;
        return done();
      }
      const status = who.id === undefined ? 401 : 403;
      const body =
        who.id === undefined
          ? unauthorized(who.refused)
          : talonError(403, 'SG_ERR_FORBIDDEN', "Forbidden: a terminal may only read its own scans", [
              { title: 'SG_ERR_FORBIDDEN', details: 'this token belongs to another terminal', source: { parameter: 'terminalId' } },
            ]);
      reply.header('x-storegate-source', 'gateway').code(status).send(body);
    },
    handler: (req, reply) => {
      const terminalId = req.terminalId as string;
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        // A reverse proxy (nginx) must pass events on at once, not buffer them.
        'x-accel-buffering': 'no',
        'x-storegate-source': 'gateway',
      });
      res.flushHeaders();
      const write = (text: string): boolean => {
        if (res.destroyed || res.writableEnded) return false;
        res.write(text);
        return res.writableLength < MAX_BUFFERED;
      };
      // The client's reconnect delay after a dropped stream.
      write('retry: 2000\n\n');
      const sub: ScanSubscriber = {
        send: (id, event) => write(`id: ${id}\nevent: scan\ndata: ${JSON.stringify(event)}\n\n`),
        ping: () => write(': ping\n\n'),
        close: () => {
          if (!res.writableEnded) res.end();
        },
      };
      const last = req.headers['last-event-id'];
      const unsubscribe = deps.scans.subscribe(terminalId, sub, typeof last === 'string' ? last : undefined);
      res.on('close', unsubscribe);
    },
  });
}
