/**
 * The soak benchmark's gateway process: the real `Gateway` (src/gateway/gateway.ts), alone in its process,
 * bundled the way the daemon is and started with the daemon's runtime flags and malloc setting (bench/soak.ts
 * builds and spawns it). Its RSS is what the soak judges, so nothing of the load driver lives here.
 *
 * The one difference from `storegate run` is the clock: a simulated week must pass in minutes, so `now()` is a
 * wall time the driver moves, while `monotonic()` and `sleep()` stay real (deadlines, retries, backoff and the
 * flusher's pacing behave as in a shop). Each request may carry `x-soak-now: <epoch ms>`; the clock moves to it
 * (forward only: terminals running at once carry their own session's start) before fastify sees the request.
 * When no terminal calls (nights), the driver moves time with a header-only `GET /healthz`, so retention and
 * upkeep run on the simulated clock.
 *
 * What only the process itself can tell (the entries each bounded part holds, V8's heap figures, the journal's
 * depth) goes to the driver over the IPC channel Node opens for a child: `{ id, q: 'sizes' }` is answered with
 * `{ id, sizes, memory, spaces, now }` (`gc` and `snapshot` are diagnostics the driver asks for only with --gc
 * or --heap-snapshot). Log lines go to stdout, as the daemon's do (the driver points it at a file, as fast a
 * reader as journald).
 */
import type { IncomingMessage } from 'node:http';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { Gateway } from '../src/gateway/gateway.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/telemetry/logger.js';
import { systemClock, type Clock } from '../src/platform/clock.js';
import { startIdleHeapNudge } from '../src/platform/idle-heap.js';
import { startMemoryTrim } from '../src/platform/memory-trim.js';
import { applyHeapGrowth } from '../src/platform/heap-growth.js';

/** Simulated wall time moved by the driver; monotonic time and timers are real. */
class SoakClock implements Clock {
  #now: number;
  constructor(start: number) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  advanceTo(ms: number): void {
    if (ms > this.#now) this.#now = ms;
  }
  monotonic(): number {
    return performance.now();
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
}

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`soak gateway: ${name} missing`);
  return v;
}

async function main(): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) throw new Error('soak gateway: start me with an IPC channel (bench/soak.ts)');
  const start = Number(arg('--start'));
  if (!Number.isFinite(start)) throw new Error('soak gateway: --start must be epoch milliseconds');
  // As `storegate run` does first (src/main.ts): the daemon's slow heap growth belongs to what is measured.
  applyHeapGrowth();
  const loaded = await loadConfig({ configPath: arg('--config'), env: {} });
  const log = createLogger(loaded.config.log.level);
  const clock = new SoakClock(start);
  const gateway = new Gateway({ loaded, log, clock, probeIntervalMs: 1000 });
  const url = await gateway.start();
  // As `storegate run` does after its start (src/main.ts): the daemon's idle-heap nudge belongs to what is measured.
  startIdleHeapNudge();
  // As `storegate run` does (src/platform/memory-trim.ts); `--gateway-env SOAK_MEMORY_TRIM=off` leaves it out, to compare.
  if (process.env.SOAK_MEMORY_TRIM !== 'off') startMemoryTrim((t) => log.info({ mod: 'memory', slackMiB: Math.round(t.slackBytes / 1048576), ms: Math.round(t.ms), freedMiB: Math.round(t.freedBytes / 1048576) }, 'memory trimmed'));
  const server = gateway.app?.server;
  if (!server) throw new Error('soak gateway: no HTTP server');
  server.prependListener('request', (req: IncomingMessage) => {
    const at = req.headers['x-soak-now'];
    if (typeof at === 'string') clock.advanceTo(Number(at));
  });
  const answer = (id: number, extra: Record<string, unknown> = {}) => {
    const spaces = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, [x.space_size, x.space_used_size]]));
    send({ id, sizes: gateway.stateSizes(), memory: process.memoryUsage(), spaces, now: clock.now(), ...extra });
  };
  process.on('message', (m: { id: number; q: string; file?: string }) => {
    if (m.q === 'sizes') answer(m.id);
    // Diagnostics (bench/soak.ts --gc, --heap-snapshot): never in a judged run.
    else if (m.q === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) throw new Error('soak gateway: q=gc needs --expose-gc');
      gc();
      gc();
      // V8 gives freed pages back on background threads: let them run before the driver reads RSS.
      setTimeout(() => answer(m.id), 300);
    } else if (m.q === 'snapshot' && m.file) answer(m.id, { file: writeHeapSnapshot(m.file) });
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    gateway.stop({ drainMs: 5000 }).then(
      () => {
        log.flush();
        process.exit(0);
      },
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The driver gone (killed outright): nothing will stop this process otherwise.
  process.on('disconnect', stop);
  send({ url });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
