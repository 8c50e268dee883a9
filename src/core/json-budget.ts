/**
 * A depth budget for JSON text from outside (terminals, MQTT clients, head-office pushes), checked on the
 * raw text before it is parsed, in one linear pass without recursion.
 *
 * Why on the text: `JSON.parse` itself copes with any nesting, but everything after it that walks a value
 * recursively — `structuredClone` when a session update is merged, `JSON.stringify` when it is journaled,
 * attribute paths, Talang values, canonical JSON of a push — overflows the stack at a few thousand levels
 * and would answer 500. Refusing the text at the edge bounds every one of those walks by the budget.
 */
export interface DepthExcess {
  /** The depth reached when the budget was passed. */
  readonly depth: number;
  /** Character offset in the text where it was passed. */
  readonly at: number;
}

/** Returns where `text` nests arrays/objects deeper than `maxDepth`, or null when it does not. */
export function jsonDepthExcess(text: string, maxDepth: number): DepthExcess | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      depth++;
      if (depth > maxDepth) return { depth, at: i };
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return null;
}

/** Nesting allowed in a terminal's request body or an MQTT RPC request (a session is a few levels deep). */
export const TERMINAL_MAX_DEPTH = 64;
/** Nesting allowed in a pushed payload (rules hold Talang expressions up to 64 deep, inside ~10 levels of envelope). */
export const PUSH_MAX_DEPTH = 128;
