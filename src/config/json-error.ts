/**
 * Where a config file's JSON goes wrong, as a line and column a technician can find in an editor. V8's
 * `JSON.parse` message names a character offset for some errors and none for others ("Unexpected token '}'"), so
 * the offset is found here by one pass over the text, run only after `JSON.parse` has failed.
 */

/** Line and column (both from 1) of character `offset`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;

/**
 * Offset of the first character where `text` stops being JSON (the text's length when it ends too early).
 * Iterative (a stack of the open containers), so a deeply nested file cannot overflow it.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const stack: ('{' | '[')[] = [];
  /** A container was just opened: its first member (or its end) comes next, not a comma. */
  let fresh = false;
  const skip = () => {
    while (i < text.length && WS.has(text.charCodeAt(i))) i++;
  };
  const match = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  /** Reads a value: a scalar whole, or the opening of a container (its members follow in the loop). */
  const value = (): boolean => {
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      fresh = true;
      return true;
    }
    if (c === '"') return match(STRING);
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return true;
      }
    }
    return match(NUMBER);
  };
  /** One member: `"key": value` in an object, a value in an array. */
  const member = (top: '{' | '['): boolean => {
    if (top === '[') return value();
    if (text[i] !== '"' || !match(STRING)) return false;
    skip();
    if (text[i] !== ':') return false;
    i++;
    skip();
    return value();
  };
  skip();
  if (!value()) return i;
  for (;;) {
    skip();
    const top = stack[stack.length - 1];
    if (top === undefined) return i < text.length ? i : -1;
    if (text[i] === (top === '{' ? '}' : ']')) {
      stack.pop();
      i++;
      fresh = false;
      continue;
    }
    if (fresh) {
      fresh = false;
      if (!member(top)) return i;
      continue;
    }
    if (text[i] !== ',') return i;
    i++;
    skip();
    if (!member(top)) return i;
  }
}
