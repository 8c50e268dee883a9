/** The log knows no consumer: nothing under src/journal imports checkout, delivery, the engine or Talon.One's client. */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = path.resolve(import.meta.dirname, '..', '..', 'src', 'journal');

describe('layering', () => {
  it('src/journal imports nothing above it', () => {
    const offending: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      for (const m of readFileSync(path.join(dir, f), 'utf8').matchAll(/from '(\.\.\/[^']+)'/g)) {
        if (/^\.\.\/(checkout|delivery|engine|upstream|http|mqtt|pushes)\//.test(m[1] as string)) offending.push(`${f}: ${m[1]}`);
      }
    }
    expect(offending).toEqual([]);
  });
});
