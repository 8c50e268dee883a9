/**
 * The daemon's slow heap growth, switched on by `storegate run` once its modules are loaded rather than on its
 * command line.
 *
 * `--heap-growing-percent=15` makes V8 grow the old generation by 15% past what survived a full GC instead of up to
 * 4×: under 32 concurrent session updates on the 2-core target it keeps RSS near 90 MB instead of ~160 MB at the same
 * CPU per request (scripts/runtime-flags.ts), and it bounds the heap of a start that replays a whole journal. But any
 * V8 flag that changes V8's flag hash makes V8 reject the code cache Node.js embeds for its own built-in modules
 * (`NODE_DEBUG_NATIVE=CODE_CACHE` logs "is rejected" for each): on the command line it made the single binary
 * compile ~120 built-in modules from source at every start, ~100 ms of CPU. Set here, after the bundle's modules
 * (and the built-ins they require) are loaded and before the data dir is opened, only the built-ins loaded later
 * (`cluster`, which `net` loads to listen) are compiled from source. V8 reads the flag at every heap limit it
 * computes (its heap controller's growing factor), so the recovery and everything after run as before.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWTH_FLAGS = ['--heap-growing-percent=15'] as const;

let applied = false;

/** Idempotent. Called first thing by `storegate run` (src/main.ts). */
export function applyHeapGrowth(): void {
  if (applied) return;
  applied = true;
  for (const f of HEAP_GROWTH_FLAGS) setFlagsFromString(f);
}
