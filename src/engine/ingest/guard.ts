import type { ErrorDetail } from '../../core/errors.js';

/** Bounds applied to every pushed data set before it is looked at. */
export interface GuardLimits {
  maxDepth: number;
  maxListLength: number;
  maxStringLength: number;
  maxKeys: number;
  maxNodes: number;
}

export const DEFAULT_GUARD: GuardLimits = { maxDepth: 64, maxListLength: 200_000, maxStringLength: 20_000, maxKeys: 1_000, maxNodes: 20_000_000 };

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Walks a parsed JSON value and reports (up to 20) hostile shapes with JSON pointers: nesting deeper
 * than `maxDepth`, lists/strings/objects over their caps, `__proto__`/`constructor`/`prototype` keys,
 * non-JSON values (functions, NaN/Infinity), too many nodes in total.
 */
export function guardJson(root: unknown, limits: GuardLimits = DEFAULT_GUARD): ErrorDetail[] {
  const errors: ErrorDetail[] = [];
  let nodes = 0;
  const add = (path: string, message: string) => { if (errors.length < 20) errors.push({ path: path || '/', message }); };
  const walk = (v: unknown, path: string, depth: number): void => {
    if (errors.length >= 20) return;
    if (++nodes > limits.maxNodes) { if (nodes === limits.maxNodes + 1) add(path, `payload has more than ${limits.maxNodes} values`); return; }
    if (v === null || typeof v === 'boolean') return;
    if (typeof v === 'number') { if (!Number.isFinite(v)) add(path, 'number is not finite'); return; }
    if (typeof v === 'string') { if (v.length > limits.maxStringLength) add(path, `string longer than ${limits.maxStringLength} characters`); return; }
    if (typeof v !== 'object') { add(path, `not a JSON value (${typeof v})`); return; }
    if (depth >= limits.maxDepth) { add(path, `nested deeper than ${limits.maxDepth} levels`); return; }
    if (Array.isArray(v)) {
      if (v.length > limits.maxListLength) { add(path, `list longer than ${limits.maxListLength} items`); return; }
      for (let i = 0; i < v.length; i++) walk(v[i], `${path}/${i}`, depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) { add(path, 'not a plain JSON object'); return; }
    const keys = Object.keys(v);
    if (keys.length > limits.maxKeys) { add(path, `object with more than ${limits.maxKeys} keys`); return; }
    for (const k of keys) {
      const p = `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (FORBIDDEN.has(k)) { add(p, `forbidden key "${k}"`); continue; }
      walk((v as Record<string, unknown>)[k], p, depth + 1);
    }
  };
  walk(root, '', 0);
  return errors;
}
