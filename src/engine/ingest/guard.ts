import type { ErrorDetail } from '../../core/errors.js';
import { MAX_COLLECTION_ITEMS } from './collections.js';
import type { DataKind } from '../types.js';

/** Bounds applied to every pushed data set before it is looked at. */
export interface GuardLimits {
  maxDepth: number;
  maxListLength: number;
  maxStringLength: number;
  maxKeys: number;
  maxNodes: number;
}

/**
 * Longest list the shop accepts in each kind of local data: a loyalty export or a coupon campaign may pass the
 * default 200,000 (head office checks its pushes against the same caps, src/headoffice/build.ts).
 */
export const LIST_CAPS: Readonly<Record<DataKind, number>> = { rules: 10_000, prices: 200_000, coupons: 1_000_000, loyalty: 1_000_000, catalog: 200_000, collections: MAX_COLLECTION_ITEMS };

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
  // The path is a stack of segments, made into a pointer only for an error: a payload of 100,000 items has
  // millions of values, and a pointer string built for each one (as before) was ~10 MB of garbage per push.
  const segs: string[] = [];
  const pointer = () => segs.map((k) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  const add = (message: string, last?: string) => {
    if (errors.length >= 20) return;
    const path = pointer() + (last === undefined ? '' : `/${last.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    errors.push({ path: path || '/', message });
  };
  const walk = (v: unknown, depth: number): void => {
    if (errors.length >= 20) return;
    if (++nodes > limits.maxNodes) { if (nodes === limits.maxNodes + 1) add(`payload has more than ${limits.maxNodes} values`); return; }
    if (v === null || typeof v === 'boolean') return;
    if (typeof v === 'number') { if (!Number.isFinite(v)) add('number is not finite'); return; }
    if (typeof v === 'string') { if (v.length > limits.maxStringLength) add(`string longer than ${limits.maxStringLength} characters`); return; }
    if (typeof v !== 'object') { add(`not a JSON value (${typeof v})`); return; }
    if (depth >= limits.maxDepth) { add(`nested deeper than ${limits.maxDepth} levels`); return; }
    if (Array.isArray(v)) {
      if (v.length > limits.maxListLength) { add(`list longer than ${limits.maxListLength} items`); return; }
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        // Scalars need no segment on the stack unless they are wrong (checked here, as walk would).
        if (x === null || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) || (typeof x === 'string' && x.length <= limits.maxStringLength)) {
          if (++nodes > limits.maxNodes) { if (nodes === limits.maxNodes + 1) add(`payload has more than ${limits.maxNodes} values`, String(i)); return; }
          continue;
        }
        segs.push(String(i));
        walk(x, depth + 1);
        segs.pop();
      }
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) { add('not a plain JSON object'); return; }
    const keys = Object.keys(v);
    if (keys.length > limits.maxKeys) { add(`object with more than ${limits.maxKeys} keys`); return; }
    for (const k of keys) {
      if (FORBIDDEN.has(k)) { add(`forbidden key "${k}"`, k); continue; }
      const x = (v as Record<string, unknown>)[k];
      if (x === null || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)) || (typeof x === 'string' && x.length <= limits.maxStringLength)) {
        if (++nodes > limits.maxNodes) { if (nodes === limits.maxNodes + 1) add(`payload has more than ${limits.maxNodes} values`, k); return; }
        continue;
      }
      segs.push(k);
      walk(x, depth + 1);
      segs.pop();
    }
  };
  walk(root, 0);
  return errors;
}
