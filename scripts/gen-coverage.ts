/**
 * The coverage table of README "Local evaluation engine": which RulesetV2 block types and `checkAttribute`
 * operators the shop runs offline (src/engine/coverage.ts).
 *   npm run gen:coverage                     prints the table
 *   npm run gen:coverage -- --write          rewrites it in README.md, between the coverage markers
 *   npm run gen:coverage -- --extract SPEC  rewrites src/engine/rulesetv2-vocabulary.json from Talon.One's
 *                                            Management API spec (download https://docs.talon.one/oas/management.yaml
 *                                            and pass its path; without one it exits 2), then prints the table
 * The vocabulary is committed: tests and CI use it, never the spec. From the spec it takes the block types of the
 * `PromotionBlock` and `StrikethroughBlock` discriminators and the `operator` enum of `CheckAttributeBlockBase`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Vocabulary } from '../src/engine/coverage.js';

type Json = Record<string, unknown>;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const VOCABULARY = path.join(root, 'src', 'engine', 'rulesetv2-vocabulary.json');
const README = path.join(root, 'README.md');

function fail(msg: string): never {
  process.stderr.write(`gen:coverage: ${msg}\n`);
  process.exit(1);
}

const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The discriminator values of a `oneOf` schema, in the spec's order. */
function discriminated(schemas: Json, name: string, file: string): string[] {
  const s = schemas[name];
  const mapping = isObj(s) && isObj(s.discriminator) && isObj(s.discriminator.mapping) ? s.discriminator.mapping : undefined;
  if (!mapping || Object.keys(mapping).length === 0) fail(`${file} has no ${name} with a discriminator mapping (the Management API spec has it)`);
  return Object.keys(mapping);
}

/** The `operator` enum of a schema, looked for in its own properties and its `allOf` members. */
function operatorEnum(schemas: Json, name: string, file: string): string[] {
  const s = schemas[name];
  const parts = isObj(s) ? [s, ...(Array.isArray(s.allOf) ? s.allOf : [])] : [];
  for (const p of parts) {
    const op = isObj(p) && isObj(p.properties) ? p.properties.operator : undefined;
    if (isObj(op) && Array.isArray(op.enum) && op.enum.every((x) => typeof x === 'string')) return op.enum as string[];
  }
  return fail(`${file} has no ${name} with an operator enum (the Management API spec has it)`);
}

function extract(specPath: string): Vocabulary {
  const text = readFileSync(specPath, 'utf8');
  const spec = parse(text) as { components?: { schemas?: Json } };
  const schemas = spec.components?.schemas;
  const file = path.basename(specPath);
  if (!isObj(schemas)) fail(`${file} has no components.schemas`);
  const blockTypes = discriminated(schemas, 'PromotionBlock', file);
  const strikethroughBlockTypes = discriminated(schemas, 'StrikethroughBlock', file);
  const checkAttributeOperators = operatorEnum(schemas, 'CheckAttributeBlockBase', file);
  return {
    source: { file, sha256: createHash('sha256').update(text).digest('hex'), schemas: { blockTypes: 'PromotionBlock', checkAttributeOperators: 'CheckAttributeBlockBase', strikethroughBlockTypes: 'StrikethroughBlock' } },
    blockTypes,
    strikethroughBlockTypes,
    checkAttributeOperators,
  };
}

const args = process.argv.slice(2);
if (args.includes('--extract')) {
  const i = args.indexOf('--extract');
  const given = args[i + 1] !== undefined && !args[i + 1]?.startsWith('--') ? args[i + 1] : undefined;
  if (given === undefined) {
    process.stderr.write('usage: npm run gen:coverage -- --extract path/to/management.yaml (Talon.One\'s Management API spec: download https://docs.talon.one/oas/management.yaml)\n');
    process.exit(2);
  }
  const specPath = path.resolve(given);
  const v = extract(specPath);
  writeFileSync(VOCABULARY, `${JSON.stringify(v, null, 2)}\n`);
  process.stderr.write(`gen:coverage: ${path.relative(root, VOCABULARY)} from ${specPath}: ${v.blockTypes.length} block types, ${v.checkAttributeOperators.length} checkAttribute operators\n`);
}

// Imported after a possible --extract, so the table is computed from the file just written.
const { renderCoverage, COVERAGE_START, COVERAGE_END } = await import('../src/engine/coverage.js');
const table = renderCoverage();
if (args.includes('--write')) {
  const readme = readFileSync(README, 'utf8');
  const a = readme.indexOf(COVERAGE_START), b = readme.indexOf(COVERAGE_END);
  if (a < 0 || b < a) fail(`README.md has no ${COVERAGE_START} … ${COVERAGE_END} markers to write between`);
  writeFileSync(README, `${readme.slice(0, a + COVERAGE_START.length)}\n${table}\n${readme.slice(b)}`);
  process.stderr.write('gen:coverage: README.md coverage table rewritten\n');
} else {
  process.stdout.write(`${COVERAGE_START}\n${table}\n${COVERAGE_END}\n`);
}
