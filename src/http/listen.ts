import type { FastifyInstance } from 'fastify';
import { StoregateError } from '../core/errors.js';

/** Listens, or says why not in words a technician acts on (a port in use, a privileged port, an unknown address). */
export async function listenOrExplain(app: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${host}:${port}`;
    const why =
      code === 'EADDRINUSE'
        ? `${where} is already in use by another process (another storegate?): stop it, or set http.port`
        : code === 'EACCES'
          ? `${where}: ports below 1024 need privileges this user lacks; use a port of 1024 or more (http.port)`
          : code === 'EADDRNOTAVAIL'
            ? `${where}: this machine has no such address; set http.host to one of its addresses, or 0.0.0.0`
            : `cannot listen on ${where}: ${code ?? (err as Error).message}`;
    throw new StoregateError('SG_ERR_LISTEN', why, { statusCode: 500, cause: err });
  }
}
