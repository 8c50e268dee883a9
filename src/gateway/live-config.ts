import type { Checkout } from '../checkout/checkout.js';
import type { Config } from '../config/schema.js';
import type { LocalState } from '../checkout/local-state.js';
import { under } from '../config/merge.js';
import type { LiveApplier } from '../config/runtime.js';
import type { TerminalAuth } from '../http/auth.js';
import { setLogLevel, type Logger } from '../telemetry/logger.js';
import type { UpstreamClient } from '../upstream/client.js';
import { loadTrustedKeys, type TrustedKey } from '../trust/index.js';

export interface LiveParts {
  log: Logger;
  checkout: Checkout;
  upstream: UpstreamClient | null;
  auth: TerminalAuth;
  state: LocalState;
  setTrustedKeys: (keys: readonly TrustedKey[]) => void;
  /** Fallback promotions of the config now in force (`offline.fallback`, checked when the config was validated). */
  setFallback?: (config: Readonly<Config>) => void;
}

/**
 * What a pushed config changes in a running gateway at once (src/config/runtime.ts `LIVE_KEYS`); it returns the
 * keys it could not apply live after all (`mode` needs an upstream client that was built at start).
 */
export function liveConfigApplier(p: LiveParts): LiveApplier {
  return (next, _prev, changed) => {
    const has = (k: string) => changed.some((path) => under(path, k));
    const restart: string[] = [];
    if (has('log.level')) setLogLevel(p.log, next.log.level);
    if (has('mode')) {
      if (next.mode !== 'offline' && p.upstream === null) restart.push('mode');
      else p.checkout.setMode(next.mode);
    }
    if (has('upstream.timeoutMs') || has('upstream.retry')) {
      p.upstream?.reconfigure({ timeoutMs: next.upstream.timeoutMs, retry: next.upstream.retry });
      p.checkout.setTimeoutMs(next.upstream.timeoutMs);
    }
    if (has('terminals')) p.auth.replace(next.terminals);
    if (has('offline')) {
      p.state.loyalty.maxOfflineDeduction = next.offline.maxOfflineLoyaltyDeduction;
      p.setFallback?.(next);
    }
    if (has('trust.publicKeys')) p.setTrustedKeys(loadTrustedKeys(next.trust.publicKeys));
    return restart;
  };
}
