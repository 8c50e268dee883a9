/**
 * A pushed rule must never be able to hang the event loop with a regular expression. The known catastrophic
 * backtracking families, matched against 1,000-character inputs built to make a backtracking engine explode,
 * answer within milliseconds on the linear engine, with the same results as ordinary matching.
 */
import { describe, expect, it } from 'vitest';
import { linearEngine, MAX_MATCH_INPUT, safeRegex } from '../../src/engine/regex-guard.js';
import { Unsupported } from '../../src/engine/paths.js';

const n = MAX_MATCH_INPUT - 1;
/** [pattern, hostile input, expected result]: each takes seconds to years on a backtracking engine. */
const families: [string, string, boolean][] = [
  ['^(a+)+$', `${'a'.repeat(n)}!`, false],
  ['^((a+))+$', `${'a'.repeat(n)}!`, false],
  ['^(a|aa)+$', `${'a'.repeat(n)}!`, false],
  ['^(a|a)*$', `${'a'.repeat(n)}!`, false],
  ['^(a*)*b$', 'a'.repeat(n), false],
  ['^(.*a){12}$', 'a'.repeat(n), true],
  ['^(.*a){12}$', `${'a'.repeat(n)}!`, false],
  ['^(\\w+\\s?)+$', `${'word '.repeat(199)}!`, false],
  ['^(([a-z])+.)+[A-Z]([a-z])+$', `${'a'.repeat(n)}!`, false],
  ['^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$', `${'a'.repeat(n - 1)}@!`, false],
  ['(x+x+)+y', 'x'.repeat(n), false],
  ['^(\\d+)*$', `${'1'.repeat(n)}x`, false],
];

describe('rule regular expressions run in linear time', () => {
  it('this Node.js provides the linear engine', () => {
    expect(linearEngine()).toBe(true);
  });

  it.each(families)('%s on a hostile %#th input answers at once', (pattern, input, expected) => {
    const re = safeRegex(pattern);
    expect(input.length).toBeLessThanOrEqual(MAX_MATCH_INPUT);
    const t0 = performance.now();
    expect(re.test(input)).toBe(expected);
    expect(performance.now() - t0).toBeLessThan(250);
  });

  it('ordinary patterns keep their meaning', () => {
    expect(safeRegex('^SUMMER-[0-9]{4}$').test('SUMMER-2026')).toBe(true);
    expect(safeRegex('^SUMMER-[0-9]{4}$').test('summer-2026')).toBe(false);
    expect(safeRegex('gold|platinum').test('tier:platinum')).toBe(true);
  });

  it.each([
    ['(a)\\1', /back-references or lookaround/],
    ['(?<=a)b', /back-references or lookaround/],
    ['a(?=b)', /back-references or lookaround/],
    ['(unclosed', /invalid/],
    ['a'.repeat(201), /longer than 200/],
  ])('%s is refused as unsupported, with the reason', (pattern, why) => {
    expect(() => safeRegex(pattern)).toThrow(Unsupported);
    expect(() => safeRegex(pattern)).toThrow(why);
  });

  it('a non-string pattern is refused', () => {
    expect(() => safeRegex(42)).toThrow(/literal string/);
  });
});
