/**
 * Gives memory back after a busy spell on Node.js 24 (the single binary's runtime; README "Benchmarks", soak).
 *
 * V8 13 keeps the pages a garbage collection frees in a pool, resident, for reuse; only a memory-reducing
 * collection gives them back. Its memory reducer starts one once allocation has been low for a while, which a
 * shop at its busiest never is. In the soak benchmark's week the binary's runtime held ~90 MiB of anonymous memory
 * beyond the live heap and Buffers from the second night on (the pool, and malloc arenas of V8's background
 * threads): 190–202 MiB of RSS at the nights, where the bundle on Node.js 20 stayed at 116–128. With this trim:
 * 114.6–123.4 MiB (README "Benchmarks", soak).
 *
 * Every `checkMs` this reads the resident anonymous memory (Linux: `RssAnon` of /proc/self/status) and subtracts
 * what is live (`heapUsed` + `external`). When that slack passes `slackBytes`, it runs V8's last-resort collection
 * (the `gc` of `--expose-gc` with `flavor: 'last-resort'`: compacts, frees the pool), at most once per `minGapMs`.
 * That is a pause of the event loop: 60–170 ms for a 30–40 MiB live heap on the 2-core target. At a real shop's
 * pace the memory reducer keeps the slack low and this seldom acts; under a burst it bounds the memory at the cost of
 * one such pause every `minGapMs` at most.
 *
 * Only where V8 gives the pool back on that collection (V8 13, Node.js 24): on Node.js 20 (V8 11) it would be a
 * full collection that frees no committed page, so it is not started there. `--expose-gc` is set at run time, once
 * the first trim is due (on the command line it would change V8's flag hash and cost each start Node.js's code
 * cache: src/platform/heap-growth.ts).
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryTrimPorts {
  /** Resident anonymous memory of this process, bytes; undefined where the platform does not tell. */
  residentAnon(): number | undefined;
  /** What is live: V8's used heap and the memory of Buffers and other external objects, bytes. */
  live(): number;
  /** A memory-reducing full collection; returns how long it took, ms. */
  collect(): number;
  monotonic(): number;
}

export interface MemoryTrimOptions {
  checkMs: number;
  /** Resident anonymous memory beyond what is live that sets off a trim. */
  slackBytes: number;
  /** Least time between two trims. */
  minGapMs: number;
}

export const MEMORY_TRIM_DEFAULTS: MemoryTrimOptions = { checkMs: 1_000, slackBytes: 24 * 1024 * 1024, minGapMs: 5_000 };

export interface TrimOutcome {
  slackBytes: number;
  /** Set when a trim ran. */
  trimmed?: { ms: number; freedBytes: number };
}

/** The decision and its bookkeeping, apart from timers and the runtime (test/unit/memory-trim.test.ts). */
export class MemoryTrim {
  readonly #ports: MemoryTrimPorts;
  readonly #opts: MemoryTrimOptions;
  #lastAt = Number.NEGATIVE_INFINITY;

  constructor(ports: MemoryTrimPorts, opts: MemoryTrimOptions = MEMORY_TRIM_DEFAULTS) {
    this.#ports = ports;
    this.#opts = opts;
  }

  check(): TrimOutcome | undefined {
    const anon = this.#ports.residentAnon();
    if (anon === undefined) return undefined;
    const slack = anon - this.#ports.live();
    const now = this.#ports.monotonic();
    if (slack <= this.#opts.slackBytes || now - this.#lastAt < this.#opts.minGapMs) return { slackBytes: slack };
    this.#lastAt = now;
    const ms = this.#ports.collect();
    return { slackBytes: slack, trimmed: { ms, freedBytes: anon - (this.#ports.residentAnon() ?? anon) } };
  }
}

/** V8 13 and later give pooled pages back on the last-resort collection; older ones do not (see above). */
export function runtimeTrims(v8Version = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) >= 13;
}

function residentAnonFromProc(): number | undefined {
  try {
    const m = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

type GcFunction = (opts: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gcFunction: GcFunction | undefined;

function lastResortCollect(): number {
  if (!gcFunction) {
    setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc') as GcFunction;
  }
  const t0 = performance.now();
  gcFunction({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  return performance.now() - t0;
}

export interface MemoryTrimmer {
  stop(): void;
}

/** Starts the periodic check where the runtime benefits (`runtimeTrims`); `onTrim` hears each trim. */
export function startMemoryTrim(onTrim: (t: { slackBytes: number; ms: number; freedBytes: number }) => void, opts: MemoryTrimOptions = MEMORY_TRIM_DEFAULTS): MemoryTrimmer {
  if (!runtimeTrims() || residentAnonFromProc() === undefined) return { stop: () => undefined };
  const trim = new MemoryTrim(
    {
      residentAnon: residentAnonFromProc,
      live: () => {
        const m = process.memoryUsage();
        return m.heapUsed + m.external;
      },
      collect: lastResortCollect,
      monotonic: () => performance.now(),
    },
    opts,
  );
  const timer = setInterval(() => {
    const out = trim.check();
    if (out?.trimmed) onTrim({ slackBytes: out.slackBytes, ...out.trimmed });
  }, opts.checkMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
