/**
 * Lets V8's memory reducer shrink the heap of an idle daemon on Node.js 24 (the single binary's runtime).
 *
 * V8's memory reducer is what gives memory back once a process stops working: every 8 s it samples the allocation
 * rates, and when the process has gone quiet it runs a memory-reducing mark-compact, which also shrinks the young
 * generation. On Node.js 24 (V8 13.6) it never judged the idle daemon quiet: `--trace-memory-reducer` logged
 * "Memory reducer: high alloc, foreground" every 8 s for as long as it ran. The rate it reads for the embedder's
 * own heap (Node.js's C++ objects that V8 traces) was zero, and V8 counts a zero rate as not low (its mutator
 * utilisation for a speed of 0 is 0). Allocating some JavaScript did not change that; creating a `vm.Script`,
 * one of those C++ objects, did: with one every 2 s the reducer logs "low alloc", runs, and the idle single binary
 * measured 89.4 MiB of RSS after 60 s instead of 98.9 MiB (anonymous memory 44.7 -> 34.7 MiB, the young
 * generation 8 -> 1 MiB, the heap committed 32.1 -> 23.1 MiB), as Node.js 22 does on its own. Under load the
 * rates are high anyway and the reducer stays out of the way, as before.
 *
 * The script is compiled once; each tick only makes a new `vm.Script` of the same source (V8's compilation cache
 * answers it), a few microseconds every 2 s. The timer never keeps the process alive.
 */
import { Script } from 'node:vm';

export const IDLE_HEAP_TICK_MS = 2000;

export interface IdleHeapNudge {
  stop(): void;
}

export function startIdleHeapNudge(tickMs = IDLE_HEAP_TICK_MS): IdleHeapNudge {
  const timer = setInterval(() => {
    new Script('0', { filename: 'storegate-idle-heap' });
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
