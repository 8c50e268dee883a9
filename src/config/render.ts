import { Value } from '@sinclair/typebox/value';
import { ConfigSchema } from './schema.js';

/**
 * The published JSON Schema text (`config/schema.json`). A key with a default may be left out of a config
 * file, so it is dropped from `required` here (TypeBox lists every non-optional key as required).
 */
export function renderSchema(): string {
  const schema = JSON.parse(JSON.stringify(ConfigSchema)) as Record<string, unknown>;
  relaxDefaulted(schema);
  return `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...schema }, null, 2)}\n`;
}

function relaxDefaulted(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(relaxDefaulted);
  if (typeof node !== 'object' || node === null) return;
  const o = node as Record<string, unknown>;
  const props = o.properties as Record<string, Record<string, unknown>> | undefined;
  if (props && Array.isArray(o.required)) {
    o.required = (o.required as string[]).filter((k) => !(props[k] && 'default' in props[k]));
    if ((o.required as string[]).length === 0) delete o.required;
  }
  for (const v of Object.values(o)) relaxDefaulted(v);
}

/**
 * The built-in defaults (`config/default.json`): the schema's defaults, plus the sample local data so that
 * a newcomer's `npm start` has rules and prices to answer from (CONTRACT §1).
 */
export function renderDefaults(): string {
  const d = Value.Default(ConfigSchema, {}) as Record<string, unknown>;
  d.dataFiles = {
    rules: 'sample-rules.json',
    prices: 'sample-prices.json',
    coupons: 'sample-coupons.json',
    loyalty: 'sample-loyalty.json',
  };
  return `${JSON.stringify({ $schema: './schema.json', ...d }, null, 2)}\n`;
}
