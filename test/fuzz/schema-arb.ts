/**
 * Request bodies generated from Talon.One's own request schemas (src/http/talon-request-schemas.json): most
 * fields get a value of the right type (realistic where the field name is known, so the rule engine, the
 * ledger and the journal see them), and any field may instead get a hostile value of another type, an extra
 * hostile key, or lose a required key. Wrong types therefore show up at every field of the session, return,
 * event and profile schemas, one or a few at a time, next to otherwise valid data.
 */
import fc from 'fast-check';
import talonSchemas from '../../src/http/talon-request-schemas.json' with { type: 'json' };
import { REALISTIC, depthAroundBudget, hostileKey, hostileNumber, hostileString, hostileValue, nested, objectOf } from './values.js';

interface Schema {
  type?: string;
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  additionalProperties?: boolean | Schema;
  enum?: string[];
  minimum?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  format?: string;
  readOnly?: boolean;
}

const DEFS = talonSchemas.definitions as unknown as Record<string, Schema>;
export type BodySchemaName = keyof typeof talonSchemas.roots;

function resolve(s: Schema): Schema {
  if (!s.$ref) return s;
  const name = s.$ref.replace('#/definitions/', '');
  const d = DEFS[name];
  if (!d) throw new Error(`unknown schema ref ${s.$ref}`);
  return d;
}

/** How often a field gets a hostile value instead of one of its type (1 in N). */
const HOSTILE_ONE_IN = 12;

function stringFor(field: string, s: Schema): fc.Arbitrary<string> {
  if (s.enum) return fc.constantFrom(...s.enum);
  const real = REALISTIC[field];
  const dates = s.format === 'date-time' ? [fc.constantFrom('2026-05-01T10:00:00Z', '2026-05-01T10:00:00+02:00', '2026-05-01T10:00:00', 'yesterday')] : [];
  return fc.oneof(
    ...(real ? [{ weight: 6, arbitrary: fc.constantFrom(...real) }] : []),
    ...dates.map((arbitrary) => ({ weight: 3, arbitrary })),
    { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
    { weight: 1, arbitrary: hostileString },
  );
}

/** Free-form `attributes`: JSON of any shape, hostile keys, depths just under and past the budget. */
const attributesArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(fc.constantFrom('region', 'channel', 'vip', 'birthday', 'Total', 'x'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }) },
  { weight: 2, arbitrary: fc.array(fc.tuple(hostileKey, hostileValue), { maxLength: 5 }).map(objectOf) },
  { weight: 1, arbitrary: depthAroundBudget.map((d) => ({ deep: nested(d) })) },
  { weight: 1, arbitrary: depthAroundBudget.map((d) => ({ deep: nested(d, '{"a":') })) },
);

const BIG_ARRAY_CHARS = 2_000_000;
function jsonLength(x: unknown): number {
  return (JSON.stringify(x) ?? 'null').length + 1;
}

/** An arbitrary for one schema node; `field` is the property name it sits under (for realistic values). */
export function fromSchema(node: Schema, field = ''): fc.Arbitrary<unknown> {
  const s = resolve(node);
  const typed = typedFor(s, field);
  return fc.oneof({ weight: HOSTILE_ONE_IN - 1, arbitrary: typed }, { weight: 1, arbitrary: hostileValue });
}

function typedFor(s: Schema, field: string): fc.Arbitrary<unknown> {
  if (field === 'attributes') return attributesArb;
  switch (s.type) {
    case 'string':
      return stringFor(field, s);
    case 'integer':
      return fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: s.minimum ?? -3, max: 12 }) },
        { weight: 1, arbitrary: fc.constantFrom(0, -1, 2 ** 31, Number.MAX_SAFE_INTEGER, 1e21) },
        { weight: 1, arbitrary: hostileNumber },
      );
    case 'number':
      return fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(0, 0.01, 9.99, 20, 25.5, 30, 49.99, 50, 100, 1000) },
        { weight: 2, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
        { weight: 1, arbitrary: hostileNumber },
      );
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const item = s.items ? fromSchema(s.items, field) : hostileValue;
      const max = s.maxItems !== undefined ? s.maxItems + 1 : 5;
      return fc.oneof(
        { weight: 8, arbitrary: fc.array(item, { maxLength: max }) },
        // Big arrays of one (valid-looking) element: the engine, the journal and the response builder at scale.
        // Capped at ~2 M characters of JSON (twice the default body limit, so it is still refused as too large):
        // 40,000 copies of an item that holds a big array itself made bodies of 200 M characters, which took
        // seconds to generate and could pass V8's maximum string length.
        { weight: 1, arbitrary: fc.tuple(item, fc.constantFrom(200, 2000, 10_000, 40_000)).map(([x, n]) => new Array(Math.max(1, Math.min(n, Math.floor(BIG_ARRAY_CHARS / jsonLength(x))))).fill(x)) },
      );
    }
    case 'object':
    default: {
      if (!s.properties) {
        if (typeof s.additionalProperties === 'object') {
          return fc.dictionary(fc.oneof(fc.constantFrom('shipping', 'fee', 'x'), hostileKey), fromSchema(s.additionalProperties, field), { maxKeys: 3 });
        }
        return attributesArb;
      }
      const props = Object.entries(s.properties).filter(([, p]) => !p.readOnly); // readOnly ones: added below, rarely
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, p] of props) model[k] = fromSchema(p, k);
      const required = (s.required ?? []).filter((k) => k in model);
      const base = fc.record(model, { requiredKeys: required as never[] });
      // Sometimes: a readOnly field set, an unknown or poisonous key added, or a required key dropped.
      const readOnly = Object.entries(s.properties).filter(([, p]) => p.readOnly);
      return fc
        .tuple(
          base,
          fc.option(fc.tuple(hostileKey, hostileValue), { freq: 12 }),
          fc.option(fc.constantFrom(...(required.length > 0 ? required : ['-'])), { freq: 20 }),
          readOnly.length > 0 ? fc.option(fc.constantFrom(...readOnly.map(([k]) => k)), { freq: 20 }) : fc.constant(null),
        )
        .map(([o, extra, drop, ro]) => {
          const entries: [string, unknown][] = Object.entries(o as Record<string, unknown>);
          if (extra) entries.push([extra[0], extra[1]]);
          if (ro) entries.push([ro, 1]);
          return objectOf(drop ? entries.filter(([k]) => k !== drop) : entries);
        });
    }
  }
}

/** A body for one terminal route, from its Talon.One root schema. */
export function bodyFromSchema(root: BodySchemaName): fc.Arbitrary<unknown> {
  const ref = talonSchemas.roots[root];
  return typedFor(resolve({ $ref: ref }), '');
}
