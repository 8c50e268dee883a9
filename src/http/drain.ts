/**
 * Closing the HTTP side at shutdown with a bound (`http.drainTimeoutMs`, README "Shutdown"): no new connections,
 * idle keep-alive connections closed at once, requests in flight given the limit to finish; past it their
 * connections are destroyed (the terminal sees a network error, never a half answer). The count of cut requests
 * is logged as a JSON line, not printed.
 */
import type { Server, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../telemetry/logger.js';

/** Requests between their arrival and the end of their response. */
export class InFlight {
  #n = 0;
  #draining = false;

  constructor(server: Server) {
    server.on('request', (_req, res: ServerResponse) => {
      this.#n++;
      // 'close' follows 'finish', and comes alone for a connection cut before the answer was sent.
      res.once('close', () => {
        this.#n--;
        // While draining, a keep-alive connection whose last answer just went out is closed at once: the
        // server's close waits for every connection, and a terminal's keep-alive would hold it to the limit.
        if (this.#draining) setImmediate(() => server.closeIdleConnections());
      });
    });
  }

  drain(): void {
    this.#draining = true;
  }

  get count(): number {
    return this.#n;
  }
}

export interface DrainResult {
  /** Requests still running at the limit, whose connections were destroyed. */
  cut: number;
  ms: number;
}

export async function closeDraining(app: FastifyInstance, inFlight: InFlight, drainMs: number, log: Logger): Promise<DrainResult> {
  const t0 = performance.now();
  const atStart = inFlight.count;
  // fastify: stop listening, answer requests arriving on open connections with 503 + `Connection: close`,
  // close idle keep-alive connections; resolves once every connection is gone.
  inFlight.drain();
  const closing = app.close();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<'limit'>((resolve) => (timer = setTimeout(() => resolve('limit'), drainMs)));
  if (atStart > 0) log.info({ mod: 'http', inFlight: atStart, drainTimeoutMs: drainMs }, 'draining requests in flight');
  const first = await Promise.race([closing.then(() => 'drained' as const), limit]);
  clearTimeout(timer);
  let cut = 0;
  if (first === 'limit') {
    cut = inFlight.count;
    if (cut > 0) log.warn({ mod: 'http', cut, drainTimeoutMs: drainMs }, 'drain limit reached: requests still in flight are cut (their connections close unanswered)');
    app.server.closeAllConnections();
    await closing;
  }
  return { cut, ms: Math.round(performance.now() - t0) };
}
