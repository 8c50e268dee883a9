/**
 * The daemon's slow heap growth, switched on once it is ready rather than on its command line.
 *
 * `--heap-growing-percent=15` makes V8 grow the old generation by 15% past what survived a full GC instead of up to
 * 4×: under 32 concurrent session updates on the 2-core target it keeps RSS near 90 MB instead of ~160 MB at the same
 * CPU per request (scripts/runtime-flags.ts). But any V8 flag that changes V8's flag hash makes V8 reject the code
 * cache Node.js embeds for its own built-in modules (`NODE_DEBUG_NATIVE=CODE_CACHE` logs "is rejected" for each):
 * on the command line it made the single binary compile ~120 built-in modules from source at every start,
 * ~100 ms of CPU. Set here, after the start, only the few built-ins loaded later are compiled from source, and
 * V8 reads the flag at every heap limit it computes (its heap controller's growing factor), so from the first GC
 * after ready on the daemon runs as before. The start itself (recovery included) grows its heap V8's default way.
 */
import { setFlagsFromString } from 'node:v8';

export const READY_V8_FLAGS = ['--heap-growing-percent=15'] as const;

let applied = false;

/** Idempotent. Called by `storegate run` (src/main.ts) once the gateway is ready. */
export function applyReadyV8Flags(): void {
  if (applied) return;
  applied = true;
  for (const f of READY_V8_FLAGS) setFlagsFromString(f);
}

