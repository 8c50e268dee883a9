/**
 * When to try the broker again. MQTT.js's own reconnect waits a fixed `reconnectPeriod` (1 s): after a broker
 * restart, 500 shops would all knock within the same second, again and again. Here the n-th attempt after a
 * loss waits `minMs` plus a uniformly random time in [0, min(maxMs, spreadMs · 2^n)], so even the first wave
 * is spread over `spreadMs` (full jitter, as in the upstream backoff) and a broker that stays away is asked
 * less and less often.
 */
export interface ReconnectPolicy {
  readonly minMs: number;
  readonly spreadMs: number;
  readonly maxMs: number;
}

export function reconnectDelay(attempt: number, policy: ReconnectPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.spreadMs * 2 ** Math.min(attempt, 30));
  return policy.minMs + Math.floor(random() * ceiling);
}
