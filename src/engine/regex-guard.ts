import { Unsupported } from './paths.js';

/**
 * Compiles a rule's regular expression defensively: length ≤ 200, no back-references, no lookbehind,
 * and no quantified group that itself contains a quantifier (`(a+)+`, the classic catastrophic
 * backtracking shape). Inputs matched are capped at 1,000 characters by the callers.
 */
export function safeRegex(pattern: unknown): RegExp {
  if (typeof pattern !== 'string') throw new Unsupported('regular expression must be a literal string');
  if (pattern.length > 200) throw new Unsupported('regular expression longer than 200 characters');
  if (/\\[1-9]|\\k<|\(\?<[=!]/.test(pattern)) throw new Unsupported('regular expression uses back-references or lookbehind');
  // A group containing a quantifier, followed by a quantifier.
  if (/\([^()]*[+*}][^()]*\)\s*[+*{?]/.test(pattern)) throw new Unsupported('regular expression with nested quantifiers');
  try {
    return new RegExp(pattern);
  } catch {
    throw new Unsupported('invalid regular expression');
  }
}

export const MAX_MATCH_INPUT = 1000;
