/**
 * The routes' body schemas (Talon.One's request schemas, src/http/talon-request-schemas.json) are valid JSON
 * Schema. The daemon's Ajv no longer checks that at every start (`validateSchema: false`, src/http/app.ts
 * AJV_OPTIONS): this is that check, once, with fastify's own compiler and the app's other options.
 */
import AjvCompiler from '@fastify/ajv-compiler';
import { describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/checkout/operations.js';
import { AJV_OPTIONS, TALON_SCHEMA_ID } from '../../src/http/app.js';
import talonSchemas from '../../src/http/talon-request-schemas.json' with { type: 'json' };

const CHECKED = { customOptions: { ...AJV_OPTIONS.customOptions, validateSchema: true } };

function compileAll(definitions: Record<string, unknown>): number {
  const compile = AjvCompiler()({ [TALON_SCHEMA_ID]: { $id: TALON_SCHEMA_ID, definitions } }, CHECKED);
  let n = 0;
  for (const spec of OPERATIONS) {
    if (!spec.bodySchema) continue;
    compile({ schema: { $ref: `${TALON_SCHEMA_ID}${talonSchemas.roots[spec.bodySchema]}` }, method: spec.method, url: spec.url, httpPart: 'body' });
    n++;
  }
  return n;
}

describe('route schemas', () => {
  it('the daemon skips the meta-schema check: that is what this file is for', () => {
    expect(AJV_OPTIONS.customOptions.validateSchema).toBe(false);
  });

  it('every terminal route body schema passes the JSON Schema meta-schema and compiles', () => {
    expect(compileAll(talonSchemas.definitions)).toBe(OPERATIONS.filter((s) => s.bodySchema).length);
  });

  it('a definition that breaks the meta-schema is refused by this check', () => {
    const broken = structuredClone(talonSchemas.definitions) as Record<string, { properties?: Record<string, unknown> }>;
    const [name, def] = Object.entries(broken).find(([, d]) => d.properties) as [string, { properties: Record<string, unknown> }];
    def.properties.extra = { type: 'string', maxLength: -1 };
    expect(() => compileAll(broken), name).toThrow(/schema is invalid/);
  });
});
