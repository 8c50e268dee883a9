/**
 * Capped exponential backoff with full jitter: the n-th retry (n = 0 for the first retry) waits a uniformly
 * random time in [0, min(maxMs, baseMs · 2^n)]. Full jitter spreads the retries of 500 shops that lost the
 * upstream at the same instant, instead of having them knock in lock-step.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

/** Statuses worth another try: 409 (upstream's per-session queue is full), 429, and 5xx (README "Durability and the journal"). */
export function isRetryableStatus(status: number): boolean {
  return status === 409 || status === 429 || status >= 500;
}
