/**
 * A one-off check of Talon.One for `storegate doctor`: is the deployment reachable, does it accept the API key,
 * how long does it take, and how far is this machine's clock from its `Date` header.
 *
 * It reads a customer profile's inventory (`GET /v1/customer_profiles/{integrationId}/inventory`, Talon.One's
 * Integration API): a read that changes nothing upstream. A profile that does not exist answers 404 — the key was
 * accepted; a refused key answers 401.
 */

export interface UpstreamCheck {
  /** HTTP status, or null when no answer came. */
  status: number | null;
  ms: number;
  /** Talon.One's clock minus ours, from its `Date` header (±1 s resolution), or null. */
  skewMs: number | null;
  /** Why there was no answer (network error, timeout). */
  error?: string;
}

export async function checkUpstream(o: { baseUrl: string; apiKey: string; timeoutMs: number; now?: () => number }): Promise<UpstreamCheck> {
  const now = o.now ?? Date.now;
  const url = `${o.baseUrl.replace(/\/$/, '')}/v1/customer_profiles/storegate-doctor-check/inventory`;
  const t0 = performance.now();
  try {
    // A command, not the daemon: Node's own fetch (the daemon's undici Pool is for its hot path).
    const res = await fetch(url, {
      headers: { authorization: `ApiKey-v1 ${o.apiKey}`, accept: 'application/json' },
      signal: AbortSignal.timeout(o.timeoutMs),
    });
    await res.arrayBuffer();
    const ms = performance.now() - t0;
    const date = res.headers.get('date');
    const upstreamAt = date ? Date.parse(date) : Number.NaN;
    // The Date header has whole seconds: compare with the middle of the exchange.
    const skewMs = Number.isFinite(upstreamAt) ? upstreamAt + 500 - (now() - ms / 2) : null;
    return { status: res.status, ms, skewMs };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === 'TimeoutError' ? `no answer within ${o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    return { status: null, ms: performance.now() - t0, skewMs: null, error: why };
  }
}
