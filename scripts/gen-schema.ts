/**
 * Writes config/schema.json (the published JSON Schema), config/default.json (the built-in defaults) and the
 * README's configuration reference
 * from src/config/schema.ts, the single source. `npm run gen:schema`; test/unit/config-schema.test.ts
 * fails when either file is stale.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDefaults, renderSchema, withConfigReference } from '../src/config/render.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(path.join(root, 'config', 'schema.json'), renderSchema());
writeFileSync(path.join(root, 'config', 'default.json'), renderDefaults());
const readme = path.join(root, 'README.md');
if (existsSync(readme)) writeFileSync(readme, withConfigReference(readFileSync(readme, 'utf8')));
console.log('wrote config/schema.json, config/default.json and the README configuration reference');
