import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadIntegrationSpec } from '../../scripts/talon-spec.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('scripts/talon-spec.ts (the generators read the Talon.One spec named on the command line, no default outside the repo)', () => {
  it('parses the YAML given as the first argument and keeps its text', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'talon-spec-'));
    try {
      const file = path.join(dir, 'integration.yaml');
      const text = 'openapi: 3.1.0\ncomponents:\n  schemas:\n    APIError:\n      type: object\n      required: [title]\n';
      writeFileSync(file, text);
      const spec = loadIntegrationSpec('x.ts', ['node', 'x.ts', file]);
      expect(spec.text).toBe(text);
      expect(spec.schemas).toEqual({ APIError: { type: 'object', required: ['title'] } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['gen-talon-schemas.ts', 'gen-talon-response-schemas.ts'])(
    '%s without an argument exits 2 with a usage line naming the download URL, before writing anything',
    (script) => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join('scripts', script)], { cwd: ROOT, encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`usage: npx tsx scripts/${script} <path/to/integration.yaml>`);
      expect(r.stderr).toContain('https://docs.talon.one/oas/integration.yaml');
      expect(r.stdout).toBe(''); // no "wrote src/…"
    },
  );
});
