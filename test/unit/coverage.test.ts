/**
 * The coverage table (README "Local evaluation engine"): computed from Talon.One's RulesetV2 vocabulary (the
 * committed extract of the Management API spec) and the engine's own lists; the README must show what it computes.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { coverage, renderCoverage, COVERAGE_END, COVERAGE_START, NEEDS_TALON_ONE, TARGET, type Vocabulary } from '../../src/engine/coverage.js';
import { SUPPORTED_BLOCKS, SUPPORTED_OPERATORS } from '../../src/engine/index.js';
import vocabulary from '../../src/engine/rulesetv2-vocabulary.json' with { type: 'json' };

const root = path.resolve(import.meta.dirname, '..', '..');
const vocab = vocabulary as Vocabulary;

describe('coverage of RulesetV2', () => {
  it('the README shows the table the engine gives (npm run gen:coverage -- --write)', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const a = readme.indexOf(COVERAGE_START), b = readme.indexOf(COVERAGE_END);
    expect(a, `README.md needs the markers ${COVERAGE_START} … ${COVERAGE_END}`).toBeGreaterThanOrEqual(0);
    expect(b).toBeGreaterThan(a);
    expect(readme.slice(a + COVERAGE_START.length, b).trim()).toBe(renderCoverage());
  });

  it('the vocabulary is Talon.One\'s: every name the engine runs or classifies is in it, once', () => {
    const r = coverage();
    expect(r.unknown).toEqual([]);
    for (const k of Object.keys(NEEDS_TALON_ONE)) expect(vocab.blockTypes).toContain(k);
    for (const k of vocab.strikethroughBlockTypes) expect(vocab.blockTypes).toContain(k);
    expect(new Set(vocab.blockTypes).size).toBe(vocab.blockTypes.length);
    expect(new Set(vocab.checkAttributeOperators).size).toBe(vocab.checkAttributeOperators.length);
    expect(vocab.blockTypes.length).toBeGreaterThanOrEqual(22);
    expect(vocab.checkAttributeOperators.length).toBeGreaterThanOrEqual(31);
    // Nothing is both run offline and said to need Talon.One's servers.
    for (const t of SUPPORTED_BLOCKS) expect(Object.hasOwn(NEEDS_TALON_ONE, t)).toBe(false);
  });

  it('meets the target: at least 90 % of the block types and of the operators that can run without Talon.One\'s servers', () => {
    const r = coverage();
    expect(r.blockCount.supported).toBeGreaterThanOrEqual(TARGET * r.blockCount.possible);
    expect(r.operatorCount.supported).toBeGreaterThanOrEqual(TARGET * r.operatorCount.possible);
  });

  it('counts what the engine lists: an item it does not run is "not yet" (or needs Talon.One), and a share below 90 % is a MISS', () => {
    const fewer = coverage(vocab, SUPPORTED_BLOCKS.filter((b) => b !== 'updateAttributeValue' && b !== 'updateAudienceMembership'), SUPPORTED_OPERATORS.filter((o) => o !== 'within'));
    const full = coverage();
    expect(fewer.blockCount).toEqual({ ...full.blockCount, supported: full.blockCount.supported - 2 });
    expect(fewer.operatorCount.supported).toBe(full.operatorCount.supported - 1);
    expect(fewer.blocks.find((i) => i.name === 'updateAttributeValue')).toEqual({ name: 'updateAttributeValue', status: 'notYet', reason: 'not run offline yet' });
    expect(fewer.blocks.find((i) => i.name === 'createCoupon')?.status).toBe('needsTalonOne');
    const table = renderCoverage(coverage(vocab, ['group'], []));
    expect(table).toContain('| block types | 1 | 14 | 22 | 7.1 % | MISS |');
    expect(table).toContain('| `within` | not yet: not run offline yet |');
    expect(table).toContain('| `createCoupon` | needs Talon.One: Talon.One makes the coupon code');
    // The share is cut, never rounded up to a pass: 89.99 % is not 90.0 %.
    const v: Vocabulary = { ...vocab, blockTypes: Array.from({ length: 10_000 }, (_, i) => `b${i}`), checkAttributeOperators: [] };
    expect(renderCoverage(coverage(v, v.blockTypes.slice(0, 8_999), []))).toContain('| block types | 8999 | 10000 | 10000 | 89.9 % | MISS |');
  });
});
