/**
 * The part of the Reflect metadata API that tsyringe (a dependency of @peculiar/x509, which `storegate keys tls`
 * creates certificates with) checks for at load and calls: `getMetadata`, `getOwnMetadata`, `defineMetadata`.
 * @peculiar/x509's README asks for a polyfill such as reflect-metadata; this is that subset, installed only where
 * none is present, and loaded only by the certificate tools (src/tls/issue.ts), never by the daemon.
 */
type Target = object;
const tables = new WeakMap<Target, Map<unknown, unknown>>();

function own(target: Target, create: boolean): Map<unknown, unknown> | undefined {
  let m = tables.get(target);
  if (!m && create) {
    m = new Map();
    tables.set(target, m);
  }
  return m;
}

const R = Reflect as unknown as Record<string, unknown>;
if (typeof R.getMetadata !== 'function') {
  R.defineMetadata = (key: unknown, value: unknown, target: Target): void => {
    own(target, true)?.set(key, value);
  };
  R.getOwnMetadata = (key: unknown, target: Target): unknown => own(target, false)?.get(key);
  R.hasOwnMetadata = (key: unknown, target: Target): boolean => own(target, false)?.has(key) ?? false;
  // Metadata is inherited along the prototype chain (classes extending decorated ones).
  R.getMetadata = (key: unknown, target: Target): unknown => {
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t) as Target | null) {
      const m = own(t, false);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  };
  R.hasMetadata = (key: unknown, target: Target): boolean => (R.getMetadata as (k: unknown, t: Target) => unknown)(key, target) !== undefined;
  R.metadata = (key: unknown, value: unknown) => (target: Target) => (R.defineMetadata as (k: unknown, v: unknown, t: Target) => void)(key, value, target);
}

export {};
