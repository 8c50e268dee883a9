/**
 * How much of Talon.One's RulesetV2 the shop runs offline: every block type and every `checkAttribute` operator of
 * Talon.One's Management API spec (extracted to `rulesetv2-vocabulary.json` by `npm run gen:coverage -- --extract`)
 * against what the engine runs (`SUPPORTED_BLOCKS`, `SUPPORTED_OPERATORS`: the engine refuses anything else, so these
 * lists are the engine, not a copy of it). Rendered as the README's coverage table (`npm run gen:coverage`); a unit
 * test fails when the README's table differs.
 *
 * The target of README "Local evaluation engine": at least 90 % of the block types and operators that can run
 * without Talon.One's servers. What cannot, and why, is the one hand-kept part: {@link NEEDS_TALON_ONE}.
 */
import vocabulary from './rulesetv2-vocabulary.json' with { type: 'json' };
import { SUPPORTED_BLOCKS } from './blocks.js';
import { SUPPORTED_OPERATORS } from './check-attribute.js';

export interface Vocabulary {
  source: { file: string; sha256: string; schemas: { blockTypes: string; checkAttributeOperators: string; strikethroughBlockTypes: string } };
  blockTypes: string[];
  strikethroughBlockTypes: string[];
  checkAttributeOperators: string[];
}

/**
 * Block types whose work is done on Talon.One's servers, with the reason: they are outside the target, and a
 * campaign using one is not offline-capable (the shop skips it whole; Talon.One evaluates it when the journalled
 * sale is delivered).
 */
export const NEEDS_TALON_ONE: Readonly<Record<string, string>> = {
  awardGiveaway: 'hands out a code from a giveaway pool that Talon.One holds, each code once across every channel',
  triggerWebhook: 'Talon.One itself calls the webhook (a terminal only gets `callApi` for information)',
  checkReferral: 'referral codes, their advocates and limits are Talon.One\'s and are not synced to shops',
  createReferral: 'Talon.One makes the referral code, unique across the Application',
  createCoupon: 'Talon.One makes the coupon code, unique across the Application, and keeps it for the customer',
  reserveCoupon: 'coupon reservations are held by Talon.One for every channel',
  updateAchievementProgress: 'a customer\'s achievement progress is counted by Talon.One across every channel',
  checkAchievement: 'a customer\'s achievement progress is counted by Talon.One across every channel',
};

/** Why an item that could run offline does not yet (shown only while it is not supported). */
const NOT_YET: Readonly<Record<string, string>> = {
  checkEvent: 'its event type names for session events are not public (the spec\'s one example is `profileCreated`); tracked custom events are evaluated by Talon.One when the journalled event is delivered',
};

export type CoverageStatus = 'offline' | 'needsTalonOne' | 'notYet';

export interface CoverageItem {
  name: string;
  status: CoverageStatus;
  reason?: string;
}

export interface CoverageCount {
  /** run offline */
  supported: number;
  /** can run without Talon.One's servers (the target's denominator) */
  possible: number;
  /** in RulesetV2 */
  total: number;
}

export interface CoverageReport {
  vocabulary: Vocabulary;
  blocks: CoverageItem[];
  operators: CoverageItem[];
  blockCount: CoverageCount;
  operatorCount: CoverageCount;
  /** Engine names that RulesetV2 does not have (a typo, or a stale vocabulary): the unit test wants none. */
  unknown: string[];
}

/** The target: share of what can run without Talon.One's servers. */
export const TARGET = 0.9;

function classify(names: readonly string[], supported: ReadonlySet<string>, needsServers: Readonly<Record<string, string>>): CoverageItem[] {
  return names.map((name) => {
    if (supported.has(name)) return { name, status: 'offline' };
    if (Object.hasOwn(needsServers, name)) return { name, status: 'needsTalonOne', reason: needsServers[name] as string };
    return { name, status: 'notYet', reason: Object.hasOwn(NOT_YET, name) ? (NOT_YET[name] as string) : 'not run offline yet' };
  });
}

function count(items: readonly CoverageItem[]): CoverageCount {
  return {
    supported: items.filter((i) => i.status === 'offline').length,
    possible: items.filter((i) => i.status !== 'needsTalonOne').length,
    total: items.length,
  };
}

export function coverage(vocab: Vocabulary = vocabulary as Vocabulary, blocks: readonly string[] = SUPPORTED_BLOCKS, operators: readonly string[] = SUPPORTED_OPERATORS): CoverageReport {
  const b = classify(vocab.blockTypes, new Set(blocks), NEEDS_TALON_ONE);
  const o = classify(vocab.checkAttributeOperators, new Set(operators), {});
  const known = new Set([...vocab.blockTypes, ...vocab.checkAttributeOperators]);
  return { vocabulary: vocab, blocks: b, operators: o, blockCount: count(b), operatorCount: count(o), unknown: [...blocks, ...operators].filter((n) => !known.has(n)) };
}

const pct = (c: CoverageCount) => (c.possible === 0 ? 100 : (100 * c.supported) / c.possible);
const share = (c: CoverageCount) => `${(Math.floor(pct(c) * 10) / 10).toFixed(1)} %`;
const verdict = (c: CoverageCount) => (c.supported >= TARGET * c.possible ? 'PASS' : 'MISS');
const code = (s: string) => `\`${s}\``;

export const COVERAGE_START = '<!-- coverage:start (generated by npm run gen:coverage) -->';
export const COVERAGE_END = '<!-- coverage:end -->';

/** The README's coverage table (the text between {@link COVERAGE_START} and {@link COVERAGE_END}). */
export function renderCoverage(r: CoverageReport = coverage()): string {
  const both: CoverageCount = {
    supported: r.blockCount.supported + r.operatorCount.supported,
    possible: r.blockCount.possible + r.operatorCount.possible,
    total: r.blockCount.total + r.operatorCount.total,
  };
  const row = (what: string, c: CoverageCount) => `| ${what} | ${c.supported} | ${c.possible} | ${c.total} | ${share(c)} | ${verdict(c)} |`;
  const out: string[] = [
    `RulesetV2 as Talon.One's Management API spec defines it (the \`${r.vocabulary.source.schemas.blockTypes}\` types and the`,
    `\`${r.vocabulary.source.schemas.checkAttributeOperators}\` operators, extracted to \`src/engine/rulesetv2-vocabulary.json\`),`,
    'against what the engine runs (`SUPPORTED_BLOCKS`, `SUPPORTED_OPERATORS`). Target: at least 90 % of the block types',
    'and of the operators that can run without Talon.One\'s servers.',
    '',
    '| | run offline | can run without Talon.One\'s servers | in RulesetV2 | share of those that can | target ≥ 90 % |',
    '| --- | --- | --- | --- | --- | --- |',
    row('block types', r.blockCount),
    row('`checkAttribute` operators', r.operatorCount),
    row('both', both),
    '',
    '| block type | offline |',
    '| --- | --- |',
    ...r.blocks.map((i) => `| ${code(i.name)} | ${i.status === 'offline' ? '✓' : `${i.status === 'needsTalonOne' ? 'needs Talon.One' : 'not yet'}: ${i.reason}`} |`),
    '',
    '| `checkAttribute` operator | offline |',
    '| --- | --- |',
  ];
  const ok = r.operators.filter((i) => i.status === 'offline');
  if (ok.length > 0) out.push(`| ${ok.map((i) => code(i.name)).join(', ')} | ✓ |`);
  for (const i of r.operators) if (i.status !== 'offline') out.push(`| ${code(i.name)} | ${i.status === 'needsTalonOne' ? 'needs Talon.One' : 'not yet'}: ${i.reason} |`);
  out.push(
    '',
    `Strikethrough rules (blocks ${r.vocabulary.strikethroughBlockTypes.map(code).join(', ')}) are not evaluated in the shop: the pushed price book`,
    'carries their results. Limits inside supported blocks (targets, operators, balance kinds): src/engine/README.md, "Coverage".',
  );
  return out.join('\n');
}
