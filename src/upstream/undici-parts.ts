/**
 * The two parts of undici the gateway uses, imported from their own modules. undici's index loads fetch,
 * WebSocket, EventSource, the mock agents and the HTTP caches when it is imported: ~3 MB of heap and bytecode
 * the daemon never runs, on a budget of 90 MB. The undici version is pinned exactly (package.json), and
 * test/unit/undici-parts.test.ts checks these are the very classes undici exports.
 */
import type { Pool as PoolClass, errors as UndiciErrors } from 'undici';
import PoolImpl from 'undici/lib/dispatcher/pool.js';
import errorsImpl from 'undici/lib/core/errors.js';

export const Pool: typeof PoolClass = PoolImpl;
export const undiciErrors: typeof UndiciErrors = errorsImpl;
export type Pool = PoolClass;
