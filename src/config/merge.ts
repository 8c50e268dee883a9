/**
 * Merging a pushed partial config into a config document, and telling what changed.
 * Objects merge key by key; arrays, scalars and `null` replace (a pushed `terminals` list is the new list).
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) define(out, k, structuredClone(v));
  for (const [k, v] of Object.entries(patch)) define(out, k, Object.hasOwn(base, k) ? deepMerge(base[k], v) : structuredClone(v));
  return out;
}

/**
 * Own, enumerable data properties only: a pushed `{"__proto__": …}` (JSON.parse makes it an own key) stays an
 * ordinary key that schema validation then refuses, instead of rewriting the result's prototype.
 */
function define(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Dotted paths of the leaves that differ between two configs (arrays compare whole). */
export function changedPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    const out: string[] = [];
    for (const k of keys) out.push(...changedPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k));
    return out;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix || '/'];
}

/** True when `path` is `key` or lies under it (`upstream.retry.baseMs` under `upstream.retry`). */
export function under(path: string, key: string): boolean {
  return path === key || path.startsWith(`${key}.`);
}
