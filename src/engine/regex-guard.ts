import { setFlagsFromString } from 'node:v8';
import { Unsupported } from './paths.js';

/**
 * Regular expressions from pushed rules run on V8's linear-time engine (the `l` flag), never on the
 * backtracking one: matching takes time proportional to pattern × input whatever the pattern, so no rule
 * can hang the event loop (`(a+)+`, `(a|aa)+`, `(.*a){20}` and friends included).
 *
 * Why this engine: a syntactic "nested quantifier" check cannot be complete (`((a+))+` and `(a|aa)+`
 * passed the one this replaced and took seconds on 27 characters); a linear engine is a guarantee by
 * construction. Talon.One's own rule engine is written in Go, whose `regexp` package is RE2 — also
 * linear, also without back-references or lookaround — so the patterns it accepts are the ones V8's
 * linear engine accepts, and offline answers match upstream's semantics more closely than a backtracking
 * engine would. Native RE2 bindings would do the same at the cost of a compiled addon in the single binary.
 *
 * The engine is behind a V8 flag (`--enable-experimental-regexp-engine`), set before the first pattern is
 * compiled (not when this module loads: a V8 flag set at run time makes V8 reject Node.js's code cache for the
 * built-in modules loaded after it, and most of those load while the bundle's modules are evaluated; see
 * src/platform/heap-growth.ts). Once set it stays set: a linear-engine RegExp crashes V8 if run with the flag off.
 * If this Node.js build does not accept the `l` flag, every rule regular expression is refused as unsupported
 * (the campaign is then not evaluated offline), never run on the backtracking engine.
 */
let linear: boolean | undefined;

/** Whether V8's linear-time engine is available (switching it on the first time it is asked). */
export function linearEngine(): boolean {
  if (linear === undefined) {
    setFlagsFromString('--enable-experimental-regexp-engine');
    try {
      linear = new RegExp('a', 'l').flags.includes('l');
    } catch {
      linear = false;
    }
  }
  return linear;
}

/** Inputs longer than this are not matched (callers check); pattern × input bounds the work. */
export const MAX_MATCH_INPUT = 1000;
const MAX_PATTERN = 200;


/** Compiles a rule's regular expression for the linear engine, or throws Unsupported saying why not. */
export function safeRegex(pattern: unknown): RegExp {
  if (typeof pattern !== 'string') throw new Unsupported('regular expression must be a literal string');
  if (pattern.length > MAX_PATTERN) throw new Unsupported(`regular expression longer than ${MAX_PATTERN} characters`);
  if (!linearEngine()) throw new Unsupported('regular expressions need V8\'s linear-time engine, which this Node.js does not provide');
  try {
    return new RegExp(pattern, 'l');
  } catch (err) {
    // V8 says "Cannot be executed in linear time" for back-references and lookaround: RE2 has neither.
    const why = /linear time/.test((err as Error).message) ? 'uses back-references or lookaround' : 'is invalid';
    throw new Unsupported(`regular expression ${why}`);
  }
}
