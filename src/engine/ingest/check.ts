import type { ErrorDetail } from '../../core/errors.js';
import { parseRfc3339 } from '../../core/rfc3339.js';

/** Small hand validator collecting errors with JSON pointers (fast on 100,000-item payloads). */
export class Check {
  readonly errors: ErrorDetail[] = [];

  fail(path: string, message: string): void {
    if (this.errors.length < 50) this.errors.push({ path: path || '/', message });
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }

  obj(v: unknown, path: string): v is Record<string, unknown> {
    if (v && typeof v === 'object' && !Array.isArray(v)) return true;
    this.fail(path, 'must be an object');
    return false;
  }

  arr(v: unknown, path: string, max = Infinity): v is unknown[] {
    if (!Array.isArray(v)) { this.fail(path, 'must be a list'); return false; }
    if (v.length > max) { this.fail(path, `must have at most ${max} items`); return false; }
    return true;
  }

  int(v: unknown, path: string, min = Number.MIN_SAFE_INTEGER): v is number {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) return true;
    this.fail(path, min > Number.MIN_SAFE_INTEGER ? `must be an integer ≥ ${min}` : 'must be an integer');
    return false;
  }

  num(v: unknown, path: string, min = -Infinity): v is number {
    if (typeof v === 'number' && Number.isFinite(v) && v >= min) return true;
    this.fail(path, min > -Infinity ? `must be a number ≥ ${min}` : 'must be a number');
    return false;
  }

  str(v: unknown, path: string, minLength = 0): v is string {
    if (typeof v === 'string' && v.length >= minLength) return true;
    this.fail(path, minLength > 0 ? 'must be a non-empty string' : 'must be a string');
    return false;
  }

  bool(v: unknown, path: string): v is boolean {
    if (typeof v === 'boolean') return true;
    this.fail(path, 'must be a boolean');
    return false;
  }

  /** Optional (undefined/null allowed) date-time string, RFC 3339 with an offset (`Z` or `±hh:mm`). */
  time(v: unknown, path: string): void {
    if (v === undefined || v === null) return;
    if (typeof v !== 'string' || parseRfc3339(v) === undefined) this.fail(path, 'must be an RFC 3339 date-time with an offset (e.g. 2026-05-01T10:00:00Z)');
  }

  oneOf(v: unknown, path: string, allowed: readonly string[]): void {
    if (v === undefined) return;
    if (typeof v !== 'string' || !allowed.includes(v)) this.fail(path, `must be one of ${allowed.join(', ')}`);
  }

  optStr(v: unknown, path: string): void {
    if (v !== undefined && v !== null) this.str(v, path);
  }

  optObj(v: unknown, path: string): void {
    if (v !== undefined && v !== null) this.obj(v, path);
  }

  version(root: Record<string, unknown>): void {
    this.int(root.version, '/version', 1);
  }
}
