/**
 * Plain HTTP when TLS is configured (README "HTTPS on the shop's LAN"): refused, with an answer a technician can
 * read instead of a reset, except `/healthz` and `/readyz` on the loopback plain port (`http.plainPort`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { StoregateError } from '../core/errors.js';
import { talonError } from '../http/talon-errors.js';

/** A TLS record starts with its content type (22 = handshake); an HTTP/1.x request with an upper-case method. */
function looksLikePlainHttp(first: number): boolean {
  return first >= 0x41 && first <= 0x5a;
}

function refusalBody(status: 400 | 403, reason: string, details: string): string {
  return JSON.stringify(talonError(status, 'SG_ERR_TLS_REQUIRED', reason, [{ title: 'SG_ERR_TLS_REQUIRED', details, source: {} }]));
}

/** One refusal as raw HTTP/1.1 bytes (no HTTP parser runs on a socket that was meant for TLS). */
function rawRefusal(reason: string, details: string): string {
  const body = refusalBody(400, reason, details);
  return (
    'HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Storegate-Source: gateway\r\nConnection: close\r\n\r\n${body}`
  );
}

export interface SniffOptions {
  /** A connection that sends nothing is closed after this long (TLS's own handshake timeout starts only later). */
  firstBytesMs: number;
  onPlain: (remote: string) => void;
}

/**
 * Puts a look at each connection's first bytes in front of the TLS server: a TLS ClientHello goes on to the TLS
 * server untouched (Node's TLSSocket takes over the bytes already read), plain HTTP gets one 400 naming HTTPS and
 * is closed. Returns the raw sockets that have not finished a handshake yet (closed first at shutdown: a client that
 * connected and went silent must not hold the drain). False when the server is not built as expected (then plain
 * HTTP meets the TLS server itself: a handshake failure, no readable answer).
 */
export function refusePlainHttp(server: TlsServer, o: SniffOptions): { pending: Set<Socket> } | false {
  const listeners = server.listeners('connection');
  const onTls = listeners.find((l) => l.name === 'tlsConnectionListener');
  if (!onTls || listeners.length !== 1) return false;
  server.removeListener('connection', onTls as (...a: unknown[]) => void);
  const pending = new Set<Socket>();
  const byPeer = new Map<string, Socket>();
  const peer = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => `${s.remoteAddress ?? ''}|${s.remotePort ?? 0}`;
  server.on('secureConnection', (tls: Socket) => {
    const raw = byPeer.get(peer(tls));
    if (raw) {
      pending.delete(raw);
      byPeer.delete(peer(tls));
    }
  });
  server.on('connection', (socket: Socket) => {
    // Until the TLS server takes the socket nobody else listens for its errors: a client that resets the
    // connection before sending anything would otherwise be an uncaught 'error' event, and end the daemon.
    socket.on('error', () => socket.destroy());
    const key = peer(socket);
    pending.add(socket);
    byPeer.set(key, socket);
    socket.once('close', () => {
      pending.delete(socket);
      if (byPeer.get(key) === socket) byPeer.delete(key);
    });
    socket.setTimeout(o.firstBytesMs, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      if (!looksLikePlainHttp(chunk[0] ?? 0)) {
        (onTls as (s: Socket) => void).call(server, socket);
        return;
      }
      pending.delete(socket);
      o.onPlain(socket.remoteAddress ?? 'unknown');
      socket.end(
        rawRefusal(
          'Bad Request: this storegate takes HTTPS only (plain HTTP sent to its HTTPS port)',
          'use https:// with the same host and port, and trust the store CA (README "HTTPS on the shop\'s LAN")',
        ),
      );
      socket.resume(); // read and drop the rest, so closing does not reset the answer away
      setTimeout(() => socket.destroy(), 2000).unref();
    });
  });
  return { pending };
}

const HEALTH = new Set(['/healthz', '/readyz']);

/**
 * The loopback plain port: `/healthz` and `/readyz` answered by the app itself (the same routes as over HTTPS),
 * everything else 403 naming the HTTPS address. Bound to 127.0.0.1 only.
 */
export async function listenHealthPort(app: FastifyInstance, port: number, httpsUrl: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const pathOnly = (req.url ?? '/').split('?')[0] ?? '/';
    if ((req.method === 'GET' || req.method === 'HEAD') && HEALTH.has(pathOnly)) {
      app.inject({ method: req.method, url: req.url ?? pathOnly }).then(
        (r) => {
          res.writeHead(r.statusCode, { 'content-type': String(r.headers['content-type'] ?? 'application/json'), 'x-storegate-source': 'gateway' });
          res.end(req.method === 'HEAD' ? undefined : r.body);
        },
        () => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end('{"ready":false,"reasons":["the gateway is stopping"]}');
        },
      );
      return;
    }
    req.resume();
    res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', 'x-storegate-source': 'gateway', connection: 'close' });
    res.end(
      refusalBody(
        403,
        'Forbidden: plain HTTP here serves only /healthz and /readyz',
        `everything else is served over HTTPS at ${httpsUrl} (http.plainPort is a loopback health port)`,
      ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `127.0.0.1:${port}`;
      const why =
        err.code === 'EADDRINUSE'
          ? `${where} (http.plainPort) is already in use by another process: choose another port, or null for none`
          : err.code === 'EACCES'
            ? `${where} (http.plainPort): ports below 1024 need privileges this user lacks`
            : `cannot listen on ${where} (http.plainPort): ${err.code ?? err.message}`;
      reject(new StoregateError('SG_ERR_LISTEN', why, { statusCode: 500, cause: err }));
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  return { server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}` };
}
