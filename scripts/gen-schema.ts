/**
 * Writes config/schema.json (the published JSON Schema) and config/default.json (the built-in defaults)
 * from src/config/schema.ts, the single source. `npm run gen:schema`; test/unit/config-schema.test.ts
 * fails when either file is stale.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderDefaults, renderSchema } from '../src/config/render.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(path.join(root, 'config', 'schema.json'), renderSchema());
writeFileSync(path.join(root, 'config', 'default.json'), renderDefaults());
console.log('wrote config/schema.json and config/default.json');
