import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DataError, type ErrorDetail } from '../core/errors.js';
import { parseFallback, type FallbackRules } from '../engine/fallback.js';
import type { Config } from './schema.js';

/**
 * `offline.fallback` (README "Fallback promotions"): the rule set is read and checked when the config is
 * validated — at start and for every pushed config — so a broken one stops the start (exit 2) or refuses the
 * push, with the JSON path of each problem. The parsed set is kept with the config object it came from.
 */
const PARSED = new WeakMap<object, FallbackRules>();

/** Resolves `rulesFile` against the config file's folder, reads and checks the set; problems go to `details`. */
export async function checkFallbackConfig(config: Config, baseDir: string, details: ErrorDetail[]): Promise<void> {
  const fb = config.offline.fallback;
  if (fb.rules !== null && fb.rulesFile !== null) {
    details.push({ path: '/offline/fallback', message: 'set rules or rulesFile, not both' });
    return;
  }
  let raw: unknown = fb.rules;
  let where = '/offline/fallback/rules';
  if (fb.rulesFile !== null) {
    fb.rulesFile = path.resolve(baseDir, fb.rulesFile);
    where = `/offline/fallback/rulesFile (${fb.rulesFile})`;
    try {
      raw = JSON.parse(await readFile(fb.rulesFile, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      details.push({ path: '/offline/fallback/rulesFile', message: code === 'ENOENT' ? `${fb.rulesFile} does not exist` : code ? `cannot read ${fb.rulesFile}: ${code}` : `${fb.rulesFile} is not valid JSON: ${(e as Error).message.split('\n')[0]}` });
      return;
    }
  }
  if (raw === null) return;
  try {
    PARSED.set(fb, parseFallback(raw, fb.maxRulesAgeSec));
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    for (const d of e.details.slice(0, 20)) details.push({ path: `${where}${d.path === '/' ? '' : d.path ?? ''}`, message: d.message });
  }
}

/** The fallback promotions of a validated config, or null when none are configured. */
export function fallbackOf(config: Readonly<Config>): FallbackRules | null {
  return PARSED.get(config.offline.fallback) ?? null;
}
