/** The README is part of the interface: every error code the code can raise is documented, and no other. */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderConfigReference, REFERENCE_END, REFERENCE_START } from '../../src/config/render.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

describe('README', () => {
  it('documents exactly the error codes of src/core/errors.ts', () => {
    const union = readFileSync(path.join(root, 'src', 'core', 'errors.ts'), 'utf8').match(/export type ErrorCode =([^;]+);/)?.[1] ?? '';
    const inCode = [...union.matchAll(/'(SG_ERR_[A-Z_]+)'/g)].map((m) => m[1]).sort();
    const section = readme.slice(readme.indexOf('## Error codes'));
    const inDocs = [...section.matchAll(/^\| `(SG_ERR_[A-Z_]+)`/gm)].map((m) => m[1]).sort();
    expect(inDocs).toEqual(inCode);
  });

  it('has an up-to-date configuration reference (npm run gen:schema)', () => {
    const a = readme.indexOf(REFERENCE_START) + REFERENCE_START.length;
    const b = readme.indexOf(REFERENCE_END);
    expect(readme.slice(a, b).trim()).toBe(renderConfigReference());
  });
});
