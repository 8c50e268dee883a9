import type { Config } from '../config/schema.js';

/** Where the running daemon answers, from its config (a wildcard listen address is reached on loopback). */
export function daemonUrl(config: Readonly<Config>, override?: string): string {
  if (override) return override;
  const host = config.http.host === '0.0.0.0' || config.http.host === '::' ? '127.0.0.1' : config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.port}`;
}

/** One admin call to the running daemon; throws a sentence a technician can act on. */
export async function adminCall(
  base: string,
  adminToken: string | null,
  method: 'GET' | 'POST',
  path: string,
  timeoutMs = 10_000,
  body?: unknown,
  configSource = 'the config',
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      headers: { ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED') throw new Error(`connection refused at ${base} — is storegate running? (systemctl status storegate)`);
    if ((err as Error).name === 'TimeoutError') throw new Error(`no answer from ${base} within ${timeoutMs / 1000} s — is storegate stuck? (journalctl -u storegate)`);
    throw new Error(`storegate is not answering at ${base}: ${code ?? (err as Error).message}`);
  }
  const text = await res.text();
  if (res.status === 401) {
    throw new Error(
      adminToken
        ? `the daemon at ${base} refused the adminToken of ${configSource}: it runs with another config; give this command the same --config as \`storegate run\` (or set STOREGATE_CONFIG)`
        : `${configSource} has no adminToken, so the daemon's operations routes cannot be used: set adminToken (or STOREGATE_ADMIN_TOKEN)`,
    );
  }
  if (!res.ok) {
    let why = text;
    try {
      const b = JSON.parse(text) as { message?: string; errors?: { title?: string; details?: string }[] };
      why = [b.errors?.[0]?.title, b.message ?? b.errors?.[0]?.details].filter(Boolean).join(': ');
    } catch {
      // not Talon.One-shaped: the text as it is
    }
    throw new Error(`${path}: HTTP ${res.status} ${why}`);
  }
  return text ? (JSON.parse(text) as unknown) : null;
}
