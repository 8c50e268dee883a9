import type { Config } from '../config/schema.js';

/** Where the running daemon answers, from its config (a wildcard listen address is reached on loopback). */
export function daemonUrl(config: Readonly<Config>, override?: string): string {
  if (override) return override;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

/** One admin call to the running daemon; throws a sentence a technician can act on. */
export async function adminCall(base: string, adminToken: string | null, method: 'GET' | 'POST', path: string, timeoutMs = 10_000, body?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: { ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new Error(`storegate is not answering at ${base}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 401) throw new Error(`${path}: HTTP 401 (set adminToken in the config or STOREGATE_ADMIN_TOKEN)`);
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : null;
}
